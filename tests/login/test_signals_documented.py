"""Every signal the README documents is sent, with exactly the arguments it documents.

The README's table is the source: the test reads it, connects to every signal it names, walks
the flows that send them (a refused and a verified request, a tool-scope refusal, a login, a
refresh, a logout) against the emulator, and compares what arrived with what is written.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_clerk_mcp import AccessToken, require_clerk, require_scopes, signals
from flask_clerk_mcp.login import clock

from .conftest import BASE_URL, HTML, sign_in

README = Path(__file__).resolve().parents[2] / "README.md"
TYPES: dict[str, tuple[type, ...]] = {
    "AccessToken": (AccessToken,),
    "str": (str,),
    "int": (int,),
    "str | None": (str, type(None)),
}


def documented() -> dict[str, dict[str, str]]:
    """``{signal: {argument: type}}`` from the README's signals table."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- signals-start -->(.*?)<!-- signals-end -->", text, re.S)
    assert block, "the README lost its signals table"
    table: dict[str, dict[str, str]] = {}
    for row in block.group(1).strip().splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        name, arguments = cells[0].strip("`"), cells[2].strip("`").replace("\\|", "|")
        table[name] = dict(
            (part.split(":")[0].strip(), part.split(":", 1)[1].strip())
            for part in re.split(r",\s*(?=\w+:)", arguments)
        )
    return table


def test_the_table_documents_every_signal_of_the_module() -> None:
    table = documented()
    in_module = {
        name for name, value in vars(signals).items() if isinstance(value, type(signals.logged_out))
    }
    assert set(table) == in_module
    assert all(all(kind in TYPES for kind in args.values()) for args in table.values())


def test_each_documented_signal_is_sent_with_the_documented_arguments(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    @app.get("/api/write")
    @require_clerk
    def write() -> str:
        require_scopes("notes:write")
        return "never"

    table = documented()
    received: dict[str, list[dict[str, Any]]] = {name: [] for name in table}
    receivers = []
    for name in table:

        def receive(sender: Any, _name: str = name, **arguments: Any) -> None:
            assert sender is app
            received[_name].append(arguments)

        receivers.append(receive)
        getattr(signals, name).connect(receive, app)
    try:
        assert client.get("/api/me").status_code == 401  # token_rejected, no client id
        sign_in(client)  # login_completed
        assert client.get("/account", headers=HTML).status_code == 200  # token_verified
        start = time.time()
        monkeypatch.setattr(clock, "now", lambda: start + 86400 - 30)
        assert client.get("/account", headers=HTML).status_code == 200  # token_refreshed
        token = received["token_refreshed"][0]["token"].token
        refused = client.get("/api/write", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403  # token_rejected, with the client id
        assert client.post("/logout", headers={"Origin": BASE_URL}).status_code == 303
    finally:
        for name, receive in zip(table, receivers, strict=True):
            getattr(signals, name).disconnect(receive, app)

    for name, arguments in table.items():
        assert received[name], f"{name} was never sent"
        for event in received[name]:
            assert set(event) == set(arguments), name
            for argument, kind in arguments.items():
                assert isinstance(event[argument], TYPES[kind]), (name, argument)
    rejected = received["token_rejected"]
    assert [event["client_id"] for event in rejected] == [None, "emu_client_demo"]
    assert [event["status"] for event in rejected] == [401, 403]
    assert received["logged_out"] == [{"subject": received["login_completed"][0]["token"].subject}]
