"""Probes of every comparison of a secret: constant time (``hmac.compare_digest``), and never a
crash whatever the attacker sends.

``hmac.compare_digest`` on two ``str`` raises ``TypeError`` as soon as one holds a non-ASCII
character, so a secret read from a request must be compared as bytes: a form field, a cookie
or a query value can hold any character, and the answer must be a refusal, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from flask_clerk_mcp.login.transactions import BROWSER_KEY
from tests.mcp.flow import (
    Authorization,
    answer_consent,
    authorization_code,
    consent_fields,
    consent_page,
    redeem,
    register,
)

NON_ASCII = ["é" * 64, "\u202e" + "a" * 63, "\U0001f600" * 16, "\uff41" * 64]  # fullwidth a


@pytest.mark.parametrize("token", NON_ASCII)
def test_a_non_ascii_csrf_token_is_refused_not_a_crash(browser, token):
    auth = Authorization(register(browser)["client_id"])
    fields = consent_fields(consent_page(browser, auth))
    answer = answer_consent(browser, {**fields, "csrf_token": token})
    assert answer.status_code == 403
    assert "not sent from this browser" in answer.get_data(as_text=True)


class CompareSpy:
    """``hmac.compare_digest`` counting its calls, so a test can tell the check used it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self._real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self._real(a, b)

    def saw(self, value: str) -> bool:
        wanted = value.encode() if isinstance(value, str) else value
        return any(wanted in (_bytes(a), _bytes(b)) for a, b in self.calls)


def _bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


@pytest.fixture
def spy(monkeypatch) -> Iterator[CompareSpy]:
    spy = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", spy)
    yield spy


def test_the_consent_csrf_token_is_compared_in_constant_time(browser, spy):
    auth = Authorization(register(browser)["client_id"])
    fields = consent_fields(consent_page(browser, auth))
    answer = answer_consent(browser, fields)
    assert answer.status_code == 303
    assert spy.saw(fields["csrf_token"])


def test_the_pkce_verifier_is_checked_in_constant_time(browser, spy):
    from flask_clerk_mcp.mcp.token import s256

    auth = Authorization(register(browser)["client_id"])
    code = authorization_code(browser, auth)
    spy.calls.clear()
    assert redeem(browser, auth, code).status_code == 200
    assert spy.saw(s256(auth.verifier)) and spy.saw(auth.challenge)


def test_the_callback_binding_is_compared_in_constant_time(browser, spy):
    """The state itself is never compared: it is the key the transaction is found under (a
    SHA-256 of it, in the store), and the browser binding is what is compared."""
    auth = Authorization(register(browser)["client_id"])
    spy.calls.clear()
    authorization_code(browser, auth)
    with browser.session_transaction() as session:
        nonce = session[BROWSER_KEY]
    assert spy.saw(hashlib.sha256(nonce.encode()).hexdigest())
