"""Hostile ``Authorization`` headers, through the Flask decorator and the WSGI middleware.

Values reach the app the way a WSGI server hands them over: one ``HTTP_AUTHORIZATION``
string, latin-1 decoded (a UTF-8 header arrives as its bytes), repeated headers already
joined with ``", "`` (what gunicorn and werkzeug do). The environ is set directly, so even
bytes a test client would refuse (controls, newlines) are tried.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import responses
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from flask_clerk_mcp.wsgi import ClerkMiddleware
from tests.unit.conftest import (
    CLIENT_ID,
    DOMAIN,
    INTROSPECT,
    SECRET,
    USERINFO,
    active,
    build_app,
)

from .conftest import budget, counted

#: RFC 9110 §11.4 / RFC 6750 §2.1, written out independently of ``bearer.parse_bearer``:
#: optional SP/HTAB around the value, the scheme in any case, one or more SP, one token68,
#: the whole field at most 4 KiB.
WELL_FORMED = re.compile(r"[ \t]*[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)[ \t]*")
LIMIT = 4096


def oracle(value: str) -> str | None:
    """The token a correct parser extracts from ``value``, or None if it is malformed."""
    if len(value) > LIMIT:
        return None
    match = WELL_FORMED.fullmatch(value)
    return match.group(1) if match else None


_TOKEN68 = st.text(alphabet="ABCXYZabcxyz0189-._~+/", min_size=1, max_size=40).map(
    lambda t: t + "=" * (len(t) % 3)
)
_SCHEMES = st.sampled_from(
    [
        "Bearer",
        "bearer",
        "BEARER",
        "bEaReR",
        "Basic",
        "Bearer:",
        "Bearerx",
        "Bear",
        "DPoP",
        "Token",
        "",
        "Bearer\x00",
        "\u0392earer",
        "Béarer",
        "Bearer\u00a0",
        "MAC",
    ]
)
_GAPS = st.sampled_from([" ", "  ", "\t", " \t", "", "\x0b", "\x0c", "\u00a0", "\x85", "\n "])
_EDGES = st.sampled_from(["", " ", "\t", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\n", "\r\n"])
_JUNK = st.text(max_size=30).map(lambda s: s.encode("utf-8").decode("latin-1"))


def _assemble(parts: tuple[str, str, str, str, str, str]) -> str:
    return "".join(parts)


#: Near-misses of a good header: every piece replaceable by something odd.
_SHAPED = st.tuples(_EDGES, _SCHEMES, _GAPS, _TOKEN68 | _JUNK, _JUNK | st.just(""), _EDGES).map(
    _assemble
)
#: Repeated headers as the server joins them, and huge ones around the limit.
_REPEATED = st.lists(_SHAPED, min_size=2, max_size=4).map(", ".join)
_HUGE = st.tuples(st.sampled_from(["Bearer ", "bearer  "]), st.integers(LIMIT - 12, LIMIT + 4)).map(
    lambda t: t[0] + "a" * (t[1] - len(t[0]))
)
_BYTES = st.binary(max_size=80).map(lambda b: b.decode("latin-1"))
HEADERS = st.one_of(_SHAPED, _SHAPED, _REPEATED, _HUGE, _BYTES, _JUNK)


def environ_with(path: str, method: str, header: str | None) -> dict[str, Any]:
    environ = EnvironBuilder(path=path, method=method).get_environ()
    if header is not None:
        environ["HTTP_AUTHORIZATION"] = header
    return environ


def _clerk(mock: responses.RequestsMock) -> None:
    """Clerk says yes to anything: only the header decides."""
    mock.add(responses.POST, INTROSPECT, json=active())
    mock.add(responses.GET, USERINFO, json={"sub": "user_alice"})


def _check(status: int, header: str, mock: responses.RequestsMock) -> None:
    token = oracle(header)
    if token is None:
        assert status == 400, (status, header)
        assert len(mock.calls) == 0, "Clerk was asked about a malformed header"
        return
    assert status == 200, (status, header)
    introspected = [c for c in mock.calls if c.request.url == INTROSPECT]
    assert len(introspected) == 1
    body = introspected[0].request.body
    sent = parse_qs(body.decode() if isinstance(body, bytes) else str(body))
    assert sent["token"] == [token]


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, bytes]:
    """Run one request through a WSGI callable, as a server would."""
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
        status.append(line)

    body = b"".join(app(environ, start_response))
    return int(status[0].split()[0]), body


APP = build_app({"CLERK_TOKEN_VERIFICATION": "introspection", "CLERK_CACHE_TTL": 0})


@budget(400)
@given(header=HEADERS)
@example(header="\x0cBearer abc")  # a form feed is no OWS (RFC 9110 §5.6.3)
@example(header="Bearer abc\x85")
@example(header="\x1cBearer abc\x1f")
@example(header="Bearer abc\n")
@counted
def test_flask_decorator_passes_only_well_formed_bearer_headers(header: str) -> None:
    """Oracle (``oracle``, written from RFC 9110/6750, not from ``bearer``): a header that is
    not ``OWS "Bearer" 1*SP token68 OWS`` within 4 KiB gets 400, and Clerk is never called;
    a well-formed one is introspected once, with exactly its token68, and passes (Clerk says
    yes to everything here). Never a 500."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _clerk(mock)
        status, _ = call_wsgi(APP.wsgi_app, environ_with("/api/plain", "GET", header))
        _check(status, header, mock)


class _Inner:
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"inner"]


MIDDLEWARE = ClerkMiddleware(
    _Inner(),  # type: ignore[arg-type]
    domain=DOMAIN,
    client_id=CLIENT_ID,
    client_secret=SECRET,
    base_url="https://mcp.example.com",
    token_verification="introspection",
    cache_ttl=0,
)


@budget(300)
@given(header=HEADERS, method=st.sampled_from(["GET", "POST", "DELETE"]))
@example(header="\x0cBearer abc", method="POST")
@example(header="Bearer abc\x85", method="GET")
@counted
def test_wsgi_middleware_passes_only_well_formed_bearer_headers(header: str, method: str) -> None:
    """Same oracle through ``ClerkMiddleware`` on a bare WSGI app: malformed → 400 without a
    call to Clerk, well-formed → the wrapped app runs (200) after one introspection."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _clerk(mock)
        status, body = call_wsgi(MIDDLEWARE, environ_with("/mcp", method, header))
        _check(status, header, mock)
        if status == 200:
            assert body == b"inner"
