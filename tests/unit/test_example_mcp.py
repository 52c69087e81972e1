"""The example MCP server's protocol handling, with Clerk faked by ``responses``.

Every rule of the MCP endpoint: auth first, Origin, methods, protocol versions, content types,
JSON-RPC errors, notifications, batches, the 2026-07-28 per-request envelope, and the tools
(whoami reflects the caller, notes never cross users, tool failures are ``isError`` results).
Results are also checked against the official SDK's per-version wire schemas.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import responses
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from mcp_types.methods import validate_server_result

from example_app import WORKER_PID_HEADER, create_app
from example_app.demo.banner import TOKEN_VARIABLE, emulator_banner
from example_app.notes import NoteStore

DOMAIN = "example-app-16.clerk.accounts.dev"
ISSUER = f"https://{DOMAIN}"
CLIENT_ID = "client_example"
BASE_URL = "https://mcp.example.com"
MODERN = "2026-07-28"

USERS: dict[str, dict[str, Any]] = {
    "user_alice": {"email": "alice@example.com", "name": "Alice Liddell"},
    "user_bob": {"email": "bob@example.com", "name": "Bob Builder"},
}
#: token -> (subject, scope)
TOKENS: dict[str, tuple[str, str]] = {
    "tok_alice": ("user_alice", "openid email profile notes:write"),
    "tok_bob": ("user_bob", "openid email profile notes:write"),
    "tok_narrow": ("user_alice", "openid profile"),
    "tok_reader": ("user_alice", "openid email profile"),
    "tok_notes": ("user_alice", "openid email profile notes"),
}


def _introspect(request: Any) -> tuple[int, dict[str, str], str]:
    form = urllib.parse.parse_qs(request.body)
    token = form.get("token", [""])[0]
    if token not in TOKENS:
        return 200, {}, json.dumps({"active": False})
    subject, scope = TOKENS[token]
    answer = {"active": True, "client_id": CLIENT_ID, "iat": 1, "scope": scope, "sub": subject}
    return 200, {}, json.dumps(answer)


def _userinfo(request: Any) -> tuple[int, dict[str, str], str]:
    token = request.headers["Authorization"].split(" ", 1)[1]
    if token not in TOKENS:
        return 401, {}, json.dumps({"error": "invalid_token"})
    subject, _ = TOKENS[token]
    profile = {"sub": subject, "user_id": subject, "email_verified": True, **USERS[subject]}
    return 200, {}, json.dumps(profile)


@pytest.fixture
def clerk() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, f"{ISSUER}/oauth/token_info", callback=_introspect)
        mock.add_callback(responses.GET, f"{ISSUER}/oauth/userinfo", callback=_userinfo)
        yield mock


def make_app(tmp_path: Path, **extra: Any) -> Flask:
    config: dict[str, Any] = {
        "CLERK_DOMAIN": DOMAIN,
        "CLERK_CLIENT_ID": CLIENT_ID,
        "CLERK_CLIENT_SECRET": "secret",
        "CLERK_BASE_URL": BASE_URL,
        "CLERK_CACHE_TTL": 0,
        "CLERK_LOGIN": False,
        "NOTES_DIR": str(tmp_path / "notes"),
        "TESTING": True,
    }
    config.update(extra)
    return create_app(config)


@pytest.fixture
def client(tmp_path: Path, clerk: responses.RequestsMock) -> FlaskClient:
    return make_app(tmp_path).test_client()


def post(
    client: FlaskClient,
    body: Any,
    *,
    token: str | None = "tok_alice",  # noqa: S107 - a fake token of the fake Clerk
    version: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Any:
    sent: dict[str, str] = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if version is not None:
        sent["MCP-Protocol-Version"] = version
    sent.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return client.post("/mcp", data=data, headers=sent)


def rpc(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def modern(
    client: FlaskClient, method: str, params: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """A 2026-07-28 request with its envelope and mirror headers, as the SDK sends it."""
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    }
    headers = {"Mcp-Method": method}
    if method == "tools/call":
        headers["Mcp-Name"] = params["name"]
    headers.update(kw.pop("headers", {}))
    return post(client, rpc(method, params), version=MODERN, headers=headers, **kw)


def call(client: FlaskClient, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> Any:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    return post(client, rpc("tools/call", params), version="2025-11-25", **kw)


def error_code(response: Any) -> int:
    return int(response.get_json()["error"]["code"])


# -- auth comes first ------------------------------------------------------------------------
def test_unauthenticated_gets_401_with_resource_metadata_whatever_the_body(
    client: FlaskClient, clerk: responses.RequestsMock
) -> None:
    for body in (b"not json at all", b"[]", json.dumps(rpc("tools/list")).encode()):
        response = post(client, None, token=None, raw=body, headers={"Origin": "https://evil"})
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert (
            f'resource_metadata="{BASE_URL}/.well-known/oauth-protected-resource/mcp"' in challenge
        )
        assert "error=" not in challenge
    assert client.get("/mcp").status_code == 401
    assert len(clerk.calls) == 0  # decided before any upstream call


def test_invalid_token_is_401_invalid_token(client: FlaskClient) -> None:
    response = post(client, rpc("tools/list"), token="tok_unknown")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_missing_scope_is_403_insufficient_scope(client: FlaskClient) -> None:
    response = post(client, rpc("tools/list"), token="tok_narrow")
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid email profile"' in challenge


def test_a_tool_scope_refusal_is_http_403_with_the_whole_challenge(
    client: FlaskClient, tmp_path: Path
) -> None:
    """add_note needs notes:write: without it the POST is a 403 the client can step up on,
    naming every scope of the call, and no note is written; other tools still answer."""
    assert call(client, "whoami", token="tok_reader").get_json()["result"]["isError"] is False
    for version, message in (
        ("2025-11-25", rpc("tools/call", {"name": "add_note", "arguments": {"text": "x"}})),
        ("2025-03-26", [rpc("tools/call", {"name": "add_note", "arguments": {"text": "x"}})]),
    ):
        response = post(client, message, token="tok_reader", version=version)
        assert response.status_code == 403
        assert response.get_json()["error"] == "insufficient_scope"
        assert "jsonrpc" not in response.get_json()
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="openid email profile notes:write"' in challenge
        assert f'resource_metadata="{BASE_URL}/.well-known/oauth-protected-resource/mcp"' in (
            challenge
        )
    # Authorization before validation: bad arguments do not reveal anything either.
    assert call(client, "add_note", {"nope": 1}, token="tok_reader").status_code == 403
    listed = call(client, "list_notes", token="tok_reader").get_json()["result"]
    assert listed["structuredContent"]["count"] == 0


def test_a_broad_scope_implies_the_tool_scope_when_configured(
    tmp_path: Path, clerk: responses.RequestsMock
) -> None:
    plain = make_app(tmp_path).test_client()
    assert call(plain, "add_note", {"text": "x"}, token="tok_notes").status_code == 403
    implied = make_app(tmp_path, CLERK_SCOPE_IMPLIES={"notes": ["notes:write"]}).test_client()
    result = call(implied, "add_note", {"text": "x"}, token="tok_notes").get_json()["result"]
    assert result["isError"] is False


def test_metadata_names_the_mcp_endpoint(client: FlaskClient) -> None:
    document = client.get("/.well-known/oauth-protected-resource/mcp").get_json()
    assert document["resource"] == f"{BASE_URL}/mcp"
    assert document["authorization_servers"] == [ISSUER]


# -- HTTP rules ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_allowed(client: FlaskClient, method: str) -> None:
    response = client.open("/mcp", method=method, headers={"Authorization": "Bearer tok_alice"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (BASE_URL, 200),
        ("https://MCP.example.com:443", 200),
        ("https://evil.example.com", 403),
        ("http://mcp.example.com", 403),
        ("https://mcp.example.com:8443", 403),
        ("null", 403),
        ("https://mcp.example.com/path", 403),
    ],
)
def test_origin_must_be_this_server(client: FlaskClient, origin: str, status: int) -> None:
    response = post(client, rpc("ping"), headers={"Origin": origin})
    assert response.status_code == status
    if status == 403:
        assert error_code(response) == -32600


@pytest.mark.parametrize("version", [None, "2025-03-26", "2025-06-18", "2025-11-25"])
def test_handshake_versions_are_accepted(client: FlaskClient, version: str | None) -> None:
    response = post(client, rpc("tools/list"), version=version)
    assert response.status_code == 200
    assert [t["name"] for t in response.get_json()["result"]["tools"]] == [
        "whoami",
        "add_note",
        "list_notes",
    ]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-13-01", "latest", "2026-07-28, x"])
def test_other_versions_are_400(client: FlaskClient, version: str) -> None:
    response = post(client, rpc("tools/list"), version=version)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == -32022
    assert error["data"]["requested"] == version
    assert MODERN in error["data"]["supported"]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/json; charset=latin-1", 415),
        (None, 415),
    ],
)
def test_content_type_must_be_json(
    client: FlaskClient, content_type: str | None, status: int
) -> None:
    headers = {"Authorization": "Bearer tok_alice"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post("/mcp", data=json.dumps(rpc("ping")), headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json, text/event-stream", 200),
        ("application/json", 200),
        ("*/*", 200),
        ("text/event-stream", 406),
        ("text/html", 406),
    ],
)
def test_accept_must_allow_json(client: FlaskClient, accept: str, status: int) -> None:
    response = post(client, rpc("ping"), headers={"Accept": accept})
    assert response.status_code == status


def test_oversized_body_is_413_json(client: FlaskClient) -> None:
    response = post(client, None, raw=b'{"x": "' + b"a" * (1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert error_code(response) == -32600


def test_answers_are_json_and_never_cached(client: FlaskClient) -> None:
    response = post(client, rpc("ping"))
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Mcp-Session-Id" not in response.headers


# -- lifecycle and JSON-RPC ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requested", "negotiated"),
    [
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ],
)
def test_initialize_negotiates(client: FlaskClient, requested: str, negotiated: str) -> None:
    params = {
        "protocolVersion": requested,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    }
    response = post(client, rpc("initialize", params))
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert result["protocolVersion"] == negotiated
    assert result["capabilities"] == {"tools": {}}
    assert result["serverInfo"]["name"] == "flask-clerk-mcp-example"
    assert "Mcp-Session-Id" not in response.headers
    validate_server_result("initialize", negotiated, result)


def test_initialize_needs_a_protocol_version(client: FlaskClient) -> None:
    response = post(client, rpc("initialize", {"capabilities": {}}))
    assert response.status_code == 200
    assert error_code(response) == -32602


@pytest.mark.parametrize("version", [None, "2025-11-25", MODERN])
@pytest.mark.parametrize("method", ["notifications/initialized", "notifications/cancelled"])
def test_notifications_are_accepted_with_202(
    client: FlaskClient, version: str | None, method: str
) -> None:
    response = post(client, {"jsonrpc": "2.0", "method": method}, version=version)
    assert response.status_code == 202
    assert response.data == b""


def test_ping(client: FlaskClient) -> None:
    response = post(client, rpc("ping", id="abc"), version="2025-06-18")
    assert response.get_json() == {"jsonrpc": "2.0", "id": "abc", "result": {}}


def test_parse_error(client: FlaskClient) -> None:
    for raw in (b"{not json", b'{"x": NaN}', "é".encode("latin-1")):
        response = post(client, None, raw=raw)
        assert response.status_code == 400
        assert response.get_json()["id"] is None
        assert error_code(response) == -32700


@pytest.mark.parametrize(
    "body",
    [
        rpc("ping", id="\ud800"),
        rpc("\udfff"),
        rpc("tools/call", {"name": "who\ud800ami"}),
        rpc("tools/call", {"name": "add_note", "arguments": {"\ud800": "x"}}),
        rpc("tools/call", {"name": "add_note", "arguments": {"text": "\ud800"}}),
        rpc("tools/call", {"name": "add_note", "arguments": {"text": "a\udc80b"}}),
    ],
    ids=["id", "method", "name", "argument-key", "note-text", "low-surrogate"],
)
def test_a_lone_surrogate_is_a_parse_error(
    client: FlaskClient, body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # JSON's \uXXXX escapes can spell half a surrogate pair, which no UTF-8 text holds: the
    # message is not text, so it is refused before anything tries to use or answer it.
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as an escape
    assert b"\\ud8" in raw or b"\\udf" in raw or b"\\udc" in raw
    for version in ("2025-11-25", "2025-03-26"):
        response = post(client, None, raw=raw, version=version)
        assert response.status_code == 400
        assert response.get_json()["id"] is None
        assert error_code(response) == -32700
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert call(client, "list_notes").get_json()["result"]["structuredContent"]["count"] == 0


def test_a_proper_surrogate_pair_is_fine(client: FlaskClient) -> None:
    raw = json.dumps(rpc("tools/call", {"name": "add_note", "arguments": {"text": "\U0001f600"}}))
    assert "\\ud83d\\ude00" in raw
    response = post(client, None, raw=raw.encode(), version="2025-11-25")
    assert response.status_code == 200
    assert response.get_json()["result"]["structuredContent"]["note"]["text"] == "\U0001f600"


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "method": "ping"},  # no jsonrpc
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"},
        {"jsonrpc": "2.0", "id": 1},
        "ping",
        42,
    ],
)
def test_invalid_request(client: FlaskClient, body: Any) -> None:
    response = post(client, body, version="2025-11-25")
    assert response.status_code == 400
    assert error_code(response) == -32600


def test_invalid_request_keeps_a_readable_id(client: FlaskClient) -> None:
    response = post(client, {"jsonrpc": "1.0", "id": 9, "method": "ping"})
    assert response.get_json()["id"] == 9


def test_method_not_found(client: FlaskClient) -> None:
    response = post(client, rpc("resources/list"), version="2025-11-25")
    assert response.status_code == 200
    assert error_code(response) == -32601
    # server/discover belongs to 2026-07-28 only.
    assert error_code(post(client, rpc("server/discover"), version="2025-11-25")) == -32601


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"name": 5},
        {"name": "whoami", "arguments": []},
        {"name": "whoami", "arguments": "x"},
        {"name": "no_such_tool"},
    ],
)
def test_tools_call_invalid_params(client: FlaskClient, params: dict[str, Any]) -> None:
    response = post(client, rpc("tools/call", params), version="2025-11-25")
    assert error_code(response) == -32602


def test_array_params_are_invalid_params(client: FlaskClient) -> None:
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": []})
    assert error_code(response) == -32602


def test_tools_list_rejects_a_cursor_it_never_gave(client: FlaskClient) -> None:
    assert error_code(post(client, rpc("tools/list", {"cursor": "x"}))) == -32602


def test_posted_response_is_accepted_before_2026(client: FlaskClient) -> None:
    response = post(client, {"jsonrpc": "2.0", "id": 3, "result": {}}, version="2025-11-25")
    assert response.status_code == 202


# -- batches: 2025-03-26 only ----------------------------------------------------------------
def test_batch_in_2025_03_26(client: FlaskClient) -> None:
    batch = [
        rpc("ping", id=1),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        rpc("tools/list", id=2),
        {"jsonrpc": "2.0", "id": 3},
        rpc("initialize", {"protocolVersion": "2025-03-26", "capabilities": {}}, id=4),
    ]
    response = post(client, batch)
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.get_json() if a["id"] is not None}
    assert answers[1]["result"] == {}
    assert len(answers[2]["result"]["tools"]) == 3
    assert answers[3]["error"]["code"] == -32600
    assert answers[4]["error"]["code"] == -32600  # initialize cannot be batched
    assert len(response.get_json()) == 4


def test_batch_of_notifications_is_202(client: FlaskClient) -> None:
    batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    assert post(client, batch).status_code == 202


def test_empty_batch_is_invalid(client: FlaskClient) -> None:
    response = post(client, [])
    assert response.status_code == 400
    assert error_code(response) == -32600


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
def test_batches_are_refused_after_2025_03_26(client: FlaskClient, version: str) -> None:
    response = post(client, [rpc("ping")], version=version)
    assert response.status_code == 400
    assert error_code(response) == -32600


# -- 2026-07-28: per-request envelope --------------------------------------------------------
def test_discover(client: FlaskClient) -> None:
    response = modern(client, "server/discover")
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert result["supportedVersions"] == [MODERN]
    assert result["capabilities"] == {"tools": {}}
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == (
        "flask-clerk-mcp-example"
    )
    validate_server_result("server/discover", MODERN, result)


def test_modern_tools_list_and_call(client: FlaskClient) -> None:
    listed = modern(client, "tools/list").get_json()["result"]
    validate_server_result("tools/list", MODERN, listed)
    assert listed["resultType"] == "complete"
    assert isinstance(listed["ttlMs"], int)
    called = modern(client, "tools/call", {"name": "whoami"}).get_json()["result"]
    validate_server_result("tools/call", MODERN, called)
    assert called["structuredContent"]["email"] == "alice@example.com"
    assert called["resultType"] == "complete"


def test_modern_request_without_envelope_is_invalid_params(client: FlaskClient) -> None:
    response = post(client, rpc("tools/list"), version=MODERN, headers={"Mcp-Method": "tools/list"})
    assert response.status_code == 400
    assert error_code(response) == -32602


@pytest.mark.parametrize(
    "headers",
    [
        {"Mcp-Method": "tools/list"},  # disagrees with the body
        {"Mcp-Method": ""},
        {"Mcp-Name": "list_notes"},  # disagrees with params.name
        {"Mcp-Name": "=?base64?!!!?="},
        {"Mcp-Name": "=?base64?\u00e9?="},  # not ASCII: b64decode raises a plain ValueError
    ],
)
def test_modern_header_mismatch(client: FlaskClient, headers: dict[str, str]) -> None:
    response = modern(client, "tools/call", {"name": "whoami"}, headers=headers)
    assert response.status_code == 400
    assert error_code(response) == -32020


def test_modern_needs_the_method_header(client: FlaskClient) -> None:
    body = rpc(
        "tools/list",
        {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    )
    response = post(client, body, version=MODERN)
    assert response.status_code == 400
    assert error_code(response) == -32020


def test_modern_envelope_version_must_match_the_header(client: FlaskClient) -> None:
    body = rpc(
        "tools/list",
        {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2025-11-25",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    )
    response = post(client, body, version=MODERN, headers={"Mcp-Method": "tools/list"})
    assert error_code(response) == -32020


def test_modern_name_header_may_be_base64(client: FlaskClient) -> None:
    response = modern(
        client, "tools/call", {"name": "whoami"}, headers={"Mcp-Name": "=?base64?d2hvYW1p?="}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["initialize", "ping", "resources/list"])
def test_modern_has_no_handshake_methods(client: FlaskClient, method: str) -> None:
    response = modern(client, method)
    assert response.status_code == 404
    assert error_code(response) == -32601


def test_modern_refuses_posted_responses(client: FlaskClient) -> None:
    response = post(client, {"jsonrpc": "2.0", "id": 3, "result": {}}, version=MODERN)
    assert response.status_code == 400


def test_modern_unknown_tool_is_400(client: FlaskClient) -> None:
    response = modern(client, "tools/call", {"name": "nope"})
    assert response.status_code == 400
    assert error_code(response) == -32602


# -- the tools -------------------------------------------------------------------------------
def _definitions(client: FlaskClient) -> dict[str, dict[str, Any]]:
    tools = post(client, rpc("tools/list"), version="2025-11-25").get_json()["result"]["tools"]
    return {tool["name"]: tool for tool in tools}


def test_tools_list_needs_no_initialize_and_has_schemas(client: FlaskClient) -> None:
    result = post(client, rpc("tools/list"), version="2025-06-18").get_json()["result"]
    validate_server_result("tools/list", "2025-06-18", result)
    for tool in result["tools"]:
        assert tool["inputSchema"]["type"] == "object"
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])
        jsonschema.Draft202012Validator.check_schema(tool["outputSchema"])
        assert tool["description"]


def test_whoami_reflects_the_caller(client: FlaskClient) -> None:
    schema = _definitions(client)["whoami"]["outputSchema"]
    for token, subject, email in (
        ("tok_alice", "user_alice", "alice@example.com"),
        ("tok_bob", "user_bob", "bob@example.com"),
    ):
        result = call(client, "whoami", token=token).get_json()["result"]
        validate_server_result("tools/call", "2025-11-25", result)
        assert result["isError"] is False
        identity = result["structuredContent"]
        jsonschema.validate(identity, schema)
        assert identity == {
            "subject": subject,
            "email": email,
            "name": USERS[subject]["name"],
            "client_id": CLIENT_ID,
            "scopes": ["openid", "email", "profile", "notes:write"],
        }
        assert result["content"][0]["type"] == "text"
        assert email in result["content"][0]["text"]


def test_notes_are_kept_per_user(client: FlaskClient) -> None:
    schemas = _definitions(client)
    for text in ("alice one", "alice two"):
        result = call(client, "add_note", {"text": text}).get_json()["result"]
        assert result["isError"] is False
        jsonschema.validate(result["structuredContent"], schemas["add_note"]["outputSchema"])
    bob = call(client, "add_note", {"text": "bob's secret"}, token="tok_bob").get_json()["result"]
    assert bob["structuredContent"]["count"] == 1
    assert bob["structuredContent"]["note"]["id"] == 1

    alice_notes = call(client, "list_notes").get_json()["result"]
    jsonschema.validate(alice_notes["structuredContent"], schemas["list_notes"]["outputSchema"])
    assert [n["text"] for n in alice_notes["structuredContent"]["notes"]] == [
        "alice one",
        "alice two",
    ]
    assert "bob" not in alice_notes["content"][0]["text"]
    bob_notes = call(client, "list_notes", token="tok_bob").get_json()["result"]
    assert [n["text"] for n in bob_notes["structuredContent"]["notes"]] == ["bob's secret"]


def test_list_notes_when_empty(client: FlaskClient) -> None:
    result = call(client, "list_notes").get_json()["result"]
    assert result["structuredContent"] == {"notes": [], "count": 0}


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("add_note", {}),
        ("add_note", {"text": ""}),
        ("add_note", {"text": "   "}),
        ("add_note", {"text": 5}),
        ("add_note", {"text": "x" * 2001}),
        ("add_note", {"text": "ok", "color": "red"}),
        ("whoami", {"verbose": True}),
        ("list_notes", {"limit": 3}),
    ],
)
def test_tool_failures_are_is_error_results(
    client: FlaskClient, name: str, arguments: dict[str, Any]
) -> None:
    response = call(client, name, arguments)
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert result["isError"] is True
    assert result["content"][0]["type"] == "text"
    assert "structuredContent" not in result
    validate_server_result("tools/call", "2025-11-25", result)


def test_a_crashing_tool_reveals_nothing(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: NoteStore, subject: str) -> list[Any]:
        raise OSError("/secret/path is on fire")

    monkeypatch.setattr(NoteStore, "notes_of", explode)
    result = call(client, "list_notes").get_json()["result"]
    assert result["isError"] is True
    assert "/secret" not in json.dumps(result)


def test_note_limit(tmp_path: Path) -> None:
    store = NoteStore(tmp_path, max_notes=2)
    store.add("u", "a")
    store.add("u", "b")
    with pytest.raises(Exception, match="2 notes"):
        store.add("u", "c")


def test_note_store_is_safe_across_threads(tmp_path: Path) -> None:
    store = NoteStore(tmp_path)

    def add_many(index: int) -> None:
        for n in range(10):
            NoteStore(tmp_path).add("user_x", f"{index}-{n}")  # separate opens, as workers do

    threads = [threading.Thread(target=add_many, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    notes = store.notes_of("user_x")
    assert len(notes) == 80
    assert sorted(n.id for n in notes) == list(range(1, 81))
    assert not list(tmp_path.glob("*.tmp"))


def test_note_files_do_not_name_the_user(tmp_path: Path) -> None:
    store = NoteStore(tmp_path)
    store.add("../../etc/passwd", "x")
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())
    assert store.notes_of("../../etc/passwd")[0].text == "x"
    assert store.notes_of("someone else") == []


# -- the app around it -----------------------------------------------------------------------
def test_landing_page_is_public(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"{BASE_URL}/mcp" in page
    assert f"{BASE_URL}/.well-known/oauth-protected-resource/mcp" in page
    assert "add_note" in page
    assert 'href="/login' not in page


def test_landing_page_names_clerk_without_the_proxy(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Authorization server (Clerk)" in page and f"<code>{ISSUER}</code>" in page


def test_landing_page_names_this_server_in_proxy_mode(
    tmp_path: Path, clerk: responses.RequestsMock
) -> None:
    app = make_app(tmp_path, SECRET_KEY="k" * 32, CLERK_STORE="memory:")
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Authorization server (this server, in front of Clerk)" in page
    assert f"<dd><code>{BASE_URL}</code></dd>" in page
    assert "consent page" in page
    document = app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert document["issuer"] == BASE_URL


def test_landing_page_links_to_login_once_it_exists(
    tmp_path: Path, clerk: responses.RequestsMock
) -> None:
    app = make_app(tmp_path)
    login = Blueprint("clerk_login", __name__)
    login.add_url_rule("/login", "login", lambda: "sign in")
    app.register_blueprint(login)
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'href="/login?next=/account"' in page


def test_worker_pid_header_only_when_asked(tmp_path: Path, clerk: responses.RequestsMock) -> None:
    assert WORKER_PID_HEADER not in make_app(tmp_path).test_client().get("/").headers
    exposed = make_app(tmp_path, EXPOSE_WORKER_PID="1").test_client()
    assert exposed.get("/").headers[WORKER_PID_HEADER].isdigit()
    assert post(exposed, rpc("ping")).headers[WORKER_PID_HEADER].isdigit()


def test_create_app_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_CLERK_ISSUER_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FLASK_CLERK_CLIENT_ID", "12345")
    monkeypatch.setenv("FLASK_CLERK_CLIENT_SECRET", "s")
    monkeypatch.setenv("FLASK_CLERK_BASE_URL", "http://127.0.0.1:8")
    monkeypatch.setenv("FLASK_CLERK_MCP_PATH", "/tools/mcp")
    monkeypatch.setenv("FLASK_NOTES_DIR", str(tmp_path))
    app = create_app()
    assert app.config["NOTES_DIR"] == str(tmp_path)
    assert app.extensions["clerk_mcp"].settings.client_id == "12345"
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules["/tools/mcp"] == "mcp"
    response = app.test_client().post("/tools/mcp")
    assert "oauth-protected-resource/tools/mcp" in response.headers["WWW-Authenticate"]


def test_banner_landing_page_and_readme_name_the_token_alike(client: FlaskClient) -> None:
    """Pasting the banner's ``export`` line, then any of the curls, sends that very token."""
    banner = emulator_banner(BASE_URL, ISSUER, "tok_printed", ["whoami"], Path("logs"))
    assert re.findall(r"^ *export (\w+)=tok_printed$", banner, re.MULTILINE) == [TOKEN_VARIABLE]
    readme = (Path(__file__).resolve().parents[2] / "example_app" / "README.md").read_text()
    texts = {"banner": banner, "landing page": client.get("/").get_data(as_text=True)}
    texts["example_app/README.md"] = readme
    for where, text in texts.items():
        used = re.findall(r"Bearer \$\{?(\w+)", text)
        assert used, f"{where} shows no curl with the token"
        assert set(used) == {TOKEN_VARIABLE}, f"{where} uses {used}"
    assert "tok_printed" not in banner.split("export", 1)[1].split("\n", 1)[1]  # $TOKEN only
