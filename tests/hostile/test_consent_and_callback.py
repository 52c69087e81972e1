"""Consent and callback parameters (missing, repeated, altered, oversized), through Flask's
test client against the proxy app of ``test_proxy_inputs``; Clerk's token endpoint is faked
with ``responses`` where the flow reaches it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.login.conftest import HTML
from tests.mcp.flow import consent_fields

from .conftest import budget, counted
from .test_proxy_inputs import APP, AUTH, CLERK

# -- consent and callback --------------------------------------------------------------------

_FORM_VALUES = st.text(max_size=20) | st.sampled_from(["approve", "deny", "x" * 20000, ""])


def _consent_page(client: Any) -> dict[str, str]:
    return consent_fields(client.get(AUTH.url(), headers=HTML))


@budget(150)
@given(
    drop=st.sets(st.sampled_from(["request", "csrf_token", "action"]), max_size=2),
    swap=st.fixed_dictionaries(
        {}, optional={"request": _FORM_VALUES, "csrf_token": _FORM_VALUES, "action": _FORM_VALUES}
    ),
    repeat=st.lists(
        st.tuples(st.sampled_from(["request", "csrf_token", "action"]), _FORM_VALUES), max_size=3
    ),
    action=st.sampled_from(["approve", "deny"]),
)
@example(drop=set(), swap={"csrf_token": "\x80"}, repeat=[], action="approve")
@counted
def test_consent_goes_on_only_with_the_genuine_form(
    drop: set[str], swap: dict[str, str], repeat: list[tuple[str, str]], action: str
) -> None:
    """Oracle: a consent answer goes to Clerk (approve) or back to the client with
    ``access_denied`` (deny) only when the form holds the very signed request and CSRF token
    the page rendered for this browser, and ``approve``/``deny``; any field missing, altered
    or oversized gets our own error page (400/403/413), never a 500 and never a redirect."""
    client = APP.test_client()
    fields = {**_consent_page(client), "action": action}
    genuine = dict(fields)
    form = [(k, v) for k, v in fields.items() if k not in drop]
    form = [(k, swap.get(k, v)) for k, v in form] + repeat
    response = client.post("/oauth/consent", data=MultiDict(form), headers=HTML)
    assert response.status_code in (302, 303, 400, 403, 413), response.status_code
    first = {}
    for name, value in form:
        first.setdefault(name, value)
    intact = all(first.get(k) == genuine[k] for k in ("request", "csrf_token")) and first.get(
        "action"
    ) in (
        "approve",
        "deny",
    )
    if response.status_code in (302, 303):
        assert intact, form
        location = response.headers["Location"]
        if first["action"] == "approve":
            assert location.startswith(CLERK + "/oauth/authorize?")
        else:
            assert urlsplit(location).hostname == "127.0.0.1" and "error=access_denied" in location
    elif not drop and not swap and not repeat:
        raise AssertionError("the genuine form was refused")


TOKEN_ENDPOINT = CLERK + "/oauth/token"
_CALLBACK_NAMES = st.sampled_from(["state", "code", "error", "iss", "error_description", "scope"])


@budget(150)
@given(
    keep_state=st.booleans(),
    params=st.lists(
        st.tuples(
            _CALLBACK_NAMES,
            st.text(max_size=12) | st.sampled_from(["x" * 5000, CLERK, "access_denied"]),
        ),
        max_size=4,
    ),
    with_code=st.booleans(),
)
@example(keep_state=True, params=[("state", "forged")], with_code=True)
@example(keep_state=True, params=[("code", "second")], with_code=True)
@counted
def test_callback_issues_a_code_only_for_the_genuine_answer(
    keep_state: bool, params: list[tuple[str, str]], with_code: bool
) -> None:
    """Oracle: after a genuine consent, the callback sends the MCP client an authorization
    code only when Clerk's answer carries the transaction's ``state`` (and no other), one
    ``code``, no ``error`` and no ``iss`` but Clerk's; otherwise our page (400; 414 past 8 KiB)
    or an error redirect to the registered URI; never a 500 (RFC 6749 §3.1: no parameter
    twice)."""
    client = APP.test_client()
    fields = _consent_page(client)
    approved = client.post("/oauth/consent", data={**fields, "action": "approve"}, headers=HTML)
    state = parse_qs(urlsplit(approved.headers["Location"]).query)["state"][0]
    query = (
        ([("state", state)] if keep_state else [])
        + ([("code", "clerk_code")] if with_code else [])
        + params
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as clerk:
        clerk.add(
            responses.POST, TOKEN_ENDPOINT, json={"access_token": "oat_x", "token_type": "Bearer"}
        )
        response = client.get("/auth/callback", query_string=query, headers=HTML)
    assert response.status_code in (302, 303, 400, 403, 414, 503), response.status_code
    if response.status_code not in (302, 303):  # our page (an error Clerk sent is shown)
        return
    location = urlsplit(response.headers["Location"])
    assert (location.hostname, location.path) == ("127.0.0.1", "/callback")
    answer = parse_qs(location.query)
    if "code" in answer:
        values: dict[str, list[str]] = {}
        for name, value in query:
            values.setdefault(name, []).append(value)
        assert values.get("state") == [state], query
        assert values.get("code") is not None and len(values["code"]) == 1 and values["code"][0], (
            query
        )
        assert "error" not in values, query
        assert values.get("iss", [CLERK]) == [CLERK], query
