"""JSON-RPC 2.0 framing: decoding, message classification and the error/result envelopes.

Knows nothing of MCP or HTTP. It exists so the MCP layer can reason in terms of requests,
notifications and errors, and never about raw JSON shapes. MCP narrows JSON-RPC in two ways
that are enforced here: request ids are strings or integers (never null, never fractional),
and ``params``, when present, is an object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

RequestId = str | int


class RpcError(Exception):
    """A JSON-RPC error answer; ``request_id`` is None when the id could not be read."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        data: Any = None,
        request_id: RequestId | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.request_id = request_id

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.request_id, self.code, self.message, self.data)


@dataclass(frozen=True)
class Request:
    """A call that is owed exactly one answer."""

    id: RequestId
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """A one-way message: never answered, not even with an error."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientResponse:
    """A response the client posted (to a request the server sent): nothing to answer."""

    id: RequestId


Message = Request | Notification | ClientResponse


def decode(body: bytes) -> Any:
    """The JSON value of ``body``, or ``RpcError(PARSE_ERROR)``.

    Strict: UTF-8 only, and ``NaN``/``Infinity`` (which Python's json accepts but JSON does not)
    are parse errors, as is nesting deep enough to exhaust the recursion limit. So is a string
    holding a lone surrogate (``"\\ud800"``): JSON's escapes can spell half a pair, but no
    UTF-8 text holds one, and every later step (the reply, a note written to disk) would fail
    to encode it. Refused here, nothing downstream ever sees one.
    """
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from None
    # Valid UTF-8 input holds no surrogates, so only a \u escape can have made one.
    if "\\u" in text and not _encodable(value):
        raise RpcError(PARSE_ERROR, "Parse error: the body holds a lone surrogate escape")
    return value


def classify(value: Any) -> Message:
    """Turn one decoded JSON value into a message, or raise ``RpcError(INVALID_REQUEST)``.

    The id is recovered whenever it is well formed, so the error can still be correlated.
    """
    if not isinstance(value, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    request_id = _read_id(value)
    if value.get("jsonrpc") != "2.0":
        raise RpcError(
            INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', request_id=request_id
        )
    if "method" not in value:
        if "id" in value and ("result" in value) != ("error" in value) and request_id is not None:
            return ClientResponse(id=request_id)
        raise RpcError(
            INVALID_REQUEST, 'Invalid Request: "method" is missing', request_id=request_id
        )
    method = value["method"]
    if not isinstance(method, str) or not method:
        raise RpcError(
            INVALID_REQUEST, 'Invalid Request: "method" must be a string', request_id=request_id
        )
    params = value.get("params", {})
    if isinstance(params, list):
        # Valid JSON-RPC, but every MCP method takes named parameters.
        raise RpcError(INVALID_PARAMS, "Invalid params: must be an object", request_id=request_id)
    if not isinstance(params, dict):
        raise RpcError(
            INVALID_REQUEST, 'Invalid Request: "params" must be an object', request_id=request_id
        )
    if "id" not in value:
        return Notification(method=method, params=params)
    if request_id is None:
        raise RpcError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    return Request(id=request_id, method=method, params=params)


def result_envelope(request_id: RequestId, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": dict(result)}


def error_envelope(
    request_id: RequestId | None, code: int, message: str, data: Any = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    # ``id`` stays present (null) when unknown: JSON-RPC 2.0 §5 requires the member.
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _read_id(value: Mapping[str, Any]) -> RequestId | None:
    request_id = value.get("id")
    if isinstance(request_id, bool):  # bool is an int subclass; JSON true is no id
        return None
    if isinstance(request_id, (str, int)):
        return request_id
    return None


def _encodable(value: Any) -> bool:
    """Whether every string in ``value`` (object keys included) is encodable as UTF-8.

    Iterative, so a value nested as deep as ``json.loads`` allows cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            strings = [item]
        elif isinstance(item, dict):
            strings = list(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
            continue
        else:
            continue
        for string in strings:
            if not string.isascii():
                try:
                    string.encode("utf-8")
                except UnicodeEncodeError:
                    return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
