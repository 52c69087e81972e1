"""What the proxy's JSON endpoints share: bounded request reading, CORS, client identification.

- **Size limits**: every endpoint reads at most a few KiB (``FORM_LIMIT``, ``JSON_LIMIT``,
  ``QUERY_LIMIT``), whatever ``MAX_CONTENT_LENGTH`` the app set for its own routes; a larger
  request is ``invalid_request`` (413), read no further.
- **One value per parameter**: RFC 6749 §3.1/§3.2 says parameters MUST NOT repeat; a
  repeated one is ``invalid_request`` rather than a guess at which copy counts.
- **CORS** on metadata, token, register and revoke, so browser-based MCP clients (the MCP
  Inspector) can call them: any origin, never credentials (none of them reads a cookie).
  Never on authorize or consent, which are pages for a browser to navigate to.
- **One frame** (``json_endpoint``) for register, token and revoke: CORS preflight, POST only,
  RFC 6749 JSON errors, and the store down as ``503 temporarily_unavailable`` with
  ``Retry-After``, never a 500.
- **Client identification** at token and revoke: every client of the proxy is public
  (``token_endpoint_auth_method: none``), so ``client_id`` comes in the body; a client that
  sends it in HTTP Basic with an empty password is understood too, but any secret is refused
  (none was ever issued). An unknown client is ``401 invalid_client``, which makes MCP
  clients register again (FastMCP #1919).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from ..store import StoreError
from .cimd import CIMDError
from .client_metadata import ClientRecord
from .clients import ClientRegistry
from .oauth_errors import OAuthError, error_response

log = logging.getLogger("flask_clerk_mcp")

FORM_LIMIT = 16 * 1024
JSON_LIMIT = 16 * 1024
QUERY_LIMIT = 8 * 1024
MAX_CLIENT_ID = 2000

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "86400",
}


def with_cors(response: Response, methods: str = "POST, OPTIONS") -> Response:
    """Let any origin read ``response`` (no credentials: the endpoint reads no cookie)."""
    response.headers.update(CORS_HEADERS)
    response.headers["Access-Control-Allow-Methods"] = methods
    return response


def preflight(methods: str = "POST, OPTIONS") -> Response:
    """The answer to a CORS preflight (``OPTIONS``)."""
    return with_cors(Response(status=204), methods)


def json_endpoint(name: str) -> Callable[[Callable[[], Response]], Callable[[], Response]]:
    """Wrap ``handle`` (the POST's work) in the frame every JSON endpoint shares; ``name``
    says which endpoint in the log line when the store is down."""

    def wrap(handle: Callable[[], Response]) -> Callable[[], Response]:
        @functools.wraps(handle)
        def endpoint() -> Response:
            if request.method == "OPTIONS":
                return preflight()
            try:
                if request.method != "POST":
                    raise OAuthError("invalid_request", "use POST", status=405)
                response = handle()
            except OAuthError as exc:
                response = error_response(exc)
            except StoreError as exc:
                log.warning("%s endpoint: store unavailable (%s)", name, exc)
                response = error_response(
                    OAuthError("temporarily_unavailable", "try again shortly", status=503)
                )
                response.headers["Retry-After"] = "5"
            return with_cors(response)

        return endpoint

    return wrap


def too_large() -> OAuthError:
    """The error for a request over its endpoint's size limit (413)."""
    return OAuthError("invalid_request", "the request is too large", status=413)


def form_params(limit: int = FORM_LIMIT) -> dict[str, str]:
    """The urlencoded body as single values; ``OAuthError`` for anything else."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    if request.content_length is not None and request.content_length > limit:
        raise too_large()
    request.max_content_length = limit
    try:
        form = request.form
    except RequestEntityTooLarge:
        raise too_large() from None
    return single_values(form.lists())


def single_values(items: Any) -> dict[str, str]:
    """``(name, [values])`` pairs as a dict, refusing a name given twice (RFC 6749 §3.1)."""
    params: dict[str, str] = {}
    for name, values in items:
        if len(values) > 1:
            raise OAuthError("invalid_request", f"parameter {name!r} is repeated")
        params[name] = values[0]
    return params


def json_body(limit: int = JSON_LIMIT) -> object:
    """The JSON body (RFC 7591 registration); ``OAuthError`` when it is not one."""
    if request.mimetype != "application/json":
        raise OAuthError("invalid_client_metadata", "the body must be application/json")
    if request.content_length is not None and request.content_length > limit:
        raise too_large()
    request.max_content_length = limit
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large() from None
    if len(raw) > limit:
        raise too_large()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise OAuthError("invalid_client_metadata", "the body is not valid JSON") from None


def client_id_of(params: dict[str, str]) -> str:
    """The calling client's id: the body's ``client_id``, or HTTP Basic with no password."""
    body_id = params.get("client_id")
    if params.get("client_secret"):
        raise OAuthError("invalid_client", "this server issues no client secrets")
    header = request.headers.get("Authorization")
    header_id = _basic_client_id(header) if header else None
    if header_id is not None and body_id is not None and header_id != body_id:
        raise OAuthError("invalid_client", "client_id differs between header and body")
    client_id = header_id if header_id is not None else body_id
    if not client_id:
        raise OAuthError("invalid_client", "client_id is required")
    if len(client_id) > MAX_CLIENT_ID:
        raise OAuthError("invalid_client", "client_id is too long")
    return client_id


def _basic_client_id(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "only public clients (client_id, no secret) exist")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or secret:
        raise OAuthError("invalid_client", "this server issues no client secrets")
    return unquote_plus(client_id)


def require_client(registry: ClientRegistry, client_id: str) -> ClientRecord:
    """The client, or 401 ``invalid_client``; a CIMD document that cannot be fetched right now
    is 503 (the client did nothing wrong), one that is invalid is ``invalid_client``."""
    try:
        return registry.require(client_id)
    except CIMDError as exc:
        if exc.transient:
            raise OAuthError("temporarily_unavailable", exc.description, status=503) from None
        raise OAuthError("invalid_client", exc.description) from None
