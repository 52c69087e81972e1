"""CLERK_TOKEN_VERIFICATION through the whole verifier: what each mode asks Clerk, counted.

Clerk is faked with `responses` (introspection, userinfo, and the JWKS of a key made here);
the JWT access tokens are signed here as Clerk signs them (RS256, ``typ: at+jwt``).
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import responses
from cachelib import SimpleCache
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from flask_clerk_mcp.cache import VerificationCache
from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable
from flask_clerk_mcp.settings import load_settings
from flask_clerk_mcp.verifier import ClerkVerifier
from tests.support.clock import FakeClock

from .conftest import (
    ALICE,
    BASE_CONFIG,
    BASE_URL,
    CLIENT_ID,
    INTROSPECT,
    ISSUER,
    TOKEN,
    USERINFO,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
    build_app,
    calls_to,
)

JWKS = f"{ISSUER}/.well-known/jwks.json"
RESOURCE = BASE_URL + "/mcp"
KID = "ins_test_key"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks(clerk: responses.RequestsMock, key: rsa.RSAPrivateKey) -> None:
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    document = {"keys": [{"use": "sig", "kty": "RSA", "kid": KID, "alg": "RS256", **public}]}
    clerk.add(responses.GET, JWKS, json=document)


_serial = iter(range(1_000_000))


def access_jwt(
    key: rsa.RSAPrivateKey, *, typ: str = "at+jwt", kid: str = KID, **overrides: Any
) -> str:
    """A fresh Clerk-shaped JWT access token (a new ``jti`` each time: a cold token)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user_alice",
        "client_id": CLIENT_ID,
        "scope": "openid email profile",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": f"oat_{next(_serial)}",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": typ})


def counts(clerk: responses.RequestsMock) -> tuple[int, int, int]:
    """(introspections, userinfo calls, JWKS fetches) so far."""
    return calls_to(clerk, INTROSPECT), calls_to(clerk, USERINFO), calls_to(clerk, JWKS)


def app_in(mode: str, **config: Any) -> Any:
    return build_app({"CLERK_TOKEN_VERIFICATION": mode, **config})


def post(app: Any, token: str) -> Any:
    return app.test_client().post("/mcp", headers=bearer(token))


# -- refused locally: no call to Clerk --------------------------------------------------------


def refused_tokens(key: rsa.RSAPrivateKey) -> dict[str, str]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = access_jwt(key)
    header, payload, _ = good.split(".")
    forged_signature = access_jwt(other).split(".")[2]
    now = int(time.time())
    return {
        "bad signature": f"{header}.{payload}.{forged_signature}",
        "id token": access_jwt(key, typ="JWT"),
        "expired": access_jwt(key, exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "other issuer": access_jwt(key, iss="https://evil.example"),
        "other server": access_jwt(key, aud="https://other.example/mcp"),
        "other client": access_jwt(key, client_id="client_other"),
        "alg none": jwt.encode({"sub": "user_alice"}, None, algorithm="none"),
        "hs256": jwt.encode(
            {"sub": "user_alice", "iss": ISSUER}, "k" * 32, algorithm="HS256",
            headers={"typ": "at+jwt", "kid": KID},
        ),
    }  # fmt: skip


@pytest.mark.parametrize("mode", ["jwt+introspection", "jwt"])
def test_a_refused_jwt_costs_clerk_nothing(
    mode: str, clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = app_in(mode)
    for reason, token in refused_tokens(key).items():
        for _ in range(3):
            response = post(app, token)
            assert response.status_code == 401, reason
            assert response.get_json()["error"] == "invalid_token", reason
    introspections, userinfo, fetches = counts(clerk)
    assert (introspections, userinfo) == (0, 0)
    assert fetches == 1  # the keys, once, for every token that got that far


@pytest.mark.parametrize("token", ["abc.def.ghi", "abc.def.", "a.b", "a..c", "oat_x.y"])
def test_anything_with_a_dot_is_judged_as_a_jwt_locally(
    token: str, clerk: responses.RequestsMock
) -> None:
    """Clerk's opaque tokens (``oat_…``) have no dot: a dotted token is a JWT or garbage, and
    garbage costs Clerk nothing (an unsigned ``alg: none`` token ends in a dot)."""
    answer_introspection(clerk)
    assert post(app_in("jwt+introspection"), token).status_code == 401
    assert counts(clerk) == (0, 0, 0)


# -- the default mode: one introspection per cold JWT ------------------------------------------


def test_default_mode_one_introspection_per_cold_jwt_and_the_profile_cached(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = build_app()  # the default mode
    assert app.extensions["clerk_mcp"].settings.verification == "jwt+introspection"
    for n in range(1, 6):
        response = post(app, access_jwt(key))
        assert response.status_code == 200
        assert response.get_json()["claims"]["email"] == ALICE["email"]
        assert counts(clerk) == (n, 1, 1)  # userinfo for the first token only


def test_default_mode_refuses_what_introspection_calls_inactive(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    """A revoked JWT still passes the local checks: introspection is what sees it."""
    answer_introspection(clerk, {"active": False})
    answer_userinfo(clerk)
    response = post(build_app(), access_jwt(key))
    assert response.status_code == 401
    assert counts(clerk) == (1, 0, 1)


def test_default_mode_refuses_a_subject_introspection_contradicts(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk, active(sub="user_mallory"))
    answer_userinfo(clerk)
    assert post(build_app(), access_jwt(key)).status_code == 401
    assert calls_to(clerk, USERINFO) == 0


def test_default_mode_takes_the_scopes_introspection_answers(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk, active(scope="openid profile"))
    answer_userinfo(clerk)
    response = post(build_app(), access_jwt(key))  # the JWT says email; Clerk no longer does
    assert response.status_code == 403
    assert 'scope="openid email profile"' in response.headers["WWW-Authenticate"]


def test_a_jwt_bound_to_this_server_needs_no_accepted_client_id(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    """Direct mode with a registered MCP client: Clerk binds its JWT to our resource URL.
    The signed ``aud`` decides; introspection's ``client_id`` (another client) is not judged
    again, so no ``"*"`` is needed."""
    answer_introspection(clerk, active(client_id="client_mcp_inspector"))
    answer_userinfo(clerk)
    app = build_app()
    for aud in (RESOURCE, BASE_URL, [RESOURCE, "https://other.example"]):
        token = access_jwt(key, client_id="client_mcp_inspector", aud=aud)
        response = post(app, token)
        assert response.status_code == 200, aud
        assert response.get_json()["client_id"] == "client_mcp_inspector"
    # the same client's opaque token is judged by client_id, as before: not ours
    assert post(app, TOKEN).status_code == 401


def test_star_never_accepts_a_jwt_bound_to_another_server(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk, active(client_id="client_anyone"))
    answer_userinfo(clerk)
    for mode in ("jwt+introspection", "jwt"):
        app = app_in(mode, CLERK_ACCEPTED_CLIENT_IDS="*")
        before = counts(clerk)[:2]
        elsewhere = access_jwt(key, client_id="client_anyone", aud="https://other.example/mcp")
        assert post(app, elsewhere).status_code == 401, mode
        assert counts(clerk)[:2] == before
        anyone = access_jwt(key, client_id="client_anyone")  # no aud: any client, as "*" says
        assert post(app, anyone).status_code == 200, mode


# -- the jwt mode: no call on a cold token once the profile is known ---------------------------


def test_jwt_mode_never_introspects_a_jwt(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = app_in("jwt")
    for _ in range(5):
        response = post(app, access_jwt(key))
        assert response.status_code == 200
        assert response.get_json()["subject"] == "user_alice"
        assert response.get_json()["claims"]["name"] == ALICE["name"]
    assert counts(clerk) == (0, 1, 1)


def test_jwt_mode_still_refuses_what_userinfo_refuses(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_userinfo(clerk, {"error": "invalid_token"}, status=401)
    assert post(app_in("jwt"), access_jwt(key)).status_code == 401


def test_the_profile_cache_is_per_subject_and_scopes(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    """Userinfo answers by scope: a token without ``email`` never reads a profile that a
    token with it was given."""
    answer_userinfo(clerk)
    app = app_in("jwt")
    assert post(app, access_jwt(key)).status_code == 200
    narrow = access_jwt(key, scope="openid email profile extra")
    assert post(app, narrow).status_code == 200
    assert calls_to(clerk, USERINFO) == 2
    bob = access_jwt(key, sub="user_bob")
    answer_userinfo_bob = {**ALICE, "sub": "user_bob", "user_id": "user_bob"}
    clerk.replace(responses.GET, USERINFO, json=answer_userinfo_bob)
    assert post(app, bob).get_json()["subject"] == "user_bob"
    assert calls_to(clerk, USERINFO) == 3


def test_jwt_mode_profile_is_not_cached_when_userinfo_is_down(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_userinfo(clerk, status=500)
    app = app_in("jwt")
    token = access_jwt(key)
    for _ in range(2):
        response = post(app, token)
        assert response.status_code == 200  # the token stands, the profile is empty
        assert "email" not in response.get_json()["claims"]
    assert calls_to(clerk, USERINFO) == 2  # not remembered: asked again


# -- introspection mode, and opaque tokens everywhere ------------------------------------------


def test_introspection_mode_asks_clerk_for_a_jwt_as_for_any_token(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = app_in("introspection")
    assert post(app, access_jwt(key)).status_code == 200
    assert post(app, access_jwt(key, typ="JWT")).status_code == 200  # Clerk's word, not ours
    assert counts(clerk) == (2, 2, 0)


@pytest.mark.parametrize("mode", ["introspection", "jwt+introspection", "jwt"])
def test_an_opaque_token_costs_two_calls_in_every_mode(
    mode: str, clerk: responses.RequestsMock
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = app_in(mode)
    for n, token in enumerate(("oat_first_cold_token", "oat_second_cold_token"), 1):
        assert post(app, token).status_code == 200
        assert counts(clerk) == (n, n, 0)


# -- the JWKS: outage, unknown keys ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["jwt+introspection", "jwt"])
def test_a_jwks_outage_is_a_503_never_a_pass(
    mode: str, clerk: responses.RequestsMock, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    clerk.add(responses.GET, JWKS, status=502)
    response = post(app_in(mode), access_jwt(key))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert calls_to(clerk, INTROSPECT) == 0


def test_a_flood_of_unknown_kids_costs_one_jwks_fetch(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    """Within one refetch interval (``test_local_jwt`` moves the clock past it)."""
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = build_app()
    assert post(app, access_jwt(key, kid="invented_0")).status_code == 401  # fetched for it
    for n in range(1, 20):  # keys older than the token, no fetch allowed: refused or 503
        assert post(app, access_jwt(key, kid=f"invented_{n}")).status_code in (401, 503)
    assert post(app, access_jwt(key)).status_code == 200
    assert counts(clerk) == (1, 1, 1)


# -- the first-level cache ---------------------------------------------------------------------


class CountingCache(SimpleCache):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, key: str) -> Any:
        self.gets += 1
        return super().get(key)


@pytest.mark.parametrize("mode", ["introspection", "jwt+introspection", "jwt"])
def test_a_warm_token_costs_no_call_and_no_shared_cache_read(
    mode: str, clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    backend = CountingCache()
    app = app_in(mode, CLERK_CACHE=backend)
    for token in (access_jwt(key), "oat_warm_opaque_token"):
        assert post(app, token).status_code == 200
        before, reads = counts(clerk), backend.gets
        for _ in range(10):
            assert post(app, token).status_code == 200
        assert counts(clerk) == before
        assert backend.gets == reads


def test_scopes_are_checked_on_every_warm_request(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = build_app()
    token = access_jwt(key)
    client = app.test_client()
    assert client.post("/mcp", headers=bearer(token)).status_code == 200
    for _ in range(3):
        assert client.get("/api/admin", headers=bearer(token)).status_code == 403
        assert client.post("/mcp", headers=bearer(token)).status_code == 200
    assert counts(clerk)[:2] == (1, 1)


def make_verifier(clock: FakeClock, mode: str, ttl: int = 60) -> ClerkVerifier:
    settings = load_settings(
        {**BASE_CONFIG, "CLERK_TOKEN_VERIFICATION": mode, "CLERK_CACHE_TTL": ttl}
    )
    cache = VerificationCache(
        SimpleCache(),
        ttl=ttl,
        issuer=settings.issuer,
        accepted_client_ids=settings.accepted_client_ids,
        secret=b"k" * 32,
        clock=clock,
    )
    return ClerkVerifier(settings, cache, clock=clock)


def test_the_first_level_cache_stops_at_the_ttl(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    clock = FakeClock(time.time())
    verifier = make_verifier(clock, "jwt+introspection", ttl=60)
    token = access_jwt(key)
    first = verifier.verify(token)
    clock.advance(59)
    assert verifier.verify(token) is first
    assert calls_to(clerk, INTROSPECT) == 1
    clock.advance(2)
    assert verifier.verify(token) is not first
    assert calls_to(clerk, INTROSPECT) == 2


def test_the_first_level_cache_stops_at_exp(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_userinfo(clerk)
    clock = FakeClock(time.time())
    verifier = make_verifier(clock, "jwt", ttl=3600)
    token = access_jwt(key, exp=int(clock()) + 30)
    verifier.verify(token)
    assert len(verifier.hot) == 1
    clock.advance(31)
    # past exp (within the 10 s leeway the local check still allows), never from the cache
    assert verifier.hot.get(verifier.cache.key(token)) is None
    clock.advance(10)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_the_first_level_cache_is_off_with_the_cache(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app = app_in("jwt+introspection", CLERK_CACHE_TTL=0)
    token = access_jwt(key)
    for _ in range(3):
        assert post(app, token).status_code == 200
    assert counts(clerk)[:2] == (3, 3)
    assert len(app.extensions["clerk_mcp"].verifier.hot) == 0


def test_the_first_level_cache_holds_no_token_in_its_keys(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_userinfo(clerk)
    app = app_in("jwt")
    token = access_jwt(key)
    assert post(app, token).status_code == 200
    hot = app.extensions["clerk_mcp"].verifier.hot
    keys = list(hot._entries)
    assert len(keys) == 1 and token not in keys[0] and len(keys[0]) == 64
    assert token not in repr(hot)


def test_an_outage_is_never_remembered(
    clerk: responses.RequestsMock, jwks: None, key: rsa.RSAPrivateKey
) -> None:
    answer_introspection(clerk, status=503)
    clock = FakeClock(time.time())
    verifier = make_verifier(clock, "jwt+introspection")
    token = access_jwt(key)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            verifier.verify(token)
    assert calls_to(clerk, INTROSPECT) == 2
    assert len(verifier.hot) == 0
