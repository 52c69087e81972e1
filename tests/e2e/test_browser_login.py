"""Browser login end to end, in a real headless Chromium: sign in at the (emulated) Clerk,
see who you are, sign out, and be asked to sign in again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.emulator import EmulatorProcess
from tests.support.gunicorn import GunicornServer

from .conftest import HOSTILE_SITE

pytestmark = pytest.mark.e2e

EMAIL = "alice@example.com"


def sign_in_at_clerk(page: Page, clerk: EmulatorProcess) -> None:
    """On the emulator's pages: pick Alice, then allow the app."""
    expect(page).to_have_url(re.compile("^" + re.escape(clerk.issuer) + "/"))
    page.click("#sign-in-alice")
    page.click("#consent-allow")


def test_sign_in_from_the_landing_page_see_the_email_sign_out(
    page: Page, clerk: EmulatorProcess, example_app: GunicornServer, artifacts: Path
) -> None:
    app = example_app.url
    page.goto(app + "/")
    page.get_by_role("link", name="Sign in with Clerk").click()

    sign_in_at_clerk(page, clerk)
    expect(page).to_have_url(app + "/account")  # the landing page's link goes on to /account
    expect(page.locator("#email")).to_have_text(EMAIL)
    page.screenshot(path=str(artifacts / "signed-in.png"), full_page=True)

    cookies = {c["name"]: c for c in page.context.cookies(app)}
    assert cookies["session"]["httpOnly"] is True
    assert cookies["session"]["sameSite"] == "Lax"

    page.click("#sign-out")
    expect(page).to_have_url(app + "/logged-out")
    expect(page.get_by_role("heading")).to_have_text("You are signed out")
    assert "session" not in {c["name"] for c in page.context.cookies(app)}

    page.goto(app + "/account")  # signed out: back to sign-in
    expect(page).to_have_url(re.compile("^" + re.escape(clerk.issuer) + "/"))
    expect(page.locator("#sign-in-alice")).to_be_visible()

    page.goto(app + "/")  # the landing page: no session, and no trip to Clerk
    expect(page.get_by_role("link", name="Sign in with Clerk")).to_be_visible()


def test_a_deep_link_signs_in_and_lands_where_it_was_going(
    page: Page, clerk: EmulatorProcess, example_app: GunicornServer, artifacts: Path
) -> None:
    app = example_app.url
    page.goto(app + "/account")
    sign_in_at_clerk(page, clerk)
    expect(page).to_have_url(app + "/account")
    expect(page.locator("#email")).to_have_text(EMAIL)
    page.screenshot(path=str(artifacts / "signed-in-deep-link.png"), full_page=True)

    page.goto(app + "/logout")  # the confirmation form, then the POST from our own page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(app + "/logged-out")
    page.get_by_role("link", name="Sign in").click()
    expect(page.locator("#sign-in-alice")).to_be_visible()


def _hostile_form_posts_logout(page: Page, hostile_page_url: str, app: str) -> None:
    """Open a page at ``hostile_page_url`` that auto-submits a form to our ``/logout``."""
    page.goto(hostile_page_url)
    assert page.evaluate("location.origin") == hostile_page_url.split("/.well-known")[0]
    page.set_content(
        f'<form id="f" method="post" action="{app}/logout"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.wait_for_load_state()


def test_a_same_site_cross_origin_form_cannot_sign_the_user_out(
    page: Page, clerk: EmulatorProcess, example_app: GunicornServer
) -> None:
    """Same site (both on 127.0.0.1), other port: SameSite=Lax still sends the cookie, so
    the Origin check is what refuses it."""
    app = example_app.url
    page.goto(app + "/account")
    sign_in_at_clerk(page, clerk)
    expect(page.locator("#email")).to_have_text(EMAIL)

    _hostile_form_posts_logout(page, clerk.issuer + "/.well-known/openid-configuration", app)
    expect(page.get_by_role("heading")).to_have_text("Sign-out refused")

    page.goto(app + "/account")
    expect(page).to_have_url(app + "/account")
    expect(page.locator("#email")).to_have_text(EMAIL)


def test_a_cross_site_form_cannot_sign_the_user_out(
    page: Page, clerk: EmulatorProcess, example_app: GunicornServer
) -> None:
    """Another site (evil.test, mapped to loopback in this browser only) posts the form."""
    app = example_app.url
    page.goto(app + "/account")
    sign_in_at_clerk(page, clerk)
    expect(page.locator("#email")).to_have_text(EMAIL)

    hostile = clerk.issuer.replace("127.0.0.1", HOSTILE_SITE)
    assert hostile != clerk.issuer
    _hostile_form_posts_logout(page, hostile + "/.well-known/openid-configuration", app)
    expect(page.get_by_role("heading")).to_have_text("Sign-out refused")

    page.goto(app + "/account")
    expect(page).to_have_url(app + "/account")
    expect(page.locator("#email")).to_have_text(EMAIL)
