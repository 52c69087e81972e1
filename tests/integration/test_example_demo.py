"""``python -m example_app`` (what ``make demo`` runs), started as a real subprocess.

It must print a token and a curl that work as printed, its account page must sign a browser
in through the emulator (two workers sharing the login store), an MCP client must log in by
itself through the proxy (the default mode) or at the emulator (``CLERK_MCP_MODE=direct``),
and a Ctrl-C (SIGINT to it
alone, as a terminal delivers it to the foreground process while the children sit in their own
process groups) must leave no process behind: not the emulator, not gunicorn's master, not a
worker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from flask_clerk_mcp.emulator.driver import authorize_in_browserless_flow

pytestmark = pytest.mark.integration

READY = "Press Ctrl-C to stop everything."
STARTUP_TIMEOUT = 45.0


def _descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``: pid -> command line (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    pending = [root]
    while pending:
        for pid in children.get(pending.pop(), []):
            found[pid] = _cmdline(pid)
            pending.append(pid)
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _still_running(pid: int, cmdline: str) -> bool:
    """Alive, not a zombie, and still the same program (pids can be reused)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and _cmdline(pid) == cmdline


class Demo:
    """The demo process, its output collected line by line in a thread."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "FLASK_NOTES_DIR": str(tmp_path / "notes"),
        }
        for key in ("CLERK_DOMAIN", "CLERK_CLIENT_ID", "CLERK_CLIENT_SECRET", "CLERK_MCP_MODE"):
            env.pop(key, None)  # the offline path, whatever the developer's shell holds
        env.update(extra)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "example_app"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # so only this test's SIGINT reaches it
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if READY in line:
                self.ready.set()
        self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> None:
        assert self.ready.wait(STARTUP_TIMEOUT), f"demo not ready:\n{self.output}"
        assert READY in self.output, f"demo stopped early:\n{self.output}"

    def finish(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    yield running
    if running.process.poll() is None:  # a failed test: do not leave it running
        os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait(10)


def _first_curl(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("curl "))
    command = []
    for line in lines[start:]:
        command.append(line.strip().removesuffix("\\").strip())
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(command)


def _replay(curl: str, token: str) -> requests.Response:
    """Send what the curl command line says, with requests (no shell involved; ``$TOKEN`` is
    what the shell would expand it to after the banner's ``export`` line)."""
    words = [word.replace("$TOKEN", token) for word in shlex.split(curl)]
    assert words[0] == "curl"
    url = next(w for w in words[1:] if w.startswith("http"))
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    data = words[words.index("-d") + 1]
    return requests.post(url, headers=headers, data=data, timeout=15)


def _mcp_post(url: str, token: str, message: dict[str, object]) -> requests.Response:
    """One JSON-RPC message to the MCP endpoint with a bearer token, as an MCP client sends it."""
    return requests.post(
        url,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        data=json.dumps(message),
        timeout=15,
    )


def _browser_sign_in_works(app: str) -> None:
    """The printed account page: a browser is sent to Clerk and back, then sees who it is."""
    browser = requests.Session()
    html = {"Accept": "text/html"}
    to_login = browser.get(app + "/account", headers=html, allow_redirects=False, timeout=15)
    assert to_login.status_code == 302, to_login.text
    to_clerk = browser.get(
        urljoin(app, to_login.headers["Location"]), allow_redirects=False, timeout=15
    )
    assert to_clerk.status_code == 302, to_clerk.text
    callback = authorize_in_browserless_flow(to_clerk.headers["Location"], "bob", session=browser)
    back = browser.get(callback, allow_redirects=False, timeout=15)
    assert back.status_code in (302, 303), back.text
    page = browser.get(urljoin(app, back.headers["Location"]), headers=html, timeout=15)
    assert page.status_code == 200
    assert "bob@example.com" in page.text
    assert 'href="/login?next=/account"' in browser.get(app + "/", timeout=15).text


def _mcp_client_login_works(app: str, authorization_server: str) -> None:
    """What an OAuth MCP client does, found through the metadata: register (DCR), authorize,
    sign in at Clerk, redeem the code, call a tool. A real HTTP client with a cookie jar
    plays the browser; the redirect to the client's loopback URI is read, not followed."""
    from tests.mcp.flow import consent_fields_of_html, pkce

    http = requests.Session()
    meta_url = authorization_server + "/.well-known/oauth-authorization-server"
    metadata = http.get(meta_url, timeout=15).json()
    assert metadata["issuer"] == authorization_server
    redirect_uri = "http://127.0.0.1:33418/callback"
    client = http.post(
        metadata["registration_endpoint"],
        json={
            "redirect_uris": [redirect_uri],
            "client_name": "demo test client",
            "grant_types": ["authorization_code", "refresh_token"],
        },
        timeout=15,
    ).json()
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": app + "/mcp",
    }
    page = http.get(metadata["authorization_endpoint"], params=query, timeout=15)
    fields = consent_fields_of_html(page.text)
    to_clerk = http.post(
        urljoin(app, "/oauth/consent"),
        data={**fields, "action": "approve"},
        allow_redirects=False,
        timeout=15,
    )
    assert to_clerk.status_code == 303, to_clerk.text
    callback = authorize_in_browserless_flow(to_clerk.headers["Location"], "bob", session=http)
    back = http.get(callback, allow_redirects=False, timeout=15)
    assert back.headers["Location"].startswith(redirect_uri + "?code="), back.text
    code = dict(
        item.split("=", 1) for item in back.headers["Location"].split("?", 1)[1].split("&")
    )["code"]
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client["client_id"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "resource": app + "/mcp",
        },
        timeout=15,
    ).json()
    whoami = _mcp_post(
        app + "/mcp",
        tokens["access_token"],
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami"}},
    ).json()
    assert whoami["result"]["structuredContent"]["email"] == "bob@example.com"


def test_demo_direct_mode_sends_mcp_clients_to_the_emulator(tmp_path: Path) -> None:
    demo = Demo(tmp_path, CLERK_MCP_MODE="direct")
    try:
        demo.wait_ready()
        output = demo.output
        issuer = re.search(r"Clerk \(emulator\)\s+(http://\S+)", output)
        metadata_url = re.search(r"Resource metadata\s+(http://\S+)", output)
        assert issuer and metadata_url, output
        assert "Mode                 direct" in output
        document = requests.get(metadata_url.group(1), timeout=15).json()
        assert document["authorization_servers"] == [issuer.group(1)]
        app = metadata_url.group(1).split("/.well-known")[0]
        assert (
            requests.get(app + "/.well-known/oauth-authorization-server", timeout=15).status_code
            == 404
        )
        # An MCP client registered at the emulator under its own id is accepted when its token
        # is bound to this server (aud = the resource it asked for), and only then: no "*".
        from flask_clerk_mcp.emulator.driver import sign_in_with_pkce

        registered = requests.post(
            issuer.group(1) + "/oauth/register",
            json={
                "redirect_uris": ["http://127.0.0.1:33418/callback"],
                "client_name": "direct",
                "token_endpoint_auth_method": "none",
            },
            timeout=15,
        ).json()
        tokens = sign_in_with_pkce(
            issuer.group(1),
            registered["client_id"],
            "http://127.0.0.1:33418/callback",
            resource=app + "/mcp",
        )
        listed = _mcp_post(
            app + "/mcp",
            tokens["access_token"],
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert listed.status_code == 200, listed.text
        unbound = sign_in_with_pkce(
            issuer.group(1), registered["client_id"], "http://127.0.0.1:33418/callback"
        )
        refused = _mcp_post(
            app + "/mcp",
            unbound["access_token"],
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert refused.status_code == 401, refused.text
    finally:
        if demo.process.poll() is None:
            os.kill(demo.process.pid, signal.SIGINT)
            assert demo.finish() == 0, demo.output


def test_demo_prints_a_working_token_and_curl_and_stops_cleanly(demo: Demo) -> None:
    demo.wait_ready()
    output = demo.output
    export = re.search(r"^ *(export TOKEN=(\S+))$", output, re.MULTILINE)
    assert export, output
    token = export.group(2)
    app_url = re.search(r"MCP endpoint\s+(http://\S+)", output)
    assert app_url, output
    metadata_url = re.search(r"Resource metadata\s+(http://\S+)", output)
    assert metadata_url, output
    issuer = re.search(r"Clerk \(emulator\)\s+(http://\S+)", output)
    assert issuer, output

    curl = _first_curl(output)
    assert '-H "Authorization: Bearer $TOKEN"' in curl  # the exported variable, expanded
    assert "MCP-Protocol-Version: " in curl
    assert app_url.group(1) in curl
    listed = _replay(curl, token)
    assert listed.status_code == 200, listed.text
    assert [t["name"] for t in listed.json()["result"]["tools"]] == [
        "whoami",
        "add_note",
        "list_notes",
    ]
    # And the two printed lines themselves, pasted into a shell as a user would (curl is a
    # system package of the tool chain: scripts/system-deps.sh installs it).
    assert shutil.which("curl"), "curl is missing: run `make test` (scripts/system-deps.sh)"
    environment = {k: v for k, v in os.environ.items() if k != "TOKEN"}
    ran = subprocess.run(  # noqa: S602 - the demo's own output, run as a user would
        f"{export.group(1)}\n{curl}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=15,
        check=True,
        env=environment,
    )
    assert [t["name"] for t in json.loads(ran.stdout)["result"]["tools"]] == [
        "whoami",
        "add_note",
        "list_notes",
    ]
    whoami = _mcp_post(
        app_url.group(1),
        token,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}},
    ).json()
    assert whoami["result"]["structuredContent"]["email"] == "alice@example.com"
    document = requests.get(metadata_url.group(1), timeout=15).json()
    assert document["resource"] == app_url.group(1)
    base_url = app_url.group(1).removesuffix("/mcp")
    assert document["authorization_servers"] == [base_url]  # proxy mode, the default
    assert "Mode                 proxy" in output

    _browser_sign_in_works(base_url)
    _mcp_client_login_works(base_url, document["authorization_servers"][0])

    children = _descendants(demo.process.pid)
    commands = " | ".join(children.values())
    assert "flask_clerk_mcp.emulator" in commands
    assert sum("gunicorn" in c for c in children.values()) == 3, commands  # master + 2 workers

    os.kill(demo.process.pid, signal.SIGINT)
    assert demo.finish() == 0, demo.output
    assert "Stopped: no process left behind." in demo.output
    deadline = time.monotonic() + 5
    while True:
        left = {pid: cmd for pid, cmd in children.items() if _still_running(pid, cmd)}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"left behind: {left}"
