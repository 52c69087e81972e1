"""Hostile input at the browser-facing and OAuth-proxy endpoints, through Flask's test client.

The app is the login tests' proxy app; Clerk is a port where nothing listens, and where a
property needs Clerk's token endpoint it is faked with ``responses``. Oracles live in
``oracles`` (browser-side URL resolution), written independently of the package.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from tests.login.conftest import BASE_URL, HTML, build_app
from tests.mcp.flow import CLIENT_REDIRECT, DCR_REQUEST, Authorization, consent_fields

from .conftest import budget, counted
from .oracles import safe_redirect_uri, same_origin
from .strategies import REDIRECT_URIS

CLERK = "http://127.0.0.1:9"
APP = build_app(CLERK, CLERK_MCP_MODE="proxy")
HTTPS_APP = build_app(
    CLERK, CLERK_MCP_MODE="proxy", CLERK_ALLOWED_REDIRECT_URIS="https://app.example.com"
)


# -- next ------------------------------------------------------------------------------------

_NEXT_HEADS = st.sampled_from(
    [
        "/",
        "//",
        "///",
        "/\\",
        "\\/",
        "\\\\",
        "/\t/",
        "\t//",
        " //",
        "\x00//",
        "/\x0b/",
        "http:",
        "https:",
        "https://",
        "http:/",
        "javascript:",
        "JaVaScRiPt:",
        "java\tscript:",
        " javascript:",
        "data:text/html,",
        "%2f",
        "%2F%2F",
        "/%2f",
        "/%5c",
        "%5c%5c",
        "%252f%252f",
        "/%252f",
        "/%25252f/",
        "/%09/",
        "/%0a/",
        "/.",
        "/..",
        "/%2e%2e/",
        "/%2E./",
        "./",
        "../",
        "?",
        "#",
        "",
        "/%",
        "//%2e",
        "\u3002//",
        "/\u2028/",
        "/ /",
        "/\x7f/",
        "%2f%2f",
        "/\\/",
        "/%5C/",
    ]
)
_NEXT_BODIES = st.sampled_from(
    [
        "evil.com",
        "evil.com/x",
        "@evil.com",
        "127.0.0.1:5000@evil.com",
        "127.0.0.1",
        "account",
        "x/../..//evil",
        "xn--bcher-kva.example",
        "bücher.example",
        "evil.com%2f..",
        "",
        "account?next=//evil",
        "account#//evil",
    ]
)
_NEXT_TAILS = st.sampled_from(["", "/path", "?a=b", "#frag", "/../..//evil", "%00", ":443"])
NEXTS = st.one_of(
    st.tuples(_NEXT_HEADS, _NEXT_BODIES, _NEXT_TAILS).map("".join),
    st.tuples(_NEXT_HEADS, _NEXT_HEADS, _NEXT_BODIES).map("".join),
    st.text(max_size=40),
    st.integers(2040, 2060).map(lambda n: "/" + "a" * (n - 1)),
)


@budget(400)
@given(target=NEXTS)
@example(target="/account?x=1")
@example(target="/\t/evil.com")
@counted
def test_login_next_never_leaves_the_site(target: str) -> None:
    """Oracle (``oracles.same_origin``, a browser's resolution of the ``Location``): the
    ``next`` that ``/login`` keeps resolves, against this site, to this site's origin, even
    after up to three more rounds of percent-decoding; and it is either the value given or
    ``/``. Never a 500."""
    response = APP.test_client().get("/login", query_string={"next": target}, headers=HTML)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and not location.netloc
    kept = parse_qs(location.query)["next"]
    assert len(kept) == 1
    assert kept[0] in (target, "/")
    assert same_origin(BASE_URL, kept[0]), kept[0]
    if target == "/account?x=1":
        assert kept[0] == target  # the oracle is not vacuous: plain paths are kept


# -- redirect URIs at registration ------------------------------------------------------------


def _register(app: Any, uris: list[Any]) -> Any:
    return app.test_client().post("/oauth/register", json={**DCR_REQUEST, "redirect_uris": uris})


@budget(500)
@given(uris=st.lists(REDIRECT_URIS, min_size=1, max_size=3))
@example(uris=["http://127.0.0.1:33418/callback"])
@example(uris=["http://localhost.:1/cb"])
@counted
def test_registered_redirect_uris_lead_to_loopback_only(uris: list[str]) -> None:
    """Oracle (``safe_redirect_uri``, policy ``loopback``): with the default policy a
    registration succeeds only with URIs a browser reads as written and that land on a
    loopback host, with no userinfo, fragment, dot segment or odd port; the client gets back
    exactly (a subset of) what it sent. Otherwise 400 ``invalid_redirect_uri`` or
    ``invalid_client_metadata``; never a 500."""
    response = _register(APP, uris)
    assert response.status_code in (201, 400), response.get_data(as_text=True)[:300]
    body = response.get_json()
    if response.status_code == 400:
        assert body["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
        return
    assert body["redirect_uris"] and set(body["redirect_uris"]) <= set(uris)
    for uri in body["redirect_uris"]:
        assert safe_redirect_uri(uri, policy="loopback"), uri


@budget(300)
@given(uris=st.lists(REDIRECT_URIS, min_size=1, max_size=2))
@example(uris=["https://app.example.com/cb"])
@example(uris=["https://app.example.com./cb"])
@counted
def test_an_https_policy_admits_only_its_own_host(uris: list[str]) -> None:
    """Oracle: with ``CLERK_ALLOWED_REDIRECT_URIS=https://app.example.com`` every registered
    URI is https on exactly ``app.example.com`` (no IDN homograph, no A-label look-alike, no
    suffix trick, no userinfo), per ``safe_redirect_uri(policy="hosts")``."""
    response = _register(HTTPS_APP, uris)
    assert response.status_code in (201, 400)
    if response.status_code == 201:
        for uri in response.get_json()["redirect_uris"]:
            assert safe_redirect_uri(uri, policy="hosts", hosts=frozenset({"app.example.com"})), uri


_DCR_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "redirect_uris": st.lists(REDIRECT_URIS | st.just(CLIENT_REDIRECT), min_size=0, max_size=22)
    | st.sampled_from([CLIENT_REDIRECT, None, 1, {}]),
    "client_name": st.sampled_from(["ok", "", " ", "\u202eevil", "a\x00b", "x" * 101, 1, None])
    | st.text(max_size=20),
    "grant_types": st.sampled_from(
        [
            ["authorization_code"],
            ["authorization_code", "refresh_token"],
            ["implicit"],
            ["client_credentials"],
            [],
            "authorization_code",
            ["refresh_token"],
            None,
            [1],
        ]
    ),
    "response_types": st.sampled_from([["code"], ["token"], ["code", "token"], [], "code", None]),
    "token_endpoint_auth_method": st.sampled_from(
        ["none", "client_secret_basic", "private_key_jwt", None, 1]
    ),
    "client_uri": st.sampled_from(
        ["https://app.example.com", "javascript:alert(1)", "http://evil.com", None, 1]
    ),
    "logo_uri": st.sampled_from(
        ["https://img.example.com/l.png", "data:image/png;base64,AA", "//evil", None]
    ),
    "scope": st.sampled_from(["openid email", "openid\temail", "", 'a"b', 1, None, "x" * 1001]),
    "application_type": st.sampled_from(["native", "web", "other", None]),
    "client_secret": st.just("s"),
    "jwks_uri": st.just("https://evil.example/jwks"),
}


@budget(300)
@given(metadata=st.fixed_dictionaries({}, optional=_DCR_FIELDS))
@counted
def test_dcr_metadata_is_registered_only_when_sound(metadata: dict[str, Any]) -> None:
    """Oracle: a registration answers 201 only for a public client whose redirect URIs are
    all ``safe_redirect_uri(policy="loopback")``, whose grant types include the code grant
    and are all supported, whose response types are exactly ``code`` and whose echoed
    ``client_name``/``client_uri``/``logo_uri`` carry no control, bidi or script content;
    anything else is a 400 with an RFC 7591 error code. Never a 500."""
    response = APP.test_client().post("/oauth/register", json=metadata)
    assert response.status_code in (201, 400), response.get_data(as_text=True)[:300]
    body = response.get_json()
    if response.status_code == 400:
        assert body["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
        return
    assert all(safe_redirect_uri(u, policy="loopback") for u in body["redirect_uris"])
    assert "authorization_code" in body["grant_types"]
    assert set(body["grant_types"]) <= {"authorization_code", "refresh_token"}
    assert body["response_types"] == ["code"]
    assert body.get("token_endpoint_auth_method", "none") == "none" and "client_secret" not in body
    name = body.get("client_name")
    assert name is None or (name.strip() and name.isprintable() and "\u202e" not in name)
    for key in ("client_uri", "logo_uri"):
        if body.get(key) is not None:
            assert safe_redirect_uri(body[key], policy="web"), body[key]


# -- the authorization request ---------------------------------------------------------------

REGISTERED = APP.test_client().post("/oauth/register", json=DCR_REQUEST).get_json()["client_id"]
AUTH = Authorization(REGISTERED)
_REQUESTED_URIS = REDIRECT_URIS | st.sampled_from(
    [
        CLIENT_REDIRECT,
        "http://127.0.0.1:1/callback",
        CLIENT_REDIRECT + "/",
        CLIENT_REDIRECT + "?x=1",
        "http://localhost:33418/callback",
        "http://127.0.0.1:33418/Callback",
        "http://127.0.0.1:33418/callback/../x",
        "http://127.0.0.1:33418/%63allback",
        "http://127.0.0.1:33418/callback#x",
        "https://127.0.0.1:33418/callback",
        "http://127.0.0.1:33418//callback",
        "http://127.0.0.1.:33418/callback",
        "http://[::1]:33418/callback",
    ]
)
_AUTH_PARAMS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "redirect_uri",
                "state",
                "scope",
                "resource",
                "response_type",
                "code_challenge",
                "code_challenge_method",
                "prompt",
                "client_id",
            ]
        ),
        _REQUESTED_URIS
        | st.text(max_size=20)
        | st.sampled_from(["x" * 1025, "y" * 9000, "code", "S256", "none"]),
    ),
    max_size=4,
)


@budget(300)
@given(extra=_AUTH_PARAMS, drop=st.sets(st.sampled_from(sorted(AUTH.params())), max_size=3))
@example(extra=[("redirect_uri", "http://127.0.0.1:1/callback")], drop=set())
@example(extra=[("redirect_uri", "https://evil.example/cb")], drop={"redirect_uri"})
@counted
def test_authorize_only_ever_redirects_to_the_registered_uri(
    extra: list[tuple[str, str]], drop: set[str]
) -> None:
    """Oracle: whatever is missing, repeated or oversized, ``/oauth/authorize`` answers a
    consent page (200), our own error page (400/414), or a redirect whose target is the
    registered ``http://127.0.0.1:<any port>/callback`` (RFC 8252 §7.3: only a loopback port
    may vary) carrying ``iss``; never a redirect anywhere else, never a 500."""
    params = [(k, v) for k, v in AUTH.params().items() if k not in drop] + extra
    response = APP.test_client().get("/oauth/authorize", query_string=params, headers=HTML)
    assert response.status_code in (200, 302, 303, 400, 414), response.status_code
    if response.status_code in (302, 303):
        location = urlsplit(response.headers["Location"])
        assert (location.scheme, location.hostname, location.path) == (
            "http",
            "127.0.0.1",
            "/callback",
        )
        assert location.username is None and not location.fragment
        answer = parse_qs(location.query)
        assert answer["iss"] == [BASE_URL] and "error" in answer and "code" not in answer
    if response.status_code == 200:  # consent is asked only for a sound request
        assert consent_fields(response)
        names = [k for k, _ in params]
        assert len(names) == len(set(names)), params
        given_ = dict(params)
        assert given_["client_id"] == REGISTERED and given_["response_type"] == "code"
        assert given_["code_challenge_method"] == "S256"
        if "redirect_uri" in given_:
            uri = urlsplit(given_["redirect_uri"])
            assert (uri.scheme, uri.hostname, uri.path, uri.query) == (
                "http",
                "127.0.0.1",
                "/callback",
                "",
            )
            assert uri.username is None and "#" not in given_["redirect_uri"]
