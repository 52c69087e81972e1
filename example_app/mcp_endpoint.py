"""The MCP endpoint: Streamable HTTP, stateless, JSON answers only, on the SDK's typed models.

The official SDK has no WSGI server, so the HTTP view is ours; every protocol datum comes from
``mcp_types`` (the SDK's wire types, also importable as ``mcp.types``): the JSON-RPC envelopes
and error codes, the per-version request and result schemas, ``Tool``, ``CallToolResult``,
``InitializeResult`` and the protocol-version constants.

Order of checks, first failure wins. The bearer token comes before everything (``require_clerk``
on the view, in ``example_app/__init__.py``), so an unauthenticated caller learns nothing but
where to log in. Then ``Origin`` (403, the transport's DNS-rebinding defence), the method (POST
only: no SSE stream, so GET is 405), ``MCP-Protocol-Version`` (400 for a version not served),
``Content-Type`` (415 unless JSON), ``Accept`` (406 if JSON is refused), the body's size (413).

Two eras share the endpoint, told apart by ``MCP-Protocol-Version``. Handshake era (absent =
2025-03-26, 2025-06-18, 2025-11-25): ``initialize`` (optional: no session is kept), ``ping``,
``tools/list``, ``tools/call``; batches in 2025-03-26 only; malformed messages are 400, other
JSON-RPC errors travel in a 200. Per-request era (2026-07-28): ``server/discover``, the tools,
a ``params._meta`` envelope that must agree with the ``MCP-Protocol-Version``, ``Mcp-Method``
and ``Mcp-Name`` headers, and the HTTP statuses that revision assigns (404 unknown method).

A tool's own scopes are checked when it is called (``tools.py``): a token without them gets the
HTTP 403 ``insufficient_scope`` answer with its challenge, never a JSON-RPC error, since that
is what clients step up on. In a 2025-03-26 batch such a call refuses the whole POST.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
from flask import current_app, request
from mcp_types import jsonrpc as rpc
from mcp_types.methods import parse_client_request, serialize_server_result
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
    is_version_at_least,
)
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from flask_clerk_mcp import AccessToken, ClerkMCP

from .notes import NoteStore
from .tools import ToolContext, ToolRegistry, UnknownTool

#: What the MCP endpoint needs on top of ``CLERK_REQUIRED_SCOPES``: ``whoami`` shows the email.
MCP_SCOPES = ["email"]
#: Every method but OPTIONS reaches the view, so each gets 401 without a token, then 405.
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
EXTENSION_KEY = "example_mcp"
#: Streamable HTTP, this transport, arrived in 2025-03-26 (2024-11-05 spoke HTTP+SSE).
HANDSHAKE_VERSIONS = tuple(
    v for v in HANDSHAKE_PROTOCOL_VERSIONS if is_version_at_least(v, "2025-03-26")
)
SERVED_VERSIONS = HANDSHAKE_VERSIONS + MODERN_PROTOCOL_VERSIONS
BATCH_VERSIONS = ("2025-03-26",)  # 2025-06-18 removed JSON-RPC batches
METHODS = {
    "handshake": ("initialize", "ping", "tools/list", "tools/call"),
    "modern": ("server/discover", "tools/list", "tools/call"),
}
#: How long (ms) a client may reuse the tool list and the discover answer: they never change
#: while the server runs and hold nothing user-specific, hence ``public``.
STATIC_TTL_MS = 60_000
_STATUS = {
    "handshake": {rpc.PARSE_ERROR: 400, rpc.INVALID_REQUEST: 400},
    "modern": {
        rpc.PARSE_ERROR: 400,
        rpc.INVALID_REQUEST: 400,
        rpc.INVALID_PARAMS: 400,
        rpc.HEADER_MISMATCH: 400,
        rpc.UNSUPPORTED_PROTOCOL_VERSION: 400,
        rpc.METHOD_NOT_FOUND: 404,
    },
}
_B64_PREFIX, _B64_SUFFIX = "=?base64?", "?="


class RpcError(Exception):
    """A JSON-RPC error answer; ``request_id`` is None when the id could not be read."""

    def __init__(self, code: int, message: str, request_id: rpc.RequestId | None = None) -> None:
        super().__init__(message)
        self.error = rpc.ErrorData(code=code, message=message)
        self.request_id = request_id


@dataclass(frozen=True)
class McpServer:
    """What the endpoint serves: the tools, who it says it is, and the notes the tools keep."""

    tools: ToolRegistry
    info: types.Implementation
    instructions: str
    notes: NoteStore

    def handle(self, token: AccessToken) -> Response:
        """Answer one POST to the MCP endpoint, for the caller whose token was verified."""
        if not _origin_allowed(request.headers.get("Origin")):
            return _refuse(403, "Forbidden: this Origin may not call the MCP endpoint")
        if request.method != "POST":
            response = _refuse(405, "Method Not Allowed: this server offers no SSE stream")
            response.headers["Allow"] = "POST"
            return response
        # WSGI folds a repeated header into one comma-joined value, which then matches nothing.
        version = request.headers.get("MCP-Protocol-Version", types.DEFAULT_NEGOTIATED_VERSION)
        version = version.strip()
        if version not in SERVED_VERSIONS:
            data = types.UnsupportedProtocolVersionErrorData(
                supported=list(SERVED_VERSIONS), requested=version
            )
            unsupported = RpcError(rpc.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
            unsupported.error.data = data.model_dump()
            return _json(400, _error(unsupported))
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
            return _refuse(415, "Unsupported Media Type: Content-Type must be application/json")
        if "Accept" in request.headers and not request.accept_mimetypes["application/json"]:
            return _refuse(406, "Not Acceptable: the client must accept application/json")
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _refuse(413, "Payload Too Large: the body exceeds MAX_CONTENT_LENGTH")
        call = Call(self, version, ToolContext(token=token, notes=self.notes))
        status, answer = call.answer_body(body)
        return _json(status, answer)


@dataclass(frozen=True)
class Call:
    """One POST's protocol work: decode, classify, dispatch, shape each result for the version."""

    server: McpServer
    version: str
    context: ToolContext

    @property
    def era(self) -> str:
        return "modern" if self.version in MODERN_PROTOCOL_VERSIONS else "handshake"

    def answer_body(self, body: bytes) -> tuple[int, Any]:
        """The HTTP status and JSON answer (None: 202, nothing to say) for one POST body."""
        try:
            try:
                value = from_json(body, allow_inf_nan=False)  # strict: UTF-8, no lone surrogates
            except ValueError:
                raise RpcError(rpc.PARSE_ERROR, "Parse error: the body is not valid JSON") from None
            if isinstance(value, list):
                return self._batch(value)
            message = _classify(value)
        except RpcError as exc:
            return self._status(exc.error.code), _error(exc)
        if isinstance(message, rpc.JSONRPCRequest):
            answer = self._answer(message)
            code = answer.error.code if isinstance(answer, rpc.JSONRPCError) else None
            return (self._status(code) if code else 200), answer
        if self.era == "modern" and not isinstance(message, rpc.JSONRPCNotification):
            # 2026-07-28 servers send no requests, so there is nothing a response could answer.
            return 400, _error(RpcError(rpc.INVALID_REQUEST, "Invalid Request: nothing to answer"))
        # Notifications (and responses) need no answer; with no session there is nothing to do.
        return 202, None

    def _batch(self, items: list[Any]) -> tuple[int, Any]:
        if self.version not in BATCH_VERSIONS:
            raise RpcError(rpc.INVALID_REQUEST, f"Invalid Request: {self.version} has no batches")
        if not items:
            raise RpcError(rpc.INVALID_REQUEST, "Invalid Request: empty batch")
        answers: list[BaseModel] = []
        for item in items:
            try:
                message = _classify(item)
                if isinstance(message, rpc.JSONRPCRequest) and message.method == "initialize":
                    raise RpcError(rpc.INVALID_REQUEST, "initialize cannot be batched", message.id)
            except RpcError as exc:
                answers.append(_error(exc))
                continue
            if isinstance(message, rpc.JSONRPCRequest):
                answers.append(self._answer(message))
        return (200, answers) if answers else (202, None)  # JSON-RPC 2.0 §6

    def _answer(self, message: rpc.JSONRPCRequest) -> rpc.JSONRPCResponse | rpc.JSONRPCError:
        try:
            if message.method not in METHODS[self.era]:
                raise RpcError(rpc.METHOD_NOT_FOUND, f"Method not found: {message.method}")
            try:
                parsed = parse_client_request(message.method, self.version, message.params)
            except ValidationError as exc:
                raise RpcError(rpc.INVALID_PARAMS, f"Invalid params: {_first(exc)}") from None
            if self.era == "modern":
                self._check_mirrors(message)
            result = self._dispatch(parsed)
            if self.era == "modern":
                result.meta = {types.SERVER_INFO_META_KEY: _dump(self.server.info)}
            shaped = serialize_server_result(message.method, self.version, _dump(result))
        except RpcError as exc:
            exc.request_id = message.id
            return _error(exc)
        return rpc.JSONRPCResponse(jsonrpc="2.0", id=message.id, result=shaped)

    def _dispatch(self, parsed: Any) -> types.Result:
        server = self.server
        capabilities = types.ServerCapabilities(tools=types.ToolsCapability())
        if isinstance(parsed, types.InitializeRequest):
            # The client's version if served, else the newest served: the client then decides.
            asked = parsed.params.protocol_version
            return types.InitializeResult(
                protocol_version=asked if asked in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE_VERSION,
                capabilities=capabilities,
                server_info=server.info,
                instructions=server.instructions,
            )
        if isinstance(parsed, types.PingRequest):
            return types.EmptyResult()
        if isinstance(parsed, types.DiscoverRequest):
            return types.DiscoverResult(  # per-request versions only, as the SDK's own server
                supported_versions=list(MODERN_PROTOCOL_VERSIONS),
                capabilities=capabilities,
                instructions=server.instructions,
                ttl_ms=STATIC_TTL_MS,
                cache_scope="public",
            )
        if isinstance(parsed, types.ListToolsRequest):
            if parsed.params is not None and parsed.params.cursor is not None:
                raise RpcError(rpc.INVALID_PARAMS, "Invalid params: unknown cursor")
            return types.ListToolsResult(
                tools=server.tools.definitions(), ttl_ms=STATIC_TTL_MS, cache_scope="public"
            )
        assert isinstance(parsed, types.CallToolRequest)  # METHODS admits nothing else
        try:
            return server.tools.call(parsed.params.name, parsed.params.arguments, self.context)
        except UnknownTool:
            raise RpcError(rpc.INVALID_PARAMS, f"Unknown tool: {parsed.params.name}") from None

    def _check_mirrors(self, message: rpc.JSONRPCRequest) -> None:
        """2026-07-28: the ``_meta`` version and the mirror headers must agree with the body."""
        meta = (message.params or {}).get("_meta", {})
        if meta.get(types.PROTOCOL_VERSION_META_KEY) != self.version:
            raise RpcError(rpc.HEADER_MISMATCH, "MCP-Protocol-Version differs from params._meta")
        if request.headers.get("Mcp-Method") != message.method:
            raise RpcError(rpc.HEADER_MISMATCH, "Mcp-Method header does not match the method")
        name = (message.params or {}).get("name")
        if message.method == "tools/call" and name is not None:
            if _decode_name(request.headers.get("Mcp-Name")) != name:
                raise RpcError(rpc.HEADER_MISMATCH, "Mcp-Name header does not match params.name")

    def _status(self, code: int) -> int:
        return _STATUS[self.era].get(code, 200)


def _classify(value: Any) -> rpc.JSONRPCMessage:
    """One decoded JSON value as a JSON-RPC message, keeping a readable id for the error."""
    if not isinstance(value, dict):
        raise RpcError(rpc.INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    raw_id = value.get("id")
    readable = raw_id if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    if isinstance(value.get("params"), list):  # valid JSON-RPC, but MCP params are named
        raise RpcError(rpc.INVALID_PARAMS, "Invalid params: must be an object", readable)
    kind: type[BaseModel] = rpc.JSONRPCRequest if "id" in value else rpc.JSONRPCNotification
    if "method" not in value:  # a response the client posted
        kind = rpc.JSONRPCError if "error" in value else rpc.JSONRPCResponse
    try:
        message: rpc.JSONRPCMessage = kind.model_validate(value)  # type: ignore[assignment]
    except ValidationError as exc:
        raise RpcError(rpc.INVALID_REQUEST, f"Invalid Request: {_first(exc)}", readable) from None
    return message


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def _error(exc: RpcError) -> rpc.JSONRPCError:
    return rpc.JSONRPCError(jsonrpc="2.0", id=exc.request_id, error=exc.error)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _origin_allowed(origin: str | None) -> bool:
    """An absent Origin is fine (not a browser); a present one must be this server's own."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            return False
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            return False
        return _origin_of(origin.strip()) == _origin_of(ClerkMCP.state().settings.base_url)
    except ValueError:  # a malformed port
        return False


def _origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _decode_name(value: str | None) -> str | None:
    """An ``Mcp-Name`` value, undoing the ``=?base64?…?=`` wrapping of non-ASCII names."""
    if value is None or not (value.startswith(_B64_PREFIX) and value.endswith(_B64_SUFFIX)):
        return value
    try:
        payload = value[len(_B64_PREFIX) : -len(_B64_SUFFIX)]
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except ValueError:  # bad base64, not UTF-8, a non-ASCII payload: all ValueErrors
        return None  # never equal to a body value: a corrupt header is a mismatch


def _refuse(status: int, message: str) -> Response:
    return _json(status, _error(RpcError(rpc.INVALID_REQUEST, message)))


def _json(status: int, answer: BaseModel | list[BaseModel] | None) -> Response:
    """``None`` is an empty 202; a JSON-RPC ``id`` stays present (null) when unknown."""
    response = current_app.response_class(status=status)
    if answer is not None:
        models = answer if isinstance(answer, list) else [answer]
        dumped = [m.model_dump(mode="json", by_alias=True, exclude_unset=True) for m in models]
        body = dumped if isinstance(answer, list) else dumped[0]
        response.set_data(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        response.mimetype = "application/json"
    else:
        del response.headers["Content-Type"]
    response.headers["Cache-Control"] = "no-store"  # answers hold one user's data
    return response
