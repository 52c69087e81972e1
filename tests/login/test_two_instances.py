"""Two gunicorn instances sharing one store: a login started on one completes on the other.

This is what a deployment behind a load balancer does (or a rolling restart between the
two halves of a login): the transaction, the browser binding and the session must all live
in the shared store, never in one process's memory. The emulator runs as its own process, as
Clerk would; both instances are ``example_app.wsgi:app`` with 2 workers each, sharing
``SECRET_KEY`` and ``CLERK_STORE``, and both public under instance B's URL (``CLERK_BASE_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import authorize_in_browserless_flow
from tests.support.emulator import EmulatorProcess
from tests.support.gunicorn import GunicornServer, start_gunicorn
from tests.support.redis_server import redis_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

TIMEOUT = 15
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def clerk() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


@pytest.fixture(params=["file", "redis"])
def instances(
    request: pytest.FixtureRequest, clerk: EmulatorProcess, tmp_path: Path
) -> Iterator[tuple[GunicornServer, GunicornServer]]:
    if request.param == "file":
        store = f"file:{tmp_path / 'shared-store'}"
    else:
        store = request.getfixturevalue("redis_url")
    common = {
        "FLASK_SECRET_KEY": "shared-secret-key-of-both-instances",
        "FLASK_CLERK_ISSUER_URL": clerk.issuer,
        "FLASK_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
        "FLASK_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "FLASK_CLERK_STORE": store,
        "FLASK_CLERK_CACHE_TTL": "0",
        "FLASK_NOTES_DIR": str(tmp_path / "notes"),
    }
    with start_gunicorn(
        "example_app.wsgi:app",
        lambda url: {**common, "FLASK_CLERK_BASE_URL": url},
        log_dir=tmp_path,
    ) as second:
        register_callback(clerk, second.url + "/auth/callback")
        with start_gunicorn(
            "example_app.wsgi:app",
            {**common, "FLASK_CLERK_BASE_URL": second.url},
            log_dir=tmp_path,
        ) as first:
            yield first, second


def register_callback(clerk: EmulatorProcess, redirect_uri: str) -> None:
    answer = requests.post(
        f"{clerk.issuer}/__emulator/clients/{DEMO_CLIENT_ID}/redirect_uris",
        json={"redirect_uri": redirect_uri},
        timeout=TIMEOUT,
    )
    answer.raise_for_status()


def get(browser: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    return browser.get(url, headers=HTML, allow_redirects=False, timeout=TIMEOUT, **kwargs)


def test_login_starts_on_one_instance_and_completes_on_the_other(
    instances: tuple[GunicornServer, GunicornServer],
) -> None:
    first, second = instances
    browser = requests.Session()

    bounced = get(browser, first.url + "/account")
    assert bounced.status_code == 302
    assert bounced.headers["Location"] == "/login?next=/account"

    started = get(browser, first.url + "/login?next=/account")
    assert started.status_code == 302
    back = authorize_in_browserless_flow(started.headers["Location"], user="alice")
    assert back.startswith(second.url + "/auth/callback?")

    done = get(browser, back)
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == "/account"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    for server in (second, first):  # the session is in the shared store: both know it
        page = get(browser, server.url + "/account")
        assert page.status_code == 200
        assert "alice@example.com" in page.text

    # the MCP endpoint never takes the cookie
    mcp = browser.post(
        first.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
        timeout=TIMEOUT,
    )
    assert mcp.status_code == 401

    out = browser.post(
        first.url + "/logout",
        headers={"Origin": second.url},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert out.status_code == 303
    assert get(browser, second.url + "/account").status_code == 302


def test_the_binding_holds_across_instances(
    instances: tuple[GunicornServer, GunicornServer],
) -> None:
    first, second = instances
    attacker, victim = requests.Session(), requests.Session()
    get(victim, first.url + "/login")  # the victim's browser has its own nonce
    given_cookie = get(attacker, first.url + "/login?next=/account")
    assert given_cookie.headers["Location"].startswith("/login?")  # a new browser: cookie first
    started = get(attacker, first.url + given_cookie.headers["Location"])
    back = authorize_in_browserless_flow(started.headers["Location"], user="bob")
    refused = get(victim, back)
    assert refused.status_code == 400
    assert "another browser" in refused.text
    assert get(victim, second.url + "/account").status_code == 302
