"""RFC 6749 error answers of the proxy's endpoints, as JSON bodies and as redirects.

Two shapes, chosen by where the error happens:

- the token, register and revoke endpoints answer directly, with a JSON object
  ``{"error": ..., "error_description": ...}``, the status RFC 6749 §5.2 (and RFC 7591 §3.2.2,
  RFC 7009 §2.2.1) gives the code, and ``Cache-Control: no-store`` (an error about a code or a
  refresh token must not be served from a cache to anyone else);
- the authorization endpoint, once it trusts the client's redirect URI, answers by redirecting
  the browser back to the client with ``error``, ``error_description``, ``state`` and ``iss``
  (RFC 6749 §4.1.2.1, RFC 9207) added to that URI's query, which is preserved.

``OAuthError`` is the one exception the proxy's rooms raise for an OAuth answer; the endpoints
turn it into either shape. Its description is shown to clients, so it never holds a token, a
code or a secret: callers write fixed sentences, never interpolate credentials.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Response

#: HTTP status per error code. RFC 6749 §5.2 answers 400 except for ``invalid_client`` (401);
#: the RFC 7591 registration errors and RFC 7009's ``unsupported_token_type`` are 400 as well.
#: Codes only an authorization *redirect* may carry (``access_denied``,
#: ``unsupported_response_type``, ...) are listed so a direct answer with them is still sane.
STATUS: Mapping[str, int] = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "invalid_target": 400,  # RFC 8707
    "invalid_redirect_uri": 400,  # RFC 7591
    "invalid_client_metadata": 400,  # RFC 7591
    "unsupported_token_type": 400,  # RFC 7009
    "access_denied": 403,
    "unsupported_response_type": 400,
    "server_error": 500,
    "temporarily_unavailable": 503,
}

_MAX_DESCRIPTION = 300


class OAuthError(Exception):
    """An OAuth error answer: ``error`` (the RFC code), ``description``, ``status``.

    ``status`` defaults to the code's status in ``STATUS`` (400 for a code not listed). The
    description is cleaned to the characters RFC 6749 allows in ``error_description``
    (printable ASCII without ``"`` and ``\\``) and bounded, so it can go into a JSON body, a
    query string or a header parameter alike.
    """

    def __init__(self, error: str, description: str = "", *, status: int | None = None) -> None:
        if not error or not all(_error_char(c) for c in error):
            raise ValueError("an OAuth error code is printable ASCII without quotes or backslashes")
        self.error = error
        self.description = clean_description(description)
        self.status = status if status is not None else STATUS.get(error, 400)
        super().__init__(f"{error}: {self.description}" if self.description else error)


def clean_description(text: str) -> str:
    """``text`` reduced to RFC 6749's error_description characters, at most 300 of them.

    Anything outside %x20-21 / %x23-5B / %x5D-7E becomes ``?``; this is for messages we write,
    so it only ever bites on a name or URL quoted from the client.
    """
    cleaned = "".join(c if _error_char(c) or c == " " else "?" for c in text)
    if len(cleaned) > _MAX_DESCRIPTION:
        cleaned = cleaned[: _MAX_DESCRIPTION - 3] + "..."
    return cleaned


def _error_char(c: str) -> bool:
    return "\x21" <= c <= "\x7e" and c not in '"\\'


def json_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer that no cache keeps (tokens, client records and errors alike).

    ``Cache-Control: no-store`` and ``Pragma: no-cache`` as RFC 6749 §5.1 asks of token
    answers; used for every proxy JSON answer so no endpoint forgets it.
    """
    response = Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(
    error: OAuthError | str, description: str = "", *, realm: str = "oauth"
) -> Response:
    """The direct JSON answer for an ``OAuthError`` (or a code and a description).

    A 401 carries ``WWW-Authenticate: Basic realm="..."``: RFC 9110 requires a challenge on
    every 401, and Basic is the client authentication RFC 6749 §2.3.1 defines. The proxy's
    clients are public, but MCP clients re-register on ``401 invalid_client``, which is why
    the status stays 401 rather than 400.
    """
    exc = error if isinstance(error, OAuthError) else OAuthError(error, description)
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{clean_description(realm)}"'
    return json_response(body, exc.status, headers)


def append_query(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query; the query it already has is kept as is.

    RFC 6749 §3.1.2: the redirection endpoint URI may have a query, which MUST be retained
    when parameters are added. Values are percent-encoded (spaces as ``%20``), ``None``
    values are left out, and the URI's fragment — which a checked redirect URI never has —
    is dropped rather than carried along.
    """
    base = uri.partition("#")[0]
    added = urlencode(
        [(name, value) for name, value in params.items() if value is not None], quote_via=quote
    )
    if not added:
        return base
    # Appended to the text, never re-serialised: urlunsplit drops an empty authority
    # ("app:////evil/cb" would become "app://evil/cb"), so the Location could name a URI
    # other than the one that was checked.
    if "?" not in base:
        return f"{base}?{added}"
    return f"{base}{'' if base.endswith(('?', '&')) else '&'}{added}"


def authorization_redirect(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
    """A 302 back to the client's (already checked) redirect URI carrying ``params``.

    For the success answer (``code``, ``state``, ``iss``) and, through
    ``authorization_error_redirect``, the error answers. Not cached, and no ``Referer``
    leaks the parameters to whatever the client's page loads next.
    """
    response = Response(status=302)
    response.headers["Location"] = append_query(redirect_uri, params)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def authorization_error_redirect(
    redirect_uri: str,
    error: OAuthError | str,
    description: str = "",
    *,
    state: str | None,
    issuer: str,
) -> Response:
    """RFC 6749 §4.1.2.1 error redirect, with ``iss`` (RFC 9207) on every one.

    Only for a redirect URI that has been matched against the client's registered ones: an
    unknown client or an unmatched redirect URI is answered on our own page instead (RFC 6749
    §4.1.2.1: MUST NOT redirect). ``state`` is echoed exactly when the client sent one.
    """
    exc = error if isinstance(error, OAuthError) else OAuthError(error, description)
    return authorization_redirect(
        redirect_uri,
        {
            "error": exc.error,
            "error_description": exc.description or None,
            "state": state,
            "iss": issuer,
        },
    )
