"""A real headless Chromium (Debian's, driven by Playwright for Python), the emulator as its
own process, and the example app under gunicorn.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``, which
``make test`` installs (scripts/system-deps.sh). A missing browser is a failure that says so,
never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.emulator import EmulatorProcess
from tests.support.gunicorn import GunicornServer, start_gunicorn

CHROMIUM = "/usr/bin/chromium"
#: A host name of another site; the browser maps it to loopback (see CHROMIUM_ARGS).
HOSTILE_SITE = "evil.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A second site on loopback: evil.test resolves to 127.0.0.1 in this browser only, so a
    # page served from it is cross-site (another registrable domain) to the app on 127.0.0.1.
    f"--host-resolver-rules=MAP {HOSTILE_SITE} 127.0.0.1",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT = 15


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing; run `make test`, which installs it "
            "(scripts/system-deps.sh), or `sudo apt-get install chromium`"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()  # a fresh cookie jar per test
    context.set_default_timeout(TIMEOUT * 1000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def clerk() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


@pytest.fixture(scope="module")
def example_app(
    clerk: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GunicornServer]:
    workdir = tmp_path_factory.mktemp("example-app")
    env = {
        "FLASK_SECRET_KEY": "e2e-secret-key",
        "FLASK_CLERK_ISSUER_URL": clerk.issuer,
        "FLASK_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
        "FLASK_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "FLASK_CLERK_STORE": f"file:{workdir / 'store'}",
        "FLASK_NOTES_DIR": str(workdir / "notes"),
    }
    with start_gunicorn(
        "example_app.wsgi:app",
        lambda url: {**env, "FLASK_CLERK_BASE_URL": url},
        log_dir=workdir,
    ) as server:
        answer = requests.post(
            f"{clerk.issuer}/__emulator/clients/{DEMO_CLIENT_ID}/redirect_uris",
            json={"redirect_uri": server.url + "/auth/callback"},
            timeout=TIMEOUT,
        )
        answer.raise_for_status()
        yield server


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
