"""The benchmarks' Clerk: the emulator's operator controls, and tokens got the way clients do.

Tokens come from the emulator's public OAuth endpoints only, never a back door, so what the
servers verify is exactly what Clerk would hand a client:

- ``sign_in_all``: the authorization-code + PKCE sign-in (four calls each), for the few
  tokens a warm run reuses;
- ``mint_fresh``: many distinct tokens for cold runs (one per request). Each of a few
  sign-ins (with ``offline_access``) starts a refresh-token chain, and every refresh (one call)
  yields a new access token, narrowed back to the warm tokens' scopes so both answer alike.
  The emulator rotates refresh tokens but leaves earlier access tokens valid, as Clerk does.
  Chains run in parallel threads, and the emulator's added latency is lifted while minting
  (and put back, checked, before anything is measured): minting happens between rounds, never
  inside one, so this only makes the run shorter.

The emulator has no operator control that mints tokens in bulk; ``mint_fresh`` is what a
benchmark can do without one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote_plus

import requests

from benchmarks.harness import REQUEST_TIMEOUT, LoadError, SharedCursor, Token
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_users
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce

REDIRECT_URI = "http://127.0.0.1:5000/auth/callback"
USERS = ("alice", "bob")
SCOPES = ("openid", "email", "profile")
#: Endpoints whose calls are what verifying a token costs Clerk (jwks: once JWTs land).
UPSTREAM_ENDPOINTS = ("token_info", "userinfo", "jwks")


class Clerk:
    """The emulator's operator endpoints (``/__emulator/``)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def counters(self) -> dict[str, int]:
        answer = requests.get(f"{self.issuer}/__emulator/counters", timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()
        counts: dict[str, int] = answer.json()
        return counts

    def upstream_calls(self) -> int:
        """Introspection, userinfo and JWKS calls since the last reset."""
        counts = self.counters()
        return sum(counts.get(name, 0) for name in UPSTREAM_ENDPOINTS)

    def reset_counters(self) -> None:
        answer = requests.post(f"{self.issuer}/__emulator/reset-counters", timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()

    def latency_ms(self, ms: int | None = None) -> int:
        """The emulator's added latency; set it first if ``ms`` is given."""
        url = f"{self.issuer}/__emulator/latency"
        if ms is None:
            answer = requests.get(url, timeout=REQUEST_TIMEOUT)
        else:
            answer = requests.post(url, json={"ms": ms}, timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()
        value: int = answer.json()["ms"]
        return value

    @contextmanager
    def without_latency(self) -> Iterator[None]:
        """Lift the added latency for the block; put it back and check it after."""
        before = self.latency_ms()
        self.latency_ms(0)
        try:
            yield
        finally:
            if self.latency_ms(before) != before:
                raise LoadError("the emulator did not take its latency back")


def sign_in_all(issuer: str, per_user: int, scopes: tuple[str, ...] = SCOPES) -> list[Token]:
    """``per_user`` distinct tokens for each of alice and bob, interleaved."""
    users = default_users()
    tokens: list[Token] = []
    for _ in range(per_user):
        for user in USERS:
            answer = sign_in_with_pkce(
                issuer,
                DEMO_CLIENT_ID,
                REDIRECT_URI,
                client_secret=DEMO_CLIENT_SECRET,
                user=user,
                scopes=scopes,
            )
            tokens.append(Token(user, users[user].user_id, answer["access_token"]))
    if len({token.value for token in tokens}) != len(tokens):
        raise LoadError("the emulator handed out the same token twice")
    return tokens


def _refresh_chain(issuer: str, user: str, count: int) -> list[Token]:
    """One sign-in with ``offline_access``, then ``count`` refreshes: ``count`` access tokens."""
    subject = default_users()[user].user_id
    auth = (quote_plus(DEMO_CLIENT_ID), quote_plus(DEMO_CLIENT_SECRET))  # RFC 6749 §2.3.1
    tokens: list[Token] = []
    with requests.Session() as http:
        answer = sign_in_with_pkce(
            issuer,
            DEMO_CLIENT_ID,
            REDIRECT_URI,
            client_secret=DEMO_CLIENT_SECRET,
            user=user,
            scopes=(*SCOPES, "offline_access"),
            session=http,
        )
        refresh = answer["refresh_token"]
        for _ in range(count):
            reply = http.post(
                f"{issuer}/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh,
                    "scope": " ".join(SCOPES),
                },
                auth=auth,
                timeout=REQUEST_TIMEOUT,
            )
            if reply.status_code != 200:
                raise LoadError(f"refresh failed: HTTP {reply.status_code} {reply.text[:200]}")
            body = reply.json()
            refresh = body["refresh_token"]
            tokens.append(Token(user, subject, body["access_token"]))
    return tokens


def mint_fresh(clerk: Clerk, count: int, chains: int = 8) -> list[Token]:
    """``count`` distinct access tokens, alice's and bob's interleaved (see the docstring)."""
    chains = max(2, min(chains, count))
    per_chain = [count // chains + (1 if i < count % chains else 0) for i in range(chains)]
    with clerk.without_latency(), ThreadPoolExecutor(chains) as pool:
        results = list(
            pool.map(
                lambda job: _refresh_chain(clerk.issuer, USERS[job[0] % len(USERS)], job[1]),
                enumerate(per_chain),
            )
        )
    tokens = [chain[i] for i in range(max(per_chain)) for chain in results if i < len(chain)]
    if len({token.value for token in tokens}) != len(tokens):
        raise LoadError("the emulator handed out the same token twice")
    return tokens


class TokenPool:
    """Fresh tokens for cold rounds: each handed out once, refilled between rounds.

    ``tokens`` only grows; ``cursor()`` hands the unused ones to one round's clients, and
    ``spend`` moves past those the round used, so no token is ever sent twice.
    """

    def __init__(self, clerk: Clerk) -> None:
        self.clerk = clerk
        self.tokens: list[Token] = []
        self.next = 0

    def ensure(self, wanted: int) -> None:
        """At least ``wanted`` unused tokens in the pool (minted now if short)."""
        short = wanted - (len(self.tokens) - self.next)
        if short > 0:
            began = time.monotonic()
            self.tokens.extend(mint_fresh(self.clerk, short))
            took = time.monotonic() - began
            print(f"  minted {short} fresh tokens in {took:.1f} s", file=sys.stderr)

    def cursor(self) -> SharedCursor:
        return SharedCursor(self.next, len(self.tokens))

    def spend(self, cursor: SharedCursor) -> int:
        """Mark what ``cursor`` handed out as spent; return how many that was."""
        used = cursor.used - self.next
        self.next = cursor.used
        return used
