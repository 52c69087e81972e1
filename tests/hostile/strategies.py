"""Hypothesis strategies shared by the hostile-input properties: JSON of every shape.

``json_values`` produces Python values that ``json.dumps`` can write, plus three markers
that ``json_text`` turns into what it cannot: an integer of 5000 digits (past Python's
int-parsing limit), ``NaN`` and ``Infinity`` (which Python's parser accepts, though JSON has
neither). Bodies are written as raw text, so the verifier sees exactly these bytes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

HUGE, NAN, INF = "\x00HUGE\x00", "\x00NAN\x00", "\x00INF\x00"
_LITERALS = {HUGE: "1" + "0" * 5000, NAN: "NaN", INF: "-Infinity"}

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
    st.sampled_from([HUGE, NAN, INF, 10**300, 2**53, 2**53 + 1, -1, 0, 1.5e308]),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def json_text(value: Any) -> str:
    """``value`` as JSON text, markers replaced by their raw literals."""
    text = json.dumps(value)
    for marker, literal in _LITERALS.items():
        text = text.replace(json.dumps(marker), literal)
    return text


def loads(text: str) -> Any:
    """What a lenient parser (Python's, as ``requests`` uses) makes of ``text``; a marker of
    its own (``UNPARSABLE``) when it cannot."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UNPARSABLE


UNPARSABLE = object()


#: Whole bodies: mostly objects, sometimes anything, sometimes not JSON at all.
def bodies(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str]:
    """Bodies built around ``fields`` (each optional), with extra keys, or any JSON, or junk."""
    objects = st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda known: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(
            lambda extra: {**extra, **known}
        )
    )
    return st.one_of(
        objects.map(json_text),
        objects.map(json_text),
        objects.map(json_text),
        json_values.map(json_text),
        st.sampled_from(
            ["", "{", "<html>oops</html>", '{"active": true', "[]", "null", "[[[[" * 400]
        ),
    )


# -- redirect URIs: every piece of the URI hostile in its own way --------------------------

_SCHEMES = st.sampled_from(
    [
        "http",
        "https",
        "HTTP",
        "javascript",
        "data",
        "file",
        "com.example.app",
        "http ",
        "ht\ttp",
        "vbscript",
    ]
)
_USERINFO = st.sampled_from(
    ["", "", "", "user@", "user:pw@", "127.0.0.1@", "app.example.com@", "@"]
)
_HOSTS = st.sampled_from(
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "LOCALHOST",
        "127.0.0.2",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::1%25eth0]",
        "localhost.",
        "localhost.evil.com",
        "127.0.0.1.nip.io",
        "evil.com",
        "app.example.com",
        "APP.example.com",
        "app.example.com.",
        "app.example.com.evil.com",
        "\u0430pp.example.com",
        "xn--pp-8kc.example.com",
        "xn--app-.example.com",
        "app%2eexample.com",
        "127.0.0.1%2eevil.com",
        "evil.com#@127.0.0.1",
        "evil.com\\@127.0.0.1",
        "evil.com?@127.0.0.1",
        "l\u043ecalhost",
        "[::1]evil",
        "",
        "[v1.x]",
        "app_example.com",
    ]
)
_PORTS = st.sampled_from(
    ["", "", ":33418", ":1", ":65535", ":65536", ":0", ":080", ":-1", ":x", ": 80", ":*"]
)
_PATHS = st.sampled_from(
    [
        "/callback",
        "",
        "/",
        "/cb/../x",
        "/cb/%2e%2e/x",
        "/cb/%2E%2e",
        "/%2e/x",
        "/cb%2fx",
        "/cb%5cx",
        "/cb%00",
        "/%252e%252e/x",
        "/cb/.%2e/",
        "/cb?code=1",
        "/cb?state=x",
        "/cb?a=1",
        "/cb#frag",
        "/cb\\x",
        "/c b",
        "/\u00e9",
        "/cb?x=%",
        "//evil.com/x",
    ]
)
REDIRECT_URIS = st.one_of(
    st.tuples(
        _SCHEMES,
        st.sampled_from(["://", "://", ":", ":/", ":///"]),
        _USERINFO,
        _HOSTS,
        _PORTS,
        _PATHS,
    ).map("".join),
    st.text(max_size=40),
)
