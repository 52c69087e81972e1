"""``GET /oauth/authorize``: check an MCP client's authorization request, then ask consent.

The checks come in two tiers (RFC 6749 §4.1.2.1):

1. **Before the redirect URI is trusted** — a missing or unknown ``client_id`` (a DCR client
   whose record is gone, a CIMD document that cannot be fetched or is invalid), a
   ``redirect_uri`` that is not one the client registered (exactly; a loopback port may vary,
   RFC 8252 §7.3), a repeated ``client_id`` or ``redirect_uri``: answered on **our own error
   page**, never by a redirect, since the URI may be an attacker's.
2. **After** — ``response_type`` other than ``code``, a missing PKCE challenge or a method
   other than ``S256`` (OAuth 2.1), a ``resource`` (RFC 8707) that is not this server's
   (``CLERK_BASE_URL + CLERK_MCP_PATH``, or ``CLERK_BASE_URL``), a malformed ``scope``,
   ``prompt=none`` (consent is always asked): an error **redirect** to the client carrying
   ``state`` and ``iss`` (RFC 9207), like every authorization response of the proxy.

Scopes are passed through to Clerk, which grants or refuses them (``invalid_scope`` comes
back to the client through the callback). Without ``scope`` the request asks for
``CLERK_REQUIRED_SCOPES``, plus ``offline_access`` when ``CLERK_OFFLINE_ACCESS`` is on and the
client registered the refresh grant. A client's registered ``scope`` does not narrow what it
may ask: MCP clients step up (403 ``insufficient_scope``) to scopes they did not know at
registration, and the consent page shows the user exactly what is asked.
"""

from __future__ import annotations

import re

from flask import request
from flask.typing import ResponseReturnValue

from ..login.pages import error_page
from ..settings import Settings
from ..state import get_state
from .authorization_request import AuthorizationRequest
from .cimd import CIMDError
from .client_metadata import ClientRecord
from .consent import render_consent
from .inbound import QUERY_LIMIT, single_values
from .oauth_errors import OAuthError, authorization_error_redirect
from .proxy import proxy_state
from .redirects import RedirectURIError

MAX_STATE = 1024
MAX_SCOPES = 30
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")


class UntrustedRedirect(Exception):
    """Tier 1: shown on our own page, never redirected."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def this_servers_resources(settings: Settings) -> tuple[str, ...]:
    """The ``resource`` values that name this server (RFC 8707): the MCP endpoint, the root."""
    return (settings.mcp_resource, settings.base_url)


def trusted_client(params: dict[str, str]) -> tuple[ClientRecord, str, bool]:
    """Tier 1: the client and its matched redirect URI (and whether one was sent)."""
    client_id = params.get("client_id")
    if not client_id:
        raise UntrustedRedirect("The request names no client (client_id is missing).")
    proxy = proxy_state()
    try:
        client = proxy.registry.get(client_id)
    except CIMDError as exc:
        raise UntrustedRedirect(
            f"The client's metadata document cannot be used: {exc.description}."
        ) from None
    if client is None:
        raise UntrustedRedirect(
            "This client is not known here (its registration may have expired): "
            "let your MCP client connect again so it registers anew."
        )
    requested = params.get("redirect_uri")
    try:
        redirect_uri = client.match_redirect_uri(requested, proxy.rules)
    except RedirectURIError as exc:
        raise UntrustedRedirect(f"The redirect URI is not accepted: {exc.description}.") from None
    return client, redirect_uri, requested is not None


def check_request(
    params: dict[str, str], client: ClientRecord, redirect_uri: str, sent: bool
) -> AuthorizationRequest:
    """Tier 2: the rest of the request; ``OAuthError`` to be redirected to the client."""
    settings = get_state().settings
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    challenge = params.get("code_challenge")
    if not challenge:
        raise OAuthError("invalid_request", "PKCE is required: send code_challenge (S256)")
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise OAuthError("invalid_request", "code_challenge is not an S256 challenge")
    resource = params.get("resource")
    if resource is not None and resource not in this_servers_resources(settings):
        raise OAuthError("invalid_target", "resource is not this server")
    if params.get("prompt") == "none":
        raise OAuthError("consent_required", "consent is asked on every authorization")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        redirect_uri_sent=sent,
        state=params.get("state"),
        code_challenge=challenge,
        scopes=requested_scopes(params.get("scope"), client, settings),
        resource=resource,
    )


def requested_scopes(
    scope: str | None, client: ClientRecord, settings: Settings
) -> tuple[str, ...]:
    """The scopes to ask Clerk for (see the module docstring)."""
    if scope is None or not scope.strip():
        scopes = settings.required_scopes
        if settings.offline_access and client.allows_grant("refresh_token"):
            scopes = (*scopes, "offline_access")
        return tuple(dict.fromkeys(scopes))
    tokens = scope.split(" ")
    if len(tokens) > MAX_SCOPES or not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise OAuthError("invalid_scope", "scope must be space-separated scope tokens")
    return tuple(dict.fromkeys(tokens))


def authorize() -> ResponseReturnValue:
    """The endpoint: tier 1 on our page, tier 2 redirected, then the consent page."""
    settings = get_state().settings
    if len(request.query_string) > QUERY_LIMIT:
        return _refused("The authorization request is too large.", 414)
    lists = request.args.lists()
    values = dict(lists)
    for name in ("client_id", "redirect_uri"):
        if len(values.get(name, [])) > 1:
            return _refused(f"The request repeats {name}.")
    first = {name: items[0] for name, items in values.items()}
    try:
        client, redirect_uri, sent = trusted_client(first)
    except UntrustedRedirect as exc:
        return _refused(exc.detail)
    state = first.get("state")
    if state is not None and len(state) > MAX_STATE:  # not echoed: the error says why
        error = OAuthError("invalid_request", f"state is limited to {MAX_STATE} characters")
        return authorization_error_redirect(
            redirect_uri, error, state=None, issuer=settings.base_url
        )
    try:
        params = single_values(values.items())
        checked = check_request(params, client, redirect_uri, sent)
    except OAuthError as exc:
        return authorization_error_redirect(
            redirect_uri, exc, state=state, issuer=settings.base_url
        )
    return render_consent(checked, client)


def _refused(detail: str, status: int = 400) -> ResponseReturnValue:
    return error_page(status, "This authorization request cannot be served", detail, retry=False)
