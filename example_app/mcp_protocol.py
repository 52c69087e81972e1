"""A stateless MCP server over JSON-RPC: version eras, methods, and the HTTP status of each answer.

Knows no Flask: it takes the POST body plus the few transport facts it needs (``Envelope``) and
returns an ``HttpReply``. The HTTP-level rules (auth, Origin, methods, content types, which
version header is acceptable) are the transport's, in ``transport.py``.

Two eras of the protocol are served on the one endpoint, told apart by ``MCP-Protocol-Version``:

- handshake era (no header = 2025-03-26, 2025-06-18, 2025-11-25): ``initialize`` negotiates a
  version, ``ping``, ``tools/list``, ``tools/call``. This server keeps no session, so every
  request stands alone and ``tools/list`` works without a prior ``initialize``. JSON-RPC batches
  exist only in 2025-03-26 (2025-06-18 removed them), so they are accepted only there.
  Malformed messages are HTTP 400; other JSON-RPC errors travel in a 200 answer, as the
  handshake-era transports do.
- per-request era (2026-07-28): no ``initialize``; ``server/discover`` describes the server and
  every request carries its protocol version and client capabilities in ``params._meta``, which
  must agree with the ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers. Results
  carry ``resultType`` and the ``serverInfo`` stamp; cacheable ones ``ttlMs`` and ``cacheScope``.
  Errors get the HTTP statuses that revision assigns (400 for malformed input, 404 for an
  unknown method). Batches are not part of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import jsonrpc
from .jsonrpc import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RpcError
from .tools import ToolContext, ToolError, ToolRegistry, UnknownTool

log = logging.getLogger(__name__)

#: What an absent ``MCP-Protocol-Version`` header means (the 2025-06-18 transport rule).
DEFAULT_VERSION = "2025-03-26"
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS = ("2026-07-28",)
#: Every value the ``MCP-Protocol-Version`` header may carry; anything else is a 400.
SUPPORTED_VERSIONS = HANDSHAKE_VERSIONS + MODERN_VERSIONS
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[-1]
BATCH_VERSIONS = ("2025-03-26",)

HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
#: 2026-07-28 methods whose name parameter is mirrored in the ``Mcp-Name`` header.
NAME_BEARING = {"tools/call": "name"}
#: How long (ms) a client may reuse the tool list and the discover answer: they never change
#: while the server runs and hold nothing user-specific, hence ``public``.
STATIC_TTL_MS = 60_000

_MODERN_STATUS = {
    jsonrpc.PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
_HANDSHAKE_STATUS = {jsonrpc.PARSE_ERROR: 400, INVALID_REQUEST: 400}


@dataclass(frozen=True)
class HttpReply:
    """The HTTP answer: a status and a JSON body (None: no body, as for 202)."""

    status: int
    body: Any = None


@dataclass(frozen=True)
class Envelope:
    """The transport facts the protocol needs, already checked for well-formedness."""

    version: str
    method_header: str | None = None
    name_header: str | None = None

    @property
    def modern(self) -> bool:
        return self.version in MODERN_VERSIONS


@dataclass(frozen=True)
class ServerInfo:
    name: str
    version: str
    title: str | None = None
    instructions: str | None = None

    def implementation(self) -> dict[str, Any]:
        info = {"name": self.name, "version": self.version}
        if self.title:
            info["title"] = self.title
        return info


Method = Callable[[jsonrpc.Request, Envelope, ToolContext], Mapping[str, Any]]


def unsupported_version(requested: str) -> dict[str, Any]:
    """The JSON-RPC error body for a protocol version this server does not speak."""
    return jsonrpc.error_envelope(
        None,
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        {"supported": list(SUPPORTED_VERSIONS), "requested": requested},
    )


class McpServer:
    """Answers MCP messages with the tools of one registry. Holds no per-request state."""

    def __init__(self, tools: ToolRegistry, info: ServerInfo) -> None:
        self.tools = tools
        self.info = info
        self._handshake_methods: dict[str, Method] = {
            "initialize": self._initialize,
            "ping": self._ping,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
        }
        self._modern_methods: dict[str, Method] = {
            "server/discover": self._discover,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
        }

    # -- entry point ---------------------------------------------------------------------------
    def handle(self, body: bytes, envelope: Envelope, context: ToolContext) -> HttpReply:
        """Answer one POST body."""
        try:
            value = jsonrpc.decode(body)
        except RpcError as exc:
            return self._error_reply(exc, envelope)
        if isinstance(value, list):
            return self._batch(value, envelope, context)
        try:
            message = jsonrpc.classify(value)
        except RpcError as exc:
            return self._error_reply(exc, envelope)
        if isinstance(message, jsonrpc.Request):
            answer = self._answer(message, envelope, context)
            error = answer.get("error")
            status = self._status(error["code"], envelope) if error else 200
            return HttpReply(status, answer)
        if isinstance(message, jsonrpc.ClientResponse) and envelope.modern:
            # 2026-07-28 servers send no requests, so there is nothing a response could answer.
            return self._error_reply(
                RpcError(INVALID_REQUEST, "Invalid Request: the server sent no request to answer"),
                envelope,
            )
        # Notifications (and, before 2026, responses) are accepted and need no answer. This
        # server has no session for ``notifications/initialized`` or cancellation to act on.
        return HttpReply(202)

    def _batch(self, items: list[Any], envelope: Envelope, context: ToolContext) -> HttpReply:
        if envelope.version not in BATCH_VERSIONS:
            return self._error_reply(
                RpcError(
                    INVALID_REQUEST,
                    f"Invalid Request: protocol version {envelope.version} has no JSON-RPC "
                    "batches; send one message per POST",
                ),
                envelope,
            )
        if not items:
            return self._error_reply(
                RpcError(INVALID_REQUEST, "Invalid Request: empty batch"), envelope
            )
        answers: list[dict[str, Any]] = []
        for item in items:
            try:
                message = jsonrpc.classify(item)
            except RpcError as exc:
                answers.append(exc.envelope())
                continue
            if not isinstance(message, jsonrpc.Request):
                continue
            if message.method == "initialize":
                answers.append(
                    jsonrpc.error_envelope(
                        message.id, INVALID_REQUEST, "Invalid Request: initialize cannot be batched"
                    )
                )
                continue
            answers.append(self._answer(message, envelope, context))
        # Only notifications and responses: nothing to say (JSON-RPC 2.0 §6).
        return HttpReply(200, answers) if answers else HttpReply(202)

    def _answer(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> dict[str, Any]:
        """The JSON-RPC response (result or error) to one request."""
        try:
            if envelope.modern:
                self._check_modern_request(request, envelope)
                methods = self._modern_methods
            else:
                methods = self._handshake_methods
            method = methods.get(request.method)
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
            result = dict(method(request, envelope, context))
        except RpcError as exc:
            return jsonrpc.error_envelope(request.id, exc.code, exc.message, exc.data)
        if envelope.modern:
            result = self._modern_result(request.method, result)
        return jsonrpc.result_envelope(request.id, result)

    # -- methods -----------------------------------------------------------------------------
    def _initialize(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> Mapping[str, Any]:
        requested = request.params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RpcError(INVALID_PARAMS, "Invalid params: protocolVersion must be a string")
        if not isinstance(request.params.get("capabilities", {}), dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: capabilities must be an object")
        # The client's version if this server speaks it, else the newest one it does speak:
        # the client then decides whether it can live with that (MCP lifecycle, negotiation).
        version = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE_VERSION
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": self.info.implementation(),
        }
        if self.info.instructions:
            result["instructions"] = self.info.instructions
        return result

    def _ping(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> Mapping[str, Any]:
        return {}

    def _discover(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> Mapping[str, Any]:
        result: dict[str, Any] = {
            # Only the versions a per-request client can use; the handshake-era ones are
            # reached through initialize, as the reference SDK's discover answers too.
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": {"tools": {}},
        }
        if self.info.instructions:
            result["instructions"] = self.info.instructions
        return result

    def _list_tools(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> Mapping[str, Any]:
        if "cursor" in request.params:
            # One page holds every tool, so no cursor was ever handed out.
            raise RpcError(INVALID_PARAMS, "Invalid params: unknown cursor")
        return {"tools": self.tools.definitions()}

    def _call_tool(
        self, request: jsonrpc.Request, envelope: Envelope, context: ToolContext
    ) -> Mapping[str, Any]:
        name = request.params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "Invalid params: name must be a string")
        arguments = request.params.get("arguments", {})
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        try:
            tool = self.tools.get(name)
        except UnknownTool:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}") from None
        try:
            output = tool.handler(arguments, context)
        except ToolError as exc:
            return {"content": [{"type": "text", "text": str(exc)}], "isError": True}
        except Exception:
            # A bug, not the caller's doing: logged here, and no internals reach the client.
            log.exception("tool %s failed", name)
            return {
                "content": [{"type": "text", "text": f"The {name} tool failed unexpectedly"}],
                "isError": True,
            }
        result: dict[str, Any] = {"content": [{"type": "text", "text": output.text}]}
        if output.structured is not None:
            result["structuredContent"] = output.structured
        result["isError"] = False
        return result

    # -- 2026-07-28 envelope ---------------------------------------------------------------
    def _check_modern_request(self, request: jsonrpc.Request, envelope: Envelope) -> None:
        """The per-request envelope and its mirror headers, in the order the revision checks."""
        meta = request.params.get("_meta")
        if not isinstance(meta, dict):
            raise RpcError(
                INVALID_PARAMS,
                f"Invalid params: params._meta must carry {PROTOCOL_VERSION_KEY!r} and "
                f"{CLIENT_CAPABILITIES_KEY!r}",
            )
        missing = [k for k in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if k not in meta]
        if missing:
            raise RpcError(
                INVALID_PARAMS, f"Invalid params: params._meta lacks {', '.join(missing)}"
            )
        if meta[PROTOCOL_VERSION_KEY] != envelope.version:
            raise RpcError(
                HEADER_MISMATCH,
                "MCP-Protocol-Version header does not match params._meta's protocol version",
            )
        if envelope.method_header != request.method:
            raise RpcError(HEADER_MISMATCH, "Mcp-Method header does not match the method")
        name_key = NAME_BEARING.get(request.method)
        if name_key is not None:
            name = request.params.get(name_key)
            if name is not None and envelope.name_header != name:
                raise RpcError(HEADER_MISMATCH, f"Mcp-Name header does not match params.{name_key}")

    def _modern_result(self, method: str, result: dict[str, Any]) -> dict[str, Any]:
        result["resultType"] = "complete"
        if method in ("tools/list", "server/discover"):
            result.setdefault("ttlMs", STATIC_TTL_MS)
            result.setdefault("cacheScope", "public")
        result["_meta"] = {SERVER_INFO_KEY: self.info.implementation()}
        return result

    # -- helpers -----------------------------------------------------------------------------
    def _status(self, code: int, envelope: Envelope) -> int:
        table = _MODERN_STATUS if envelope.modern else _HANDSHAKE_STATUS
        return table.get(code, 200)

    def _error_reply(self, exc: RpcError, envelope: Envelope) -> HttpReply:
        return HttpReply(self._status(exc.code, envelope), exc.envelope())
