"""The proxy's handler of the shared callback (transaction kind ``"mcp_proxy"``).

By the time it runs, ``login.transactions.callback`` has consumed the transaction (once:
``pop``), checked that this browser is the one that approved the consent (the binding
cookie) and that ``iss``, when Clerk sent it, is Clerk's. What is left:

- the client and its redirect URI are checked again (a registration may have expired, the
  operator may have tightened ``CLERK_ALLOWED_REDIRECT_URIS``): failing that, our error page;
- Clerk's error, if any, goes back to the client as a known OAuth code (never Clerk's
  ``error_description``, which is not ours to vouch for) with ``state`` and ``iss``;
- the code is exchanged at Clerk (``login.oauth.exchange_code``: our secret, our PKCE
  verifier, the client's ``resource``), and Clerk's tokens are stored encrypted under a new
  one-time proxy code (``grants.CODE_TTL``, 5 minutes) that goes to the client with ``state``
  and ``iss`` (RFC 9207). The tokens themselves never travel through the browser.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask.typing import ResponseReturnValue

from ..login import oauth
from ..login.pages import error_page
from ..state import get_state, require_store
from .authorization_request import AuthorizationRequest
from .grants import CODE_TTL, code_key, tokens_to_json
from .oauth_errors import OAuthError, authorization_error_redirect, authorization_redirect
from .proxy import recheck_client

log = logging.getLogger("flask_clerk_mcp")

#: Clerk's authorization errors passed on to the client as they are; anything else is
#: ``server_error`` (Clerk refusing *our* request is not the client's fault).
FORWARDED_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_scope",
        "invalid_target",
        "temporarily_unavailable",
        "server_error",
        "login_required",
        "consent_required",
        "interaction_required",
    }
)


def complete_authorization(
    transaction: dict[str, Any], args: Mapping[str, str]
) -> ResponseReturnValue:
    """Finish one MCP client's authorization (see the module docstring)."""
    req = AuthorizationRequest.from_json(transaction.get("request"))
    verifier = transaction.get("verifier")
    if req is None or not isinstance(verifier, str):
        return _page("The authorization record is damaged; start again from your MCP client.")
    if recheck_client(req.client_id, req.redirect_uri) is None:
        return _page("The client or its redirect URI is no longer accepted.")
    settings = get_state().settings
    issuer = settings.base_url

    def fail(error: str, description: str) -> ResponseReturnValue:
        return authorization_error_redirect(
            req.redirect_uri, OAuthError(error, description), state=req.state, issuer=issuer
        )

    if "error" in args:
        code = args.get("error", "")
        if code not in FORWARDED_ERRORS:
            return fail("server_error", "Clerk refused the authorization request")
        return fail(code, f"Clerk answered {code}")
    upstream_code = args.get("code")
    if not upstream_code:
        return fail("server_error", "Clerk sent no authorization code")
    state = get_state()
    try:
        tokens = oauth.exchange_code(
            settings,
            state.upstream,
            code=upstream_code,
            redirect_uri=settings.base_url + settings.redirect_path,
            verifier=verifier,
            resource=req.resource,
        )
    except oauth.TokenRefused as exc:
        log.info("Clerk refused the proxy's code exchange (%s)", exc.error)
        return fail("server_error", "Clerk refused to exchange the authorization code")
    except oauth.TokenEndpointUnavailable:
        return fail("temporarily_unavailable", "Clerk is unavailable; try again shortly")
    code = secrets.token_urlsafe(32)
    record = {"request": req.to_json(), "tokens": tokens_to_json(tokens)}
    require_store().put(code_key(code), record, CODE_TTL)
    log.info("authorization code issued to MCP client %s", req.client_id)
    answer = {"code": code, "state": req.state, "iss": issuer}
    return authorization_redirect(req.redirect_uri, answer)


def _page(detail: str) -> ResponseReturnValue:
    return error_page(400, "Authorization could not be completed", detail, retry=False)
