"""The whole verifier against the emulator, in each CLERK_TOKEN_VERIFICATION mode: what a cold
token costs Clerk, counted by the emulator itself (its `/__emulator/counters`).

Tokens come from the emulator's real flows: one PKCE sign-in with ``offline_access``, then
one refresh grant per fresh access token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cachelib import SimpleCache
from cryptography.hazmat.primitives.asymmetric import rsa

from flask_clerk_mcp.cache import VerificationCache
from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable
from flask_clerk_mcp.jwt_access import JWKS_REFETCH_INTERVAL, local_verifier
from flask_clerk_mcp.settings import load_settings
from flask_clerk_mcp.tokens import AccessToken
from flask_clerk_mcp.upstream import Upstream
from flask_clerk_mcp.verifier import ClerkVerifier
from tests.support.clock import FakeClock
from tests.support.emulator import running_emulator

from .conftest import BASIC, CLIENT_ID, CLIENT_SECRET, jwt_parts, sign_in

SCOPES = ("openid", "email", "profile")


def fresh_tokens(emu: EmulatorServer, count: int, user: str = "alice") -> list[str]:
    """``count`` distinct access tokens of ``user`` with ``SCOPES``: one sign-in (with
    ``offline_access``, whose token is not returned), then one refresh grant per token."""
    answer = sign_in(emu, user=user, scopes=(*SCOPES, "offline_access"))
    refresh, tokens = answer["refresh_token"], []
    while len(tokens) < count:
        reply = requests.post(
            emu.url("/oauth/token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "scope": " ".join(SCOPES),
            },
            auth=BASIC,
            timeout=5,
        )
        assert reply.status_code == 200, reply.text
        refresh = reply.json()["refresh_token"]
        tokens.append(reply.json()["access_token"])
    assert len(set(tokens)) == count
    return tokens


class Setup:
    """A ``ClerkVerifier`` for one emulator, with its JWKS on a monotonic clock we move."""

    def __init__(self, emu: EmulatorServer, mode: str, clock: FakeClock, **config: Any) -> None:
        self.emu = emu
        settings = load_settings(
            {
                "CLERK_ISSUER_URL": emu.issuer,
                "CLERK_CLIENT_ID": CLIENT_ID,
                "CLERK_CLIENT_SECRET": CLIENT_SECRET,
                "CLERK_BASE_URL": "http://127.0.0.1:8000",
                "CLERK_TOKEN_VERIFICATION": mode,
                **config,
            }
        )
        cache = VerificationCache(
            SimpleCache(),
            ttl=settings.cache_ttl,
            issuer=settings.issuer,
            accepted_client_ids=settings.accepted_client_ids,
            secret=b"k" * 32,
            clock=clock,
        )
        self.monotonic = FakeClock(1000.0)
        upstream = Upstream(settings.client_id, settings.client_secret, settings.timeout)
        local = local_verifier(settings, upstream, clock=clock, monotonic=self.monotonic)
        self.verifier = ClerkVerifier(settings, cache, clock=clock, upstream=upstream, local=local)

    def counts(self) -> dict[str, int]:
        counters = self.emu.emulator.controls.counters()
        return {name: counters.get(name, 0) for name in ("token_info", "userinfo", "jwks")}

    def reset(self) -> None:
        self.emu.emulator.controls.reset_counters()


@pytest.fixture
def opaque_emu(clock: FakeClock) -> Iterator[EmulatorServer]:
    with running_emulator(clock=clock, access_token_format="opaque") as server:
        yield server


def test_default_mode_one_introspection_per_cold_jwt_none_for_userinfo_once_cached(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    setup = Setup(emu, "jwt+introspection", clock)
    tokens = fresh_tokens(emu, 5)
    setup.reset()
    first = setup.verifier.verify(tokens[0])
    assert first.subject == jwt_parts(tokens[0])[1]["sub"]
    assert first.claims["email"] == "alice@example.com"
    assert setup.counts() == {"token_info": 1, "userinfo": 1, "jwks": 1}
    for token in tokens[1:]:
        assert setup.verifier.verify(token).subject == first.subject
    assert setup.counts() == {"token_info": 5, "userinfo": 1, "jwks": 1}
    for token in tokens:  # warm: nothing
        setup.verifier.verify(token)
    assert setup.counts() == {"token_info": 5, "userinfo": 1, "jwks": 1}


def test_jwt_mode_no_call_on_a_cold_jwt_once_the_profile_is_cached(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    setup = Setup(emu, "jwt", clock)
    tokens = fresh_tokens(emu, 5)
    setup.reset()
    for token in tokens:
        assert setup.verifier.verify(token).claims["email"] == "alice@example.com"
    assert setup.counts() == {"token_info": 0, "userinfo": 1, "jwks": 1}


def test_jwt_mode_accepts_a_revoked_jwt_until_exp_the_default_does_not(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    """The trade-off the README states loudly, shown: once alice's profile is cached, jwt mode
    asks Clerk nothing about her next token, so its revocation goes unseen."""
    earlier, token = fresh_tokens(emu, 2)
    jwt_only = Setup(emu, "jwt", clock)
    jwt_only.verifier.verify(earlier)
    answer = requests.post(
        emu.url("/oauth/token/revoke"), data={"token": token}, auth=BASIC, timeout=5
    )
    assert answer.status_code == 200
    assert jwt_only.verifier.verify(token).subject
    with pytest.raises(InvalidToken, match="not active"):
        Setup(emu, "jwt+introspection", clock).verifier.verify(token)


@pytest.mark.parametrize("mode", ["introspection", "jwt+introspection", "jwt"])
def test_a_cold_opaque_token_costs_two_calls_in_every_mode(
    opaque_emu: EmulatorServer, clock: FakeClock, mode: str
) -> None:
    setup = Setup(opaque_emu, mode, clock)
    tokens = fresh_tokens(opaque_emu, 3)
    assert tokens[0].startswith("oat_")
    setup.reset()
    for token in tokens:
        setup.verifier.verify(token)
        setup.verifier.verify(token)
    assert setup.counts() == {"token_info": 3, "userinfo": 3, "jwks": 0}


def burst(verifier: ClerkVerifier, token: str, threads: int = 16) -> list[Any]:
    start = threading.Barrier(threads)
    outcomes: list[Any] = [None] * threads

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = verifier.verify(token)
        except Exception as exc:  # pragma: no cover - what the assertions look for
            outcomes[index] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    return outcomes


@pytest.mark.parametrize(
    ("fixture", "mode", "expected"),
    [
        ("emu", "jwt+introspection", {"token_info": 1, "userinfo": 1, "jwks": 1}),
        ("emu", "jwt", {"token_info": 0, "userinfo": 1, "jwks": 1}),
        ("opaque_emu", "jwt+introspection", {"token_info": 1, "userinfo": 1, "jwks": 0}),
    ],
)
def test_a_concurrent_burst_on_one_cold_token_costs_one_verification(
    request: pytest.FixtureRequest,
    clock: FakeClock,
    fixture: str,
    mode: str,
    expected: dict[str, int],
) -> None:
    emulator: EmulatorServer = request.getfixturevalue(fixture)
    emulator.emulator.controls.set_latency(100)  # every thread arrives while it is in flight
    setup = Setup(emulator, mode, clock)
    token = fresh_tokens(emulator, 1)[0]
    setup.reset()
    outcomes = burst(setup.verifier, token)
    assert all(isinstance(o, AccessToken) for o in outcomes), outcomes
    assert setup.counts() == expected


def forged(kid: str, claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def test_one_jwks_fetch_per_unknown_kid_interval(emu: EmulatorServer, clock: FakeClock) -> None:
    setup = Setup(emu, "jwt+introspection", clock)
    claims = jwt_parts(fresh_tokens(emu, 1)[0])[1]
    floods = [forged(f"ins_invented_{n}", claims) for n in range(3)]
    setup.reset()
    for _round in range(3):
        for token in floods * 5:
            # refused when the keys were fetched for it, else 503 until a fetch is allowed
            with pytest.raises((InvalidToken, UpstreamUnavailable)):
                setup.verifier.verify(token)
        setup.monotonic.advance(JWKS_REFETCH_INTERVAL / 2)
    # 45 refusals in three rounds 5 s apart: a fetch at 0 s and one at 10 s, no more
    assert setup.counts() == {"token_info": 0, "userinfo": 0, "jwks": 2}


def test_a_rotated_key_is_used_without_a_restart(emu: EmulatorServer, clock: FakeClock) -> None:
    setup = Setup(emu, "jwt+introspection", clock)
    old = fresh_tokens(emu, 1)[0]
    setup.verifier.verify(old)
    rotated = requests.post(
        emu.url("/__emulator/keys/rotate"), json={"keep_previous": False}, timeout=5
    )
    new = fresh_tokens(emu, 1)[0]
    assert jwt_parts(new)[0]["kid"] == rotated.json()["current"]
    setup.monotonic.advance(JWKS_REFETCH_INTERVAL)
    assert setup.verifier.verify(new).subject
    assert setup.counts()["jwks"] == 2
    setup.verifier.hot.clear()
    with pytest.raises(InvalidToken, match="unknown key"):  # its key left the JWKS
        setup.verifier.verify(old)


def test_a_jwks_outage_is_503_for_unknown_kids_never_a_pass(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    setup = Setup(emu, "jwt", clock)
    known = fresh_tokens(emu, 2)
    setup.verifier.verify(known[0])
    requests.post(emu.url("/__emulator/keys/rotate"), json={"keep_previous": True}, timeout=5)
    unknown = fresh_tokens(emu, 1)[0]
    fault = {"endpoint": "jwks", "mode": "500", "count": 100}
    assert requests.post(emu.url("/__emulator/faults"), json=fault, timeout=5).status_code == 201
    setup.monotonic.advance(JWKS_REFETCH_INTERVAL)
    setup.reset()
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            setup.verifier.verify(unknown)
        setup.monotonic.advance(JWKS_REFETCH_INTERVAL)
    assert setup.counts()["jwks"] == 3
    assert setup.verifier.verify(known[1]).subject  # the keys already known still serve
    requests.delete(emu.url("/__emulator/faults"), timeout=5)
    setup.monotonic.advance(JWKS_REFETCH_INTERVAL)
    assert setup.verifier.verify(unknown).subject


def test_the_demo_clients_resource_bound_jwt_passes_with_no_accepted_client_id(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    """Clerk binds ``aud`` to the resource the client asked for (RFC 8707): such a token from
    another client passes on its audience; one for another server never does."""
    setup = Setup(emu, "jwt+introspection", clock, CLERK_ACCEPTED_CLIENT_IDS="client_not_the_demo")
    ours = sign_in(emu, scopes=SCOPES, resource="http://127.0.0.1:8000/mcp")["access_token"]
    assert setup.verifier.verify(ours).client_id == CLIENT_ID
    theirs = sign_in(emu, scopes=SCOPES, resource="http://127.0.0.1:9000/mcp")["access_token"]
    with pytest.raises(InvalidToken, match="not meant for this server"):
        setup.verifier.verify(theirs)
