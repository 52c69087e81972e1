"""An offline, strict stand-in for one Clerk instance's OAuth endpoints.

It lets the demo, the tests and the benchmarks run with no Clerk account and no network. It
plays Clerk, so it imports nothing from the rest of ``flask_clerk_mcp``. It answers on Clerk's
paths with Clerk's fields and error shapes (the project's Clerk reference, §1):
thin introspection (``active``, ``client_id``, ``iat``, ``scope``, ``sub``, ``org_id``; never
``exp``, ``aud`` or ``token_type``), userinfo claims by scope, and access tokens as Clerk's new
OAuth applications issue them: RS256 JWTs with ``typ: at+jwt``, keys at
``/.well-known/jwks.json`` (``access_token_format="opaque"`` or ``--token-format opaque`` gives
the older applications' ``oat_…`` tokens instead).

Public surface::

    create_app(config: EmulatorConfig | None = None) -> Flask
    EmulatorConfig, OAuthClient, DemoUser
    EmulatorServer(config=None, *, host="127.0.0.1", port=0, quiet=True)
    python -m flask_clerk_mcp.emulator [--host H] [--port P] [--latency-ms N]
        [--client-id ID [--client-secret S]] [--redirect-uri URI ...] [--no-dcr]
        [--token-format jwt|opaque] [--no-jwt-revocation]
    flask_clerk_mcp.emulator.driver.sign_in_with_pkce(...)
    flask_clerk_mcp.emulator.driver.authorize_in_browserless_flow(...)

Choices where Clerk's behaviour is undocumented ([unverified] in the reference). Each is the
stricter or the more awkward-for-the-client reading, so code that passes here does not rely on
Clerk being lenient:

- Authorization responses carry ``code`` and ``state`` but no RFC 9207 ``iss``: Clerk does
  not advertise ``authorization_response_iss_parameter_supported``. Turn it on with
  ``EmulatorConfig(authorization_response_iss=True)`` (then it is also advertised).
- ``redirect_uri`` is required at ``/oauth/authorize`` and matched exactly, loopback ports
  included (no RFC 8252 port leniency). Unknown client or redirect URI: a 400 error page,
  never a redirect. ``state`` must have 8+ characters and may be omitted only with PKCE.
  ``code_challenge`` without ``code_challenge_method`` means ``plain`` and is refused.
- RFC 8707 ``resource`` (one absolute URI without fragment, at authorize and/or token) becomes
  the JWT access token's ``aud``, as Clerk is seen doing for MCP servers (field update
  2026-12, unverified). A second ``resource``, a malformed one, or one at the token endpoint
  that differs from the grant's is ``invalid_target``. Without ``resource`` the JWT carries no
  ``aud`` (Clerk documents none; its SDK reads ``aud`` only when present), so the audience is
  its ``client_id``. Introspection never shows ``aud`` (Clerk's schema has none).
- JWT access tokens carry ``iss``, ``sub``, ``client_id``, ``scope``, ``iat``, ``nbf``,
  ``exp``, ``jti`` (``oat_…``) and ``aud`` as above; no ``azp`` and no profile claims. Their
  header has ``alg: RS256``, ``typ: at+jwt`` and the signing key's ``kid``. The emulator
  remembers every token it issued, so introspection, userinfo and revocation treat both
  formats alike. Revoking a JWT access token makes it inactive at introspection by default;
  Clerk documents ``400 unsupported_token_type`` instead, which
  ``EmulatorConfig(jwt_access_tokens_revocable=False)`` reproduces. Revoking the refresh
  token ends the grant's JWTs in either case.
- Signing keys rotate on demand (operator controls): the old key either stays published in
  the JWKS (its tokens still verify) or leaves at once (its tokens meet an unknown ``kid``).
- A public client names itself with ``client_id`` in the body; sending it any credentials
  (even an empty-secret HTTP Basic header) is ``invalid_client``.
- The emulator keeps no sign-in session: every authorization shows the sign-in page, and
  ``prompt=none`` answers ``error=login_required``. Consent follows Clerk's rule: shown unless
  ``consent_required=False`` *and* DCR is off (DCR forces consent), or ``prompt=consent``.
  ``user:org:read`` uses the user's one organization (no org picker).
- Authorization codes live 10 minutes and are consumed on first presentation whatever the
  outcome; a second presentation answers ``invalid_grant`` and revokes every token issued from
  that code (RFC 6749 §4.1.2). A ``code_verifier`` sent for a code issued without a challenge
  is refused (PKCE downgrade).
- A refresh token is issued only when ``offline_access`` was granted (Clerk's examples show
  one regardless; relying on that would be a bug). Refresh tokens never expire and rotate:
  each works once; the new one keeps the original scope, and a narrower ``scope`` applies only
  to the new access token. Replaying a rotated refresh token is ``invalid_grant`` without
  revoking the family. Refresh tokens are random strings with no prefix.
- ``id_token`` (only with ``openid``) is a real RS256 JWT (``typ: JWT``) signed by the same
  per-emulator key as access tokens, made on first use.
- Introspection needs HTTP Basic from a registered confidential client (body credentials and
  public clients get 401, Clerk's ``{"errors": [...]}`` shape). It answers ``active: true``
  for tokens of *other* clients too (with their real ``client_id``) and for refresh tokens;
  ``token_type_hint`` changes nothing. The optional ``scope`` parameter makes a token lacking
  one of those scopes ``active: false``.
- Userinfo answers 401 (Clerk shape, ``WWW-Authenticate: Bearer error="invalid_token"``) for
  refresh tokens and unknown, expired or revoked tokens. ``preferred_username`` is given, not
  the deprecated ``username``.
- Revocation needs HTTP Basic. Revoking a refresh token revokes its grant's access tokens
  too (RFC 7009 §2.1); revoking an access token revokes only it. A token of another client is
  refused with 400 ``invalid_grant`` and left alone; an unknown token is a 200.
- DCR accepts Clerk's six schema fields plus the standard RFC 7591 names MCP clients send
  (``grant_types``, ``response_types``, ``application_type``, ``contacts``, ``tos_uri``,
  ``policy_uri``, ``software_id``, ``software_version``), validating values; anything else is
  ``invalid_client_metadata``. ``dcr_strict_schema=True`` allows Clerk's six only. Redirect
  URIs must be absolute http(s) URLs. A registered ``scope`` (default ``openid profile email
  offline_access``) bounds what the client may request. Disabled DCR answers 422.
- Discovery documents and the JWKS send ``Access-Control-Allow-Origin: *``; the other
  endpoints send no CORS headers.

Operator controls live under ``/__emulator/`` (a path Clerk never uses); see
``operator_routes.py`` and README.md next to this file.
"""

from __future__ import annotations

from .app import create_app, emulator_of
from .config import DemoUser, EmulatorConfig, OAuthClient
from .server import EmulatorServer

__all__ = [
    "DemoUser",
    "EmulatorConfig",
    "EmulatorServer",
    "OAuthClient",
    "create_app",
    "emulator_of",
]
