"""``python -m example_app`` (what ``make demo`` runs), started as a real subprocess.

It must print a token and a curl that work as printed, its account page must sign a browser
in through the emulator (two workers sharing the login store), and a Ctrl-C (SIGINT to it
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

    def __init__(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "FLASK_NOTES_DIR": str(tmp_path / "notes"),
        }
        for key in ("CLERK_DOMAIN", "CLERK_CLIENT_ID", "CLERK_CLIENT_SECRET"):
            env.pop(key, None)  # the offline path, whatever the developer's shell holds
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
    whoami = requests.post(
        app_url.group(1),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        data=json.dumps(
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}}
        ),
        timeout=15,
    ).json()
    assert whoami["result"]["structuredContent"]["email"] == "alice@example.com"
    document = requests.get(metadata_url.group(1), timeout=15).json()
    assert document["resource"] == app_url.group(1)
    assert document["authorization_servers"] == [issuer.group(1)]

    _browser_sign_in_works(app_url.group(1).removesuffix("/mcp"))

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
