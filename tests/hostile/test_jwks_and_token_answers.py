"""Hostile JWKS documents and token-endpoint answers from Clerk (faked with ``responses``)."""

from __future__ import annotations

import copy
import time
from typing import Any

import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import example, given
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from flask_clerk_mcp import ClerkMCP, require_clerk
from flask_clerk_mcp.login import oauth
from tests.unit.conftest import CLIENT_ID, ISSUER, USERINFO, build_app

from .conftest import budget, counted
from .strategies import bodies, json_text, json_values, loads
from .test_signed_jwts import JWK, JWKS, KID, signed

OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SMALL = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a weak key the JWKS must skip
_PUBLIC = {k: v for k, v in JWK.items()}
#: (n, e) of every real key the strategies can publish, with its size.
SIZES = {
    (_PUBLIC["n"], _PUBLIC["e"]): 2048,
    **{
        (j["n"], j["e"]): key.key_size
        for key in (OTHER, SMALL)
        for j in [RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)]
    },
}
PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def _jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": KID}


_MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "kty": st.sampled_from(["rsa", "EC", "oct", None, 1]),
    "kid": st.sampled_from(["other", "", KID + " ", None, 7, "x" * 300]),
    "use": st.sampled_from(["enc", "SIG", None, ""]),
    "alg": st.sampled_from(["RS512", "rs256", "none", "HS256", None]),
    "d": st.just("AQAB"),
    "n": st.sampled_from(["", "AQAB", "!!", 5, None, "A" * 2000]),
    "e": st.sampled_from(["", "AAAAAAAAAAAAAAAAAAAAAAAAAA", 3, None]),
}


@st.composite
def _entries(draw: st.DrawFn) -> Any:
    base = draw(st.sampled_from([JWK, JWK, _jwk(OTHER), _jwk(SMALL)]))
    entry = copy.deepcopy(base)
    for name, value in draw(st.fixed_dictionaries({}, optional=_MUTATIONS)).items():
        if value is None:
            entry.pop(name, None)
        else:
            entry[name] = value
    return entry


def _usable(entry: Any) -> bool:
    """RFC 7517/7518 restated for what we verify with: an RSA signing key for RS256, with a
    kid, public members only, 2048 to 8192 bits."""
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return False
    kid = entry.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 256:
        return False
    if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
        return False
    if PRIVATE & entry.keys():
        return False
    n, e = entry.get("n"), entry.get("e")
    return isinstance(n, str) and isinstance(e, str) and 2048 <= SIZES.get((n, e), 0) <= 8192


def expected_for_jwks(status: int, body: str) -> int:
    """503 when the JWKS is no JWKS (no usable key at all, not JSON, not 200); else 200 when
    the first usable key under the token's kid is the signing key, else 401."""
    document = loads(body)
    if (
        status != 200
        or not isinstance(document, dict)
        or not isinstance(document.get("keys"), list)
    ):
        return 503
    usable = [e for e in document["keys"][:32] if _usable(e)]
    if not usable:
        return 503
    first = next((e for e in usable if e["kid"] == KID), None)
    if first is None:
        return 401
    return 200 if (first["n"], first["e"]) == (_PUBLIC["n"], _PUBLIC["e"]) else 401


TOKEN = signed(
    {"alg": "RS256", "typ": "at+jwt", "kid": KID},
    {
        "iss": ISSUER,
        "sub": "user_alice",
        "exp": int(time.time()) + 86400,
        "client_id": CLIENT_ID,
        "scope": "openid email profile",
    },
)
_DOCUMENTS = st.one_of(
    st.lists(_entries() | json_values, max_size=5).map(lambda keys: json_text({"keys": keys})),
    st.lists(_entries(), max_size=3).map(lambda keys: json_text({"keys": keys, "extra": [1]})),
    bodies({"keys": st.lists(json_values, max_size=3) | json_values}),
)


@budget(200)
@given(status=st.sampled_from([200] * 8 + [304, 404, 500]), body=_DOCUMENTS)
@example(status=200, body=json_text({"keys": [{**JWK, "d": "AQAB"}]}))
@example(status=200, body=json_text({"keys": [_jwk(OTHER), JWK]}))
@counted
def test_a_jwks_document_lets_a_token_through_only_with_its_genuine_key(
    status: int, body: str
) -> None:
    """Oracle (``expected_for_jwks``): a genuinely signed, otherwise valid token passes only
    when the first usable RS256 key published under its kid is the key that signed it; a
    document with no usable key is an outage (503), never a pass and never a 500."""
    app = build_app({"CLERK_TOKEN_VERIFICATION": "jwt", "CLERK_CACHE_TTL": 0})
    app.add_url_rule("/hostile", "hostile", require_clerk(lambda: "ok"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as clerk:
        clerk.add(responses.GET, JWKS, body=body, status=status)
        clerk.add(responses.GET, USERINFO, status=500)
        response = app.test_client().get("/hostile", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == expected_for_jwks(status, body), response.get_json()


# -- the token endpoint --------------------------------------------------------------------

TOKEN_ENDPOINT = f"{ISSUER}/oauth/token"
_STATE = ClerkMCP.state(build_app())
TOKEN_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "access_token": st.sampled_from(
        ["oat_good", "oat_good", "", " ", "oat\nx", "oat\x7f", "ü", None, 1, ["x"]]
    )
    | json_values,
    "token_type": st.sampled_from(["Bearer", "bearer", "Bearer", "mac", "", None, 1]),
    "refresh_token": st.sampled_from(["ort_good", "", "ort\r\nx", None, 1, {"a": 1}]),
    "expires_in": st.sampled_from(
        [3600, 0, -1, 1e300, 10**30, "3600", True, None, 315360001, 315360000]
    )
    | json_values,
    "scope": st.sampled_from(["openid email", ["openid"], 1, None]),
    "error": st.sampled_from(["invalid_grant", "", 1, None, "x" * 100]),
}


def _printable(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and all("\x20" <= c <= "\x7e" for c in value)


def acceptable_token_answer(status: int, body: str) -> bool:
    """RFC 6749 §5.1 restated: a 200 whose body is a JSON object with a non-empty
    ``access_token`` of visible ASCII (it goes into headers), a ``refresh_token`` that is
    absent or such a string, and an ``expires_in`` that is absent or a sane lifetime."""
    answer = loads(body)
    if status != 200 or not isinstance(answer, dict) or not _printable(answer.get("access_token")):
        return False
    refresh = answer.get("refresh_token")
    if refresh not in (None, "") and not _printable(refresh):
        return False
    expires = answer.get("expires_in")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
        return expires <= 10 * 365 * 86400
    return True


@budget(300)
@given(
    status=st.sampled_from([200] * 8 + [400, 401, 403, 404, 500, 503]),
    body=bodies(TOKEN_FIELDS),
    grant=st.sampled_from(["code", "refresh"]),
)
@example(status=200, body=json_text({"access_token": "oat_x", "scope": 1}), grant="code")
@example(status=200, body="[]", grant="refresh")
@counted
def test_token_endpoint_answers_are_tokens_or_typed_refusals(
    status: int, body: str, grant: str
) -> None:
    """Oracle (``acceptable_token_answer``): the exchange returns tokens only for a well-formed
    RFC 6749 §5.1 answer, and then exactly Clerk's access token; anything else is
    ``TokenRefused`` (a 400) or ``TokenEndpointUnavailable``, never another exception."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as clerk:
        clerk.add(responses.POST, TOKEN_ENDPOINT, body=body, status=status)
        try:
            if grant == "code":
                tokens = oauth.exchange_code(
                    _STATE.settings,
                    _STATE.upstream,
                    code="c",
                    redirect_uri="https://mcp.example.com/cb",
                    verifier="v" * 43,
                    clock=time.time,
                )
            else:
                tokens = oauth.refresh(_STATE.settings, _STATE.upstream, refresh_token="ort_old")
        except oauth.TokenRefused:
            answer = loads(body)
            assert status == 400 or (
                isinstance(answer, dict) and isinstance(answer.get("error"), str)
            )
            return
        except oauth.TokenEndpointUnavailable:
            return
    assert acceptable_token_answer(status, body), body
    answer = loads(body)
    assert tokens.access_token == answer["access_token"]
    assert tokens.refresh_token in (None, "ort_old", answer.get("refresh_token"))


def test_the_token_oracle_accepts_a_plain_good_answer() -> None:
    """The oracle is not vacuous: Clerk's ordinary answer is accepted, and passes."""
    body = json_text(
        {
            "access_token": "oat_x",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "ort_y",
        }
    )
    assert acceptable_token_answer(200, body)
    with responses.RequestsMock() as clerk:
        clerk.add(responses.POST, TOKEN_ENDPOINT, body=body)
        tokens = oauth.refresh(_STATE.settings, _STATE.upstream, refresh_token="ort_old")
    assert tokens.access_token == "oat_x" and tokens.refresh_token == "ort_y"


def test_the_jwks_oracle_accepts_the_genuine_key() -> None:
    """Not vacuous either: the plain JWKS lets the token through."""
    assert expected_for_jwks(200, json_text({"keys": [JWK]})) == 200
