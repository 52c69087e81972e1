"""local_jwt: the local checks of Clerk's at+jwt access tokens, and the JWKS cache behind them.

Keys are made here (cryptography); the JWKS endpoint is a counting callable, so every test
can say how many fetches a scenario cost. No network, no Flask.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

import flask_clerk_mcp.jwks as jwks_module
import flask_clerk_mcp.local_jwt as local_jwt_module
from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable
from flask_clerk_mcp.local_jwt import (
    AudiencePolicy,
    JwksCache,
    LocalJwtVerifier,
    looks_like_jwt,
    parse_jwks,
)
from tests.support.clock import FakeClock

ISSUER = "https://example-app-16.clerk.accounts.dev"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
CLIENT_ID = "client_abc"
RESOURCE = "https://mcp.example.com/mcp"
NOW = 1_800_000_000
INTERVAL = 10.0


@pytest.fixture(scope="module")
def key_a() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_b() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {
        "use": "sig",
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "n": public["n"],
        "e": "AQAB",
    } | extra


class JwksEndpoint:
    """A fake ``fetch_json``: serves ``document`` (or raises ``error``) and counts calls.

    With ``gate`` set, a fetch signals ``started`` and then waits for ``release``.
    """

    def __init__(self, document: object) -> None:
        self.document = document
        self.error: BaseException | None = None
        self.calls = 0
        self.urls: list[str] = []
        self.gate: tuple[threading.Event, threading.Event] | None = None

    def __call__(self, url: str) -> object:
        self.calls += 1
        self.urls.append(url)
        if self.gate is not None:
            started, release = self.gate
            started.set()
            release.wait(10)
        if self.error is not None:
            raise self.error
        return self.document


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def endpoint(key_a: rsa.RSAPrivateKey) -> JwksEndpoint:
    return JwksEndpoint({"keys": [jwk_of(key_a, "kid_a")]})


def make_verifier(
    endpoint: JwksEndpoint, clock: FakeClock, audience: AudiencePolicy | None = None
) -> LocalJwtVerifier:
    cache = JwksCache(JWKS_URL, endpoint, clock=clock, refetch_interval=INTERVAL, max_age=600)
    return LocalJwtVerifier(
        issuer=ISSUER,
        jwks=cache,
        audience=audience or AudiencePolicy.of([CLIENT_ID], [RESOURCE]),
        clock=clock,
    )


@pytest.fixture
def verifier(endpoint: JwksEndpoint, clock: FakeClock) -> LocalJwtVerifier:
    return make_verifier(endpoint, clock)


def claims(**overrides: Any) -> dict[str, Any]:
    """Clerk-shaped access token claims; an override of ``None`` removes the claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user_alice",
        "client_id": CLIENT_ID,
        "scope": "openid email profile",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 86400,
        "jti": "oat_0123456789ABCDEF",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    key: rsa.RSAPrivateKey,
    payload: dict[str, Any] | None = None,
    *,
    kid: str = "kid_a",
    typ: str = "at+jwt",
    **header: Any,
) -> str:
    fields = {"kid": kid, "typ": typ, **header}
    return jwt.encode(payload or claims(), key, algorithm="RS256", headers=fields)


def sign_raw(key: rsa.RSAPrivateKey, payload: dict[str, Any]) -> str:
    """An RS256 token over a payload PyJWT would refuse to encode (e.g. a numeric ``iss``)."""
    header = b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "kid_a"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64(signature)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header: Any, payload: Any, signature: bytes = b"sig") -> str:
    """A hand-built compact JWS, for tokens no honest library would produce."""

    def part(value: Any) -> str:
        return b64(value if isinstance(value, bytes) else json.dumps(value).encode())

    return f"{part(header)}.{part(payload)}.{b64(signature)}"


def refusal(verifier: LocalJwtVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert caught.value.status == 401 and caught.value.error == "invalid_token"
    description = caught.value.description
    assert description.isascii() and '"' not in description and "\\" not in description
    for fragment in token.split("."):
        if len(fragment) >= 12:
            assert fragment[:12] not in description  # nothing of the token in the answer
    return description


# -- shape --------------------------------------------------------------------------------------


def test_jwt_shape(key_a: rsa.RSAPrivateKey) -> None:
    assert looks_like_jwt(sign(key_a))
    assert looks_like_jwt("a.b.c")
    for token in (
        "oat_2XKQLNNCWB7ZT4YHS9E",
        "",
        "a.b",
        "a.b.c.d",
        "a..c",
        ".b.c",
        "a.b.",
        "a.b.c=",
        "a.b.c d",
        "a+b.c.d",
        "a/b.c.d",
        "a.b.c\n",
    ):
        assert not looks_like_jwt(token), token


# -- the happy path ------------------------------------------------------------------------------


def test_a_good_token_passes_with_its_facts(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint
) -> None:
    verified = verifier.verify(sign(key_a))
    assert verified.subject == "user_alice"
    assert verified.client_id == CLIENT_ID
    assert verified.scopes == ("openid", "email", "profile")
    assert verified.expires_at == NOW + 86400
    assert verified.key_id == "kid_a"
    assert verified.claims["jti"] == "oat_0123456789ABCDEF"
    assert "claims=" not in repr(verified)
    assert endpoint.urls == [JWKS_URL]


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+JWT"])
def test_rfc_9068_types_pass(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, typ: str
) -> None:
    assert verifier.verify(sign(key_a, typ=typ)).subject == "user_alice"


def test_scp_list_gives_the_scopes(verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey) -> None:
    token = sign(key_a, claims(scope=None, scp=["email", "profile"]))
    assert verifier.verify(token).scopes == ("email", "profile")


# -- algorithms: refused before any key is looked up -----------------------------------------


def test_alg_none_is_refused(verifier: LocalJwtVerifier, endpoint: JwksEndpoint) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": "kid_a"}
    assert "algorithm" in refusal(verifier, compact(header, claims()))
    unsecured = compact(header, claims()).rsplit(".", 1)[0] + "."  # RFC 7519 §6: no signature
    assert "well-formed" in refusal(verifier, unsecured)
    assert endpoint.calls == 0


def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint
) -> None:
    """The classic key-confusion attack: HMAC keyed with the published RSA key."""
    pem = key_a.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "kid_a"}).encode())
    payload = b64(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert "algorithm" in refusal(verifier, f"{header}.{payload}.{b64(mac)}")
    assert endpoint.calls == 0


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "EdDSA", "HS512", "rs256", "", None, 7])
def test_other_algorithms_are_refused(
    verifier: LocalJwtVerifier, endpoint: JwksEndpoint, alg: Any
) -> None:
    header = {"typ": "at+jwt", "kid": "kid_a"} | ({} if alg is None else {"alg": alg})
    assert "algorithm" in refusal(verifier, compact(header, claims()))
    assert endpoint.calls == 0


def test_a_real_es256_token_is_refused(verifier: LocalJwtVerifier, endpoint: JwksEndpoint) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        claims(), ec_key, algorithm="ES256", headers={"kid": "kid_a", "typ": "at+jwt"}
    )
    assert "algorithm" in refusal(verifier, token)
    assert endpoint.calls == 0


# -- typ, header -------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "id_token+jwt", "at+jwt ", "", 1, None])
def test_anything_but_an_access_token_type_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint, typ: Any
) -> None:
    if typ is None:
        token = compact({"alg": "RS256", "kid": "kid_a"}, claims())
    else:
        token = jwt.encode(claims(), key_a, algorithm="RS256", headers={"kid": "kid_a", "typ": typ})
    assert "not an access token" in refusal(verifier, token)
    assert endpoint.calls == 0


def test_an_id_token_signed_by_the_same_key_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    id_token = jwt.encode(
        {"iss": ISSUER, "sub": "user_alice", "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 60},
        key_a,
        algorithm="RS256",
        headers={"kid": "kid_a"},  # typ JWT, as Clerk's (and the emulator's) id_token
    )
    assert "not an access token" in refusal(verifier, id_token)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"kid": None}, "signing key"),
        ({"kid": ""}, "signing key"),
        ({"kid": 5}, "well-formed"),  # PyJWT itself refuses a non-string kid
        ({"kid": "k" * 257}, "signing key"),
        ({"crit": ["exp"]}, "well-formed"),
        ({"b64": False, "crit": ["b64"]}, "well-formed"),  # PyJWT: RFC 7797 needs no payload
        ({"b64": True, "crit": ["b64"]}, "extension"),
        ({"b64": True}, "extension"),
    ],
)
def test_header_oddities_are_refused(
    verifier: LocalJwtVerifier, endpoint: JwksEndpoint, extra: dict[str, Any], reason: str
) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "kid_a"} | extra
    header = {k: v for k, v in header.items() if v is not None}
    assert reason in refusal(verifier, compact(header, claims()))
    assert endpoint.calls == 0


def test_a_huge_header_is_refused_unparsed(
    verifier: LocalJwtVerifier, endpoint: JwksEndpoint
) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "kid_a", "pad": "x" * 1200}
    assert "too large" in refusal(verifier, compact(header, {"sub": "x"}))
    long_token = compact({"alg": "RS256"}, {"pad": "x" * 5000})
    assert "well-formed" in refusal(verifier, long_token)
    assert endpoint.calls == 0


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" + ".x",
        "a.b.c",
        b64(b"not json") + ".e30.c2ln",
        b64(b"[1, 2]") + ".e30.c2ln",
        b64(b'"RS256"') + ".e30.c2ln",
        b64(b"{" * 5000)[:900] + ".e30.c2ln",
        compact({"alg": "RS256", "typ": "at+jwt", "kid": "kid_a"}, b"not json"),
        compact({"alg": "RS256", "typ": "at+jwt", "kid": "kid_a"}, b"[1]"),
        compact({"alg": "RS256", "typ": "at+jwt", "kid": "kid_a"}, b"\xff\xfe"),
        "eyJhbGciOiJSUzI1NiJ9.e30.a",
    ],
)
def test_malformed_segments_are_refused(verifier: LocalJwtVerifier, token: str) -> None:
    refusal(verifier, token)


# -- signature ----------------------------------------------------------------------------------


def test_tampered_signature_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    header, payload, signature = sign(key_a).split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert "signature" in refusal(verifier, f"{header}.{payload}.{flipped}")


def test_tampered_payload_is_refused(verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey) -> None:
    header, _, signature = sign(key_a).split(".")
    forged = b64(json.dumps(claims(sub="user_mallory")).encode())
    assert "signature" in refusal(verifier, f"{header}.{forged}.{signature}")


def test_another_key_claiming_a_known_kid_is_refused(
    verifier: LocalJwtVerifier, key_b: rsa.RSAPrivateKey
) -> None:
    assert "signature" in refusal(verifier, sign(key_b, kid="kid_a"))


# -- registered claims -------------------------------------------------------------------------


def test_wrong_or_missing_issuer_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    for iss in ("https://evil.clerk.accounts.dev", ISSUER + "/", ISSUER.upper()):
        assert "issuer" in refusal(verifier, sign(key_a, claims(iss=iss)))
    assert "issuer" in refusal(verifier, sign_raw(key_a, claims(iss=5)))
    assert verifier.verify(sign_raw(key_a, claims())).subject == "user_alice"  # the helper works
    assert "no iss claim" in refusal(verifier, sign(key_a, claims(iss=None)))


def test_expiry_with_ten_seconds_of_leeway(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    token = sign(key_a, claims(exp=NOW + 60))
    assert verifier.verify(token).expires_at == NOW + 60
    clock.advance(69)
    assert verifier.verify(token).subject == "user_alice"  # 9 s late: within the leeway
    clock.advance(1)
    assert "expired" in refusal(verifier, token)


def test_not_before_in_the_future_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    assert "not valid yet" in refusal(verifier, sign(key_a, claims(nbf=NOW + 11)))
    assert verifier.verify(sign(key_a, claims(nbf=NOW + 10))).subject == "user_alice"
    assert "in the future" in refusal(verifier, sign(key_a, claims(iat=NOW + 11)))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value", ["1800000000", True, [1], float("nan"), float("inf"), -5, 10**30, 10**400]
)
def test_absurd_times_are_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, name: str, value: Any
) -> None:
    assert name in refusal(verifier, sign(key_a, claims(**{name: value})))


def test_exp_is_required_nbf_and_iat_are_not(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    assert "no exp claim" in refusal(verifier, sign(key_a, claims(exp=None)))
    assert verifier.verify(sign(key_a, claims(nbf=None, iat=None))).subject == "user_alice"


@pytest.mark.parametrize("sub", [None, "", 5, ["user_alice"]])
def test_a_subject_is_required(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, sub: Any
) -> None:
    refusal(verifier, sign(key_a, claims(sub=sub)))


# -- audience ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "aud", [RESOURCE, CLIENT_ID, [RESOURCE], ["https://other.example/mcp", RESOURCE]]
)
def test_audience_naming_us_passes(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, aud: Any
) -> None:
    assert verifier.verify(sign(key_a, claims(aud=aud))).subject == "user_alice"


@pytest.mark.parametrize(
    "aud",
    ["https://other.example/mcp", RESOURCE + "/", [], [""], "", [RESOURCE, 5], {"a": RESOURCE}, 5],
)
def test_audience_not_naming_us_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, aud: Any
) -> None:
    """``aud`` decides when present: an accepted ``client_id`` beside it does not rescue it."""
    assert "not meant for this server" in refusal(verifier, sign(key_a, claims(aud=aud)))


def test_without_aud_the_client_id_else_azp_decides(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    assert verifier.verify(sign(key_a)).client_id == CLIENT_ID
    by_azp = verifier.verify(sign(key_a, claims(client_id=None, azp=CLIENT_ID)))
    assert by_azp.client_id == CLIENT_ID
    for other in (claims(client_id="client_other"), claims(client_id=None)):
        assert "not meant for this server" in refusal(verifier, sign(key_a, other))
    mixed = claims(client_id="client_other", azp=CLIENT_ID)
    assert "not meant for this server" in refusal(verifier, sign(key_a, mixed))


def test_client_id_takes_precedence_over_azp() -> None:
    policy = AudiencePolicy.of([CLIENT_ID])
    assert policy.accepts({"client_id": CLIENT_ID})
    assert policy.accepts({"azp": CLIENT_ID})
    assert not policy.accepts({"client_id": "client_other", "azp": CLIENT_ID})
    assert not policy.accepts({"client_id": None, "azp": CLIENT_ID})
    assert not policy.accepts({"client_id": "", "azp": CLIENT_ID})
    assert not policy.accepts({})
    assert not policy.accepts({"aud": None, "client_id": CLIENT_ID})


def test_star_accepts_any_client_but_no_other_server() -> None:
    """``"*"`` widens the clients, not the servers: a token Clerk bound (RFC 8707) to another
    resource on the same instance is refused here even with ``"*"``."""
    policy = AudiencePolicy.of(["*"], [RESOURCE])
    assert policy.any_client
    assert policy.accepts({"client_id": "client_anyone"})
    assert policy.accepts({"aud": "client_anyone"})
    assert policy.accepts({"aud": RESOURCE})
    assert policy.accepts({"aud": ["https://other.example/mcp", RESOURCE]})
    assert not policy.accepts({"aud": "https://other.example/mcp"})
    assert not policy.accepts({"aud": ["client_anyone", "https://other.example/mcp"]})
    assert not policy.accepts({"aud": "urn://other"})
    assert not policy.accepts({})  # still no audience at all
    assert not policy.accepts({"aud": []})


def test_a_resource_is_no_client_id() -> None:
    """Resource URLs match ``aud`` only: a token whose client_id is our URL is not ours."""
    policy = AudiencePolicy.of([CLIENT_ID], [RESOURCE])
    assert not policy.accepts({"client_id": RESOURCE})
    assert policy.accepts({"aud": RESOURCE})


# -- the JWKS cache -------------------------------------------------------------------------------


def test_jwks_is_fetched_once_for_many_tokens(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    for n in range(50):
        verifier.verify(sign(key_a, claims(jti=f"oat_{n}")))
        clock.advance(5)  # 250 s in all: within max_age
    assert endpoint.calls == 1


def test_a_flood_of_unknown_kids_costs_one_fetch_per_interval(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    verifier.verify(sign(key_a))
    assert endpoint.calls == 1
    for _ in range(200):  # within the interval of the first fetch: no fetch at all
        assert "unknown key" in refusal(verifier, sign(key_a, kid=secrets.token_hex(8)))
    assert endpoint.calls == 1
    clock.advance(INTERVAL)
    for _ in range(200):
        refusal(verifier, sign(key_a, kid=secrets.token_hex(8)))
    assert endpoint.calls == 2
    clock.advance(INTERVAL / 2)
    with pytest.raises(UpstreamUnavailable):  # keys older than the token, no fetch allowed
        verifier.verify(sign(key_a, kid=secrets.token_hex(8)))
    assert endpoint.calls == 2
    clock.advance(INTERVAL / 2)
    refusal(verifier, sign(key_a, kid=secrets.token_hex(8)))
    assert endpoint.calls == 3
    assert verifier.verify(sign(key_a)).key_id == "kid_a"  # the flood cost the good key nothing


def test_a_rotated_key_is_picked_up_without_a_restart(
    verifier: LocalJwtVerifier,
    key_a: rsa.RSAPrivateKey,
    key_b: rsa.RSAPrivateKey,
    endpoint: JwksEndpoint,
    clock: FakeClock,
) -> None:
    verifier.verify(sign(key_a))
    endpoint.document = {"keys": [jwk_of(key_b, "kid_b"), jwk_of(key_a, "kid_a")]}
    clock.advance(INTERVAL)
    assert verifier.verify(sign(key_b, kid="kid_b")).key_id == "kid_b"
    assert endpoint.calls == 2
    assert verifier.verify(sign(key_a)).key_id == "kid_a"  # still published
    assert endpoint.calls == 2


def test_a_key_new_within_the_interval_is_a_503_until_the_next_fetch(
    verifier: LocalJwtVerifier,
    key_a: rsa.RSAPrivateKey,
    key_b: rsa.RSAPrivateKey,
    endpoint: JwksEndpoint,
    clock: FakeClock,
) -> None:
    """Clerk rotated moments after our fetch: a token of the new key cannot be checked yet,
    and is never refused for it (the fault tests' rotation found a 401 here)."""
    verifier.verify(sign(key_a))
    endpoint.document = {"keys": [jwk_of(key_b, "kid_b")]}
    clock.advance(3)
    with pytest.raises(UpstreamUnavailable) as caught:
        verifier.verify(sign(key_b, kid="kid_b"))
    assert caught.value.status == 503
    assert caught.value.retry_after == INTERVAL - 3
    assert endpoint.calls == 1
    clock.advance(INTERVAL - 3)
    assert verifier.verify(sign(key_b, kid="kid_b")).subject == "user_alice"
    assert endpoint.calls == 2


def test_a_kid_missing_from_keys_fetched_for_it_is_refused(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    """Keys fetched since the token came are the authority: a kid not among them is a 401."""
    clock.advance(INTERVAL)
    assert "unknown key" in refusal(verifier, sign(key_a, kid="kid_nobody"))
    assert endpoint.calls == 1


def test_an_unpublished_key_stops_verifying_after_max_age(
    verifier: LocalJwtVerifier,
    key_a: rsa.RSAPrivateKey,
    key_b: rsa.RSAPrivateKey,
    endpoint: JwksEndpoint,
    clock: FakeClock,
) -> None:
    token = sign(key_a)
    verifier.verify(token)
    endpoint.document = {"keys": [jwk_of(key_b, "kid_b")]}
    clock.advance(599)
    verifier.verify(token)
    assert endpoint.calls == 1
    clock.advance(1)
    assert "unknown key" in refusal(verifier, token)
    assert endpoint.calls == 2


def test_jwks_outage_is_503_for_unknown_keys_never_a_pass(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey, endpoint: JwksEndpoint, clock: FakeClock
) -> None:
    endpoint.error = UpstreamUnavailable("Clerk is down")
    for _ in range(20):
        with pytest.raises(UpstreamUnavailable) as caught:
            verifier.verify(sign(key_a))
        assert caught.value.status == 503
    assert endpoint.calls == 1  # one attempt per interval, not one per request
    clock.advance(INTERVAL)
    endpoint.error = None
    assert verifier.verify(sign(key_a)).subject == "user_alice"
    assert endpoint.calls == 2


def test_known_keys_survive_an_outage_unknown_ones_get_503(
    verifier: LocalJwtVerifier,
    key_a: rsa.RSAPrivateKey,
    key_b: rsa.RSAPrivateKey,
    endpoint: JwksEndpoint,
    clock: FakeClock,
) -> None:
    verifier.verify(sign(key_a))
    endpoint.error = requests.ConnectionError("refused")
    clock.advance(700)  # past max_age: the refresh fails, the known key stays in use
    assert verifier.verify(sign(key_a)).key_id == "kid_a"
    assert endpoint.calls == 2
    with pytest.raises(UpstreamUnavailable):
        verifier.verify(sign(key_b, kid="kid_b"))
    assert endpoint.calls == 2  # within the interval of the failed attempt
    clock.advance(INTERVAL)
    with pytest.raises(UpstreamUnavailable):
        verifier.verify(sign(key_b, kid="kid_b"))
    assert endpoint.calls == 3


@pytest.mark.parametrize(
    "error",
    [ValueError("not json"), RuntimeError("bug"), OSError("reset"), requests.Timeout("slow")],
    ids=lambda e: type(e).__name__,
)
def test_any_fetch_failure_is_our_503(
    verifier: LocalJwtVerifier,
    key_a: rsa.RSAPrivateKey,
    endpoint: JwksEndpoint,
    error: Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint.error = error
    with pytest.raises(UpstreamUnavailable):
        verifier.verify(sign(key_a))
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert JWKS_URL in caplog.text


def _hostile_documents(key: rsa.RSAPrivateKey) -> list[object]:
    good = jwk_of(key, "kid_a")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose
    return [
        "<!doctype html><html><body>Bad gateway</body></html>",
        None,
        [],
        [good],
        42,
        1e308,
        {},
        {"keys": None},
        {"keys": "kid_a"},
        {"keys": {"kid_a": good}},
        {"keys": []},
        {"keys": [None, 1, "x", [], {}]},
        {"keys": [good | {"kty": "oct", "k": "c2VjcmV0"}]},
        {"keys": [good | {"kty": "EC"}]},
        {"keys": [good | {"n": "!!!not-base64!!!"}]},
        {"keys": [good | {"n": ""}]},
        {"keys": [good | {"n": 10**300}]},
        {"keys": [good | {"n": "A" * 100_000}]},
        {"keys": [good | {"e": "A" * 100}]},
        {"keys": [good | {"e": "AA"}]},
        {"keys": [good | {"kid": None}]},
        {"keys": [good | {"kid": 7}]},
        {"keys": [good | {"use": "enc"}]},
        {"keys": [good | {"alg": "RS512"}]},
        {"keys": [good | {"alg": "HS256"}]},
        {"keys": [good | {"d": "AQAB"}]},
        {"keys": [jwk_of(small, "kid_a")]},
        {"keys": [{"nested": [[[[{}]]]]}]},
    ]


def test_hostile_jwks_bodies_never_raise_anything_but_ours(
    key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    token = sign(key_a)
    for document in _hostile_documents(key_a):
        assert parse_jwks(document) is None
        endpoint = JwksEndpoint(document)
        with pytest.raises(UpstreamUnavailable):
            make_verifier(endpoint, clock).verify(token)
        assert endpoint.calls == 1


def test_usable_keys_beside_hostile_ones_still_work(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    document = {
        "keys": [
            {"kty": "oct", "kid": "kid_a", "k": "c2VjcmV0"},  # never an HMAC key under kid_a
            jwk_of(key_a, "kid_a"),
            jwk_of(key_b, "kid_a"),  # a repeated kid: the first usable one stands
            "garbage",
            jwk_of(key_b, "kid_b", d="secret"),  # a private key published by mistake: skipped
        ]
    }
    keys = parse_jwks(document)
    assert keys is not None and list(keys) == ["kid_a"]
    verifier = make_verifier(JwksEndpoint(document), clock)
    assert verifier.verify(sign(key_a)).key_id == "kid_a"
    assert "signature" in refusal(verifier, sign(key_b, kid="kid_a"))


def test_no_more_than_max_keys_are_read(key_a: rsa.RSAPrivateKey) -> None:
    document = {"keys": [jwk_of(key_a, f"kid_{n}") for n in range(100)]}
    keys = parse_jwks(document)
    assert keys is not None and len(keys) == local_jwt_module.MAX_KEYS


def test_concurrent_unknown_kids_share_one_fetch(
    key_a: rsa.RSAPrivateKey, key_b: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    endpoint = JwksEndpoint({"keys": [jwk_of(key_a, "kid_a"), jwk_of(key_b, "kid_b")]})
    verifier = make_verifier(endpoint, clock)
    barrier = threading.Barrier(16)
    outcomes: list[str] = []

    def verify() -> None:
        barrier.wait()
        outcomes.append(verifier.verify(sign(key_b, kid="kid_b")).key_id)

    threads = [threading.Thread(target=verify) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == ["kid_b"] * 16
    assert endpoint.calls == 1


def test_a_stale_known_key_never_waits_for_a_refresh_in_flight(
    key_a: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    endpoint = JwksEndpoint({"keys": [jwk_of(key_a, "kid_a")]})
    verifier = make_verifier(endpoint, clock)
    verifier.verify(sign(key_a))
    started, release = threading.Event(), threading.Event()
    endpoint.gate = (started, release)
    clock.advance(700)
    refresher = threading.Thread(target=verifier.verify, args=(sign(key_a),))
    refresher.start()
    try:
        assert started.wait(10)
        # the refresher holds the lock inside the fetch; this verification does not wait for it
        assert verifier.verify(sign(key_a)).key_id == "kid_a"
        assert refresher.is_alive()
    finally:
        release.set()
        refresher.join(10)
    assert endpoint.calls == 2  # the in-flight refresh only


def test_repr_shows_no_key_material(endpoint: JwksEndpoint, clock: FakeClock, key_a: Any) -> None:
    cache = JwksCache(JWKS_URL, endpoint, clock=clock)
    policy = AudiencePolicy.of([CLIENT_ID])
    LocalJwtVerifier(issuer=ISSUER, jwks=cache, audience=policy, clock=clock).verify(sign(key_a))
    assert repr(cache) == f"JwksCache({JWKS_URL!r}, keys=1)"


# -- import rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [local_jwt_module, jwks_module])
def test_local_jwt_imports_no_flask_and_only_errors_of_ours(source: Any) -> None:
    tree = ast.parse(Path(source.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            assert not module.startswith(("flask", "werkzeug")), module
            if node.level:
                assert module in ("errors", "tokens", "jwks"), module
            else:
                assert not module.startswith("flask_clerk_mcp"), module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith(("flask", "werkzeug")), alias.name


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing here may reach a socket: the JWKS comes from the fake endpoint only."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("local_jwt tried to use the network")

    monkeypatch.setattr(requests.Session, "request", refuse)
    yield


# -- security review probes (suspicions that turned out unfounded, pinned down) ---------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_header_values = {
    "alg": st.sampled_from(["RS256", "rs256", "none", "HS256", "ES256", "PS256", ""]) | _json_value,
    "typ": st.sampled_from(["at+jwt", "AT+JWT", "application/at+jwt", "JWT", "at+jwt "])
    | _json_value,
    "kid": st.sampled_from(["kid_a", "kid_b", "../kid_a", "kid_a\x00", ""]) | _json_value,
    "jku": st.just("https://evil.example/jwks.json"),
    "x5u": st.just("https://evil.example/cert.pem"),
    "jwk": _json_value,
    "crit": _json_value,
    "cty": _json_value,
}


@settings(max_examples=300, deadline=None)
@given(
    header=st.fixed_dictionaries({}, optional=_header_values),
    payload=st.dictionaries(
        st.sampled_from(["iss", "sub", "exp", "nbf", "iat", "aud", "client_id", "azp", "scope"]),
        _json_value,
    ),
)
def test_hostile_unsigned_tokens_only_ever_get_our_refusals(
    key_a: rsa.RSAPrivateKey, header: dict[str, Any], payload: dict[str, Any]
) -> None:
    """Whatever the header and payload, forged tokens are refused with InvalidToken (never
    another exception, never a pass), and no header can make the verifier fetch elsewhere."""
    endpoint = JwksEndpoint({"keys": [jwk_of(key_a, "kid_a")]})
    verifier = make_verifier(endpoint, FakeClock(NOW))
    try:
        token = compact(header, payload, b"\x00" * 256)
    except ValueError:  # NaN/inf in the header: json.dumps refuses it too
        return
    with pytest.raises(InvalidToken):
        verifier.verify(token)
    assert set(endpoint.urls) <= {JWKS_URL}


_claim_values = {
    "iss": st.sampled_from([ISSUER, ISSUER[:-3], ISSUER + "/", ISSUER.upper()]) | _json_value,
    "sub": st.sampled_from(["user_alice", ""]) | _json_value,
    "exp": st.sampled_from([NOW + 60, NOW - 60, 2**53 + 1, 10**30, True, "1900000000"])
    | _json_value,
    "nbf": st.sampled_from([NOW, NOW + 3600]) | _json_value,
    "iat": st.sampled_from([NOW, NOW + 3600]) | _json_value,
    "aud": st.sampled_from([RESOURCE, [RESOURCE], [RESOURCE, 1], "*", [], ""]) | _json_value,
    "client_id": st.sampled_from([CLIENT_ID, "other"]) | _json_value,
    "azp": st.sampled_from([CLIENT_ID, "other"]) | _json_value,
    "scope": _json_value,
    "scp": _json_value,
}


@settings(max_examples=300, deadline=None)
@given(payload=st.fixed_dictionaries({}, optional=_claim_values))
def test_signed_hostile_payloads_pass_only_when_every_rule_holds(
    key_a: rsa.RSAPrivateKey, payload: dict[str, Any]
) -> None:
    """A token with a genuine signature but odd claims: either every check holds (and the
    facts returned are sane) or InvalidToken; never another exception."""
    verifier = make_verifier(JwksEndpoint({"keys": [jwk_of(key_a, "kid_a")]}), FakeClock(NOW))
    try:
        token = sign_raw(key_a, payload)
    except ValueError:
        return
    try:
        facts = verifier.verify(token)
    except InvalidToken:
        return
    assert payload["iss"] == ISSUER
    assert isinstance(payload["sub"], str) and payload["sub"]
    exp = payload["exp"]
    assert not isinstance(exp, bool) and isinstance(exp, int | float) and exp > NOW - 10
    assert exp <= 2**53
    assert facts.subject == payload["sub"]
    assert all(isinstance(s, str) and s for s in facts.scopes)


def test_an_embedded_jwk_or_jku_never_supplies_the_key(
    verifier: LocalJwtVerifier, endpoint: JwksEndpoint, key_b: rsa.RSAPrivateKey
) -> None:
    """The attacker signs with their own key and points at it three ways."""
    attacker_jwk = jwk_of(key_b, "kid_a")
    for header in (
        {"jwk": attacker_jwk},
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
    ):
        refusal(verifier, sign(key_b, **header))
    assert endpoint.urls == [JWKS_URL]


def test_the_issuer_is_compared_whole_not_as_a_substring(
    verifier: LocalJwtVerifier, key_a: rsa.RSAPrivateKey
) -> None:
    """PyJWT 2.10.0 compared a string issuer with ``in`` (CVE-2024-53861)."""
    for iss in (ISSUER[:-1], "clerk", ISSUER[8:], ""):
        refusal(verifier, sign_raw(key_a, claims(iss=iss)))


def test_a_kid_is_only_a_dictionary_key(
    verifier: LocalJwtVerifier, endpoint: JwksEndpoint, key_a: rsa.RSAPrivateKey
) -> None:
    for kid in ("../../etc/passwd", "kid_a?x=1", "https://evil.example/", "kid_a "):
        assert "unknown key" in refusal(verifier, sign(key_a, kid=kid))
    assert set(endpoint.urls) == {JWKS_URL}
