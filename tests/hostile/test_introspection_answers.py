"""Whatever Clerk's introspection and userinfo answer, the decorator's verdict is the rule's.

Opaque tokens in ``"introspection"`` mode, cache off, Clerk faked with ``responses``. The
oracle ``expected`` restates the verification contract (DESIGN, "Verification contract")
from scratch, and the decorator's answer must equal it: exactly 200, 401, 403 or 503.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import responses
from hypothesis import example, given
from hypothesis import strategies as st

from flask_clerk_mcp import require_clerk
from tests.unit.conftest import CLIENT_ID, INTROSPECT, USERINFO, build_app

from .conftest import budget, counted
from .strategies import bodies, json_text, json_values, loads

REQUIRED = {"openid", "email", "profile"}
LEEWAY = 10
NOW = time.time()

APP = build_app({"CLERK_TOKEN_VERIFICATION": "introspection", "CLERK_CACHE_TTL": 0})
APP.add_url_rule("/hostile", "hostile", require_clerk(lambda: "ok"))
_TOKENS = (f"oat_hostile{n:08d}" for n in itertools.count())


def _time(offsets: list[float]) -> st.SearchStrategy[Any]:
    return st.sampled_from([NOW + o for o in offsets] + [int(NOW + o) for o in offsets])


INTROSPECTION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "active": st.sampled_from([True, True, True, "true", 1, 1.0, "True", [True], False, None])
    | json_values,
    "client_id": st.sampled_from([CLIENT_ID, CLIENT_ID, "other", "", None, 1, [CLIENT_ID]]),
    "aud": st.sampled_from(
        [
            CLIENT_ID,
            [CLIENT_ID],
            ["x", CLIENT_ID],
            [1, CLIENT_ID],
            "other",
            [],
            None,
            "*",
            {"a": CLIENT_ID},
            CLIENT_ID + " ",
        ]
    ),
    "sub": st.sampled_from(
        ["user_alice", "user_bob", "", "  ", "\u2003", "user_\ud800", 1, None, ["user_alice"]]
    ),
    "scope": st.sampled_from(
        [
            "openid email profile",
            "openid email profile admin",
            "openid email",
            "openid\temail profile",
            "openid\u2003email profile",
            "openid\nemail\nprofile",
            "openid  email profile",
            ["openid", "email", "profile"],
            ["openid email", "profile"],
            ["openid", "email", "profile\t"],
            "OPENID EMAIL PROFILE",
            1,
            None,
        ]
    )
    | json_values,
    "exp": _time([3600, 86400, -3600, -86400])
    | st.sampled_from([0, -5, 2**53, 2**53 + 1, 1e300, True, "9999999999", None]),
    "nbf": _time([-3600, 3600, 86400]) | st.sampled_from([0, 2**53 + 1, False, "0", None]),
    "token_type": st.sampled_from(["access_token", "refresh_token", "Refresh_Token", None, 1]),
    "iat": json_values,
}
USERINFO_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "sub": st.sampled_from(
        ["user_alice", "user_alice", "user_bob", "", " ", "user_\ud800", 7, None]
    ),
    "email": json_values,
    "name": json_values,
}


def _number(value: Any) -> float | None:
    """A NumericDate the contract can use: a finite JSON number in [0, 2**53]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if 0 <= value <= 2**53 else None


def _subject(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scopes(value: Any) -> set[str]:
    """RFC 6749 §3.3: ``scope`` is scope-tokens separated by single SP characters (a list of
    tokens is also read); any other whitespace is part of a (then useless) token."""
    if isinstance(value, str):
        return {s for s in value.split(" ") if s}
    if isinstance(value, list):
        return {s for s in value if isinstance(s, str) and s and " " not in s}
    return set()


def expected(status: int, body: str, info_status: int, info_body: str) -> int:
    """The contract's answer, restated: 503 when Clerk gave no verdict, 401 when the token
    fails a rule, 403 when only the scopes are missing, 200 when everything holds."""
    if status == 400:
        return 401
    if status != 200:
        return 503
    answer = loads(body)
    if not isinstance(answer, dict):
        return 503
    if answer.get("active") is not True:
        return 401
    for name in ("exp", "nbf"):
        if name in answer and _number(answer[name]) is None:
            return 401
    if "exp" in answer and int(answer["exp"]) + LEEWAY <= time.time():
        return 401
    if "nbf" in answer and int(answer["nbf"]) - LEEWAY > time.time():
        return 401
    if answer.get("token_type") == "refresh_token":
        return 401
    aud, client = answer.get("aud"), answer.get("client_id")
    if isinstance(aud, str):
        audiences = {aud}
    elif isinstance(aud, list):
        audiences = {a for a in aud if isinstance(a, str)}
    elif aud is None and isinstance(client, str) and client:
        audiences = {client}
    else:
        audiences = set()
    if CLIENT_ID not in audiences:
        return 401
    subject = answer.get("sub")
    if subject is not None and not _subject(subject):
        return 401
    # userinfo: a 401 and a contradicting or unreadable sub are verdicts; the rest is ignored
    profile = loads(info_body) if info_status == 200 else None
    if info_status == 401:
        return 401
    if not isinstance(profile, dict):
        profile = None
    if profile is not None and "sub" in profile:
        if not _subject(profile["sub"]):
            return 401
        if subject is not None and profile["sub"] != subject:
            return 401
    if subject is None:
        if profile is None:
            return 503
        if not _subject(profile.get("sub")):
            return 401
    return 200 if REQUIRED <= _scopes(answer.get("scope")) else 403


@budget(600)
@given(
    status=st.sampled_from([200] * 12 + [400, 401, 403, 404, 422, 429, 500, 502]),
    body=bodies(INTROSPECTION_FIELDS),
    info_status=st.sampled_from([200] * 6 + [401, 403, 404, 500]),
    info_body=bodies(USERINFO_FIELDS),
)
@example(
    status=200,
    body=json_text(
        {
            "active": True,
            "client_id": CLIENT_ID,
            "sub": "user_alice",
            "scope": "openid\temail profile",
        }
    ),
    info_status=200,
    info_body=json_text({"sub": "user_alice"}),
)
@counted
def test_introspection_and_userinfo_answers_decide_exactly_as_the_contract(
    status: int, body: str, info_status: int, info_body: str
) -> None:
    """Oracle (``expected``): pass only when introspection answered 200 with a JSON object
    whose ``active`` is exactly ``true``, ``exp``/``nbf`` readable and current, ``token_type``
    not a refresh token, the audience (``aud``, else ``client_id``) ours, a readable subject
    that userinfo does not contradict, and every required scope in the SP-separated ``scope``.
    The answer is always one of 200/401/403/503 and equals the oracle's."""
    token = next(_TOKENS)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as clerk:
        clerk.add(responses.POST, INTROSPECT, body=body, status=status)
        clerk.add(responses.GET, USERINFO, body=info_body, status=info_status)
        response = APP.test_client().get("/hostile", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401, 403, 503)
    assert response.status_code == expected(status, body, info_status, info_body), (
        response.get_json()
    )
    if response.status_code != 200:
        assert response.mimetype == "application/json"
