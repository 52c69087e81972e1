"""The example MCP server under gunicorn (2 workers) against the Clerk emulator, over real HTTP."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests

from .conftest import ExampleServer

pytestmark = pytest.mark.integration

TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def test_no_token_gets_401_naming_the_metadata(example_server: ExampleServer) -> None:
    clerk = example_server.clerk
    before = clerk.counters()["token_info"]
    response = example_server.post(TOOLS_LIST, None)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    match = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert match, challenge
    assert match.group(1) == f"{example_server.url}/.well-known/oauth-protected-resource/mcp"
    assert 'scope="openid email profile"' in challenge
    assert clerk.counters()["token_info"] == before  # refused without asking Clerk

    # The discovery chain an MCP client follows: the metadata, then Clerk's own.
    document = requests.get(match.group(1), timeout=10).json()
    assert document["resource"] == example_server.mcp_url
    assert document["authorization_servers"] == [clerk.issuer]
    assert document["bearer_methods_supported"] == ["header"]
    assert set(document["scopes_supported"]) == {"openid", "email", "profile"}
    server_metadata = requests.get(
        clerk.issuer + "/.well-known/oauth-authorization-server", timeout=10
    ).json()
    assert server_metadata["issuer"] == clerk.issuer
    assert "S256" in server_metadata["code_challenge_methods_supported"]


def test_pkce_token_lists_and_calls_tools(example_server: ExampleServer) -> None:
    token = example_server.token("alice")
    listed = example_server.post(TOOLS_LIST, token)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["result"]["tools"]] == [
        "whoami",
        "add_note",
        "list_notes",
    ]
    identity = example_server.call(token, "whoami")["structuredContent"]
    assert identity["email"] == "alice@example.com"
    assert identity["name"] == "Alice Liddell"
    assert identity["client_id"] == "emu_client_demo"
    assert identity["subject"].startswith("user_")
    assert identity["scopes"] == ["openid", "email", "profile", "notes:write"]


def test_notes_stay_with_their_user_on_every_worker(example_server: ExampleServer) -> None:
    alice, bob = example_server.token("alice"), example_server.token("bob")
    for n in range(4):
        assert not example_server.call(alice, "add_note", {"text": f"alice {n}"})["isError"]
    bob_notes = example_server.call(bob, "list_notes")["structuredContent"]["notes"]
    assert not [n for n in bob_notes if n["text"].startswith("alice ")]
    assert example_server.call(bob, "whoami")["structuredContent"]["email"] == "bob@example.com"
    for _ in range(4):  # whichever worker answers, alice sees hers
        texts = [
            n["text"]
            for n in example_server.call(alice, "list_notes")["structuredContent"]["notes"]
        ]
        assert {f"alice {n}" for n in range(4)} <= set(texts)


def test_concurrent_notes_on_both_workers_are_all_kept(example_server: ExampleServer) -> None:
    token = example_server.token("bob")
    start = example_server.call(token, "list_notes")["structuredContent"]["count"]
    workers: set[str] = set()
    added = 0
    lock = threading.Lock()
    failures: list[Any] = []

    def add(label: str) -> None:
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "add_note", "arguments": {"text": label}},
        }
        response = example_server.post(message, token)
        with lock:
            if response.status_code != 200 or response.json()["result"]["isError"]:
                failures.append(response.text)
            workers.add(example_server.worker(response))

    for round_ in range(5):  # until both workers have written (almost always the first round)
        threads = [threading.Thread(target=add, args=(f"r{round_}-{i}",)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        added += len(threads)
        if len(workers) == 2:
            break
    assert not failures
    assert len(workers) == 2, "every request went to one worker"
    notes = example_server.call(token, "list_notes")["structuredContent"]["notes"]
    assert len(notes) == start + added
    assert len({n["id"] for n in notes}) == len(notes)


def test_insufficient_scope_is_403(example_server: ExampleServer) -> None:
    token = example_server.token("alice", scopes=("openid", "profile"))
    response = example_server.post(TOOLS_LIST, token)
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid email profile"' in challenge
    assert "resource_metadata=" in challenge


def test_a_tool_scope_refusal_is_403_under_gunicorn(example_server: ExampleServer) -> None:
    """add_note's own scope: a token without it reads but cannot write, and the refusal is
    the HTTP 403 a client steps up on, naming every scope the call needs."""
    reader = example_server.token("alice", scopes=("openid", "email", "profile"))
    assert example_server.call(reader, "list_notes")["isError"] is False
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "add_note", "arguments": {"text": "never saved"}},
    }
    response = example_server.post(message, reader)
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid email profile notes:write"' in challenge
    texts = [
        n["text"] for n in example_server.call(reader, "list_notes")["structuredContent"]["notes"]
    ]
    assert "never saved" not in texts


def test_revoked_token_is_refused_without_cache(example_server_nocache: ExampleServer) -> None:
    server = example_server_nocache
    token = server.token("alice")
    assert server.post(TOOLS_LIST, token).status_code == 200
    server.clerk.revoke(token)
    refused = server.post(TOOLS_LIST, token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


@pytest.mark.parametrize("mode", ["500", "html", "drop", "hang"])
def test_clerk_faults_are_503_then_recover(
    example_server_nocache: ExampleServer, mode: str
) -> None:
    server = example_server_nocache
    token = server.token("alice")
    server.clerk.fault(mode, hang_seconds=3)  # longer than the server's CLERK_TIMEOUT=1
    failed = server.post(TOOLS_LIST, token)
    assert failed.status_code == 503, failed.text
    assert failed.headers["Retry-After"].isdigit()
    assert failed.json()["error"] == "temporarily_unavailable"
    recovered = server.post(TOOLS_LIST, token)
    assert recovered.status_code == 200, recovered.text


def test_workers_share_the_load_and_introspect_once_each(example_server: ExampleServer) -> None:
    """Sequential requests on new connections reach both workers; with the default cache (a
    SimpleCache per worker) each worker asks Clerk once about the token, then trusts its cache."""
    clerk = example_server.clerk
    token = example_server.token("alice")  # never seen by either worker
    clerk.reset_counters()
    workers: list[str] = []
    while len(workers) < 20 or len(set(workers)) < 2:
        response = example_server.post(TOOLS_LIST, token)
        assert response.status_code == 200, response.text
        workers.append(example_server.worker(response))
        assert len(workers) < 200, "every request went to one worker"
    counters = clerk.counters()
    assert len(set(workers)) == 2
    assert counters["token_info"] == 2, counters
    assert counters["userinfo"] == 2, counters
