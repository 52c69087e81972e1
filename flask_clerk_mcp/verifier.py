"""Token verification with Clerk: introspection (the gate), then userinfo (the profile).

Knows nothing of Flask: plain functions and a class over a ``requests`` session, so it can be
tested, benchmarked and reused without an app. Fail-closed throughout: a field that is absent
or of the wrong type never counts as a pass, and an answer that is not a verdict (Clerk down,
slow, or talking nonsense) is an ``UpstreamUnavailable``, never an ``InvalidToken`` and never a
success.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeGuard

import requests

from .cache import VerificationCache
from .errors import ClerkAuthError, InsufficientScope, InvalidToken, UpstreamUnavailable
from .scopes import NO_IMPLICATIONS, Implications, missing
from .settings import Settings
from .tokens import AccessToken
from .upstream import Upstream, json_object, retry_after

log = logging.getLogger("flask_clerk_mcp")

#: Seconds of clock skew tolerated on ``exp`` and ``nbf``.
LEEWAY = 10
PROFILE_CLAIMS = (
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "picture",
    "preferred_username",
)
_ORG_CLAIMS = ("org_id", "org_name", "org_slug", "org_role")


def parse_scopes(value: Any) -> tuple[str, ...]:
    """``scope`` as a space-separated string or a list; anything else grants nothing."""
    if isinstance(value, str):
        items: Iterable[Any] = value.split()
    elif isinstance(value, list):
        items = value
    else:
        return ()
    return tuple(dict.fromkeys(s for s in items if isinstance(s, str) and s and " " not in s))


def check_scopes(
    token: AccessToken, needed: Iterable[str], implies: Implications = NO_IMPLICATIONS
) -> None:
    """Raise ``InsufficientScope`` naming every scope the operation needs, if any is missing.

    The one scope check (the decorator, ``require_scopes`` and the login all come here): a
    granted broad scope satisfies the narrow ones ``implies`` (``CLERK_SCOPE_IMPLIES``) names.
    """
    needed = tuple(dict.fromkeys(needed))
    absent = missing(token.scopes, needed, implies)
    if absent:
        refusal = InsufficientScope(
            "The access token lacks the required scope(s): " + " ".join(absent), needed
        )
        refusal.client_id = token.client_id or None
        raise refusal


class ClerkVerifier:
    """Verifies bearer tokens for one app; safe to share across threads.

    Calls go through ``upstream.Upstream``: a pooled, cookie-free session per thread.
    """

    def __init__(
        self,
        settings: Settings,
        cache: VerificationCache,
        *,
        clock: Callable[[], float] = time.time,
        upstream: Upstream | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        #: Outbound HTTP (per-thread sessions, client credentials), shared with the login.
        self.upstream = upstream or Upstream(
            settings.client_id, settings.client_secret, settings.timeout
        )
        self._clock = clock
        self._audiences = frozenset(settings.accepted_client_ids)
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        # Long enough for the leader's two calls to time out; past it, followers go alone.
        self._flight_wait = 2 * sum(settings.timeout) + 1

    # -- the public face -------------------------------------------------------------------
    def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` Clerk vouches for, or ``InvalidToken``/``UpstreamUnavailable``.

        Scopes are not checked here (they depend on the route): see ``check_scopes``. With the
        cache on, concurrent requests for one cold token share a single verification (one
        flight), so a burst costs Clerk two calls, not two per request.
        """
        cached = self._from_cache(token)
        if cached is not None or not self.cache.enabled:
            return cached or self._verify_upstream(token)
        key = self.cache.key(token)
        with self._flights_lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leading:
            return flight.outcome(self._flight_wait)
        try:
            flight.result = self._from_cache(token) or self._verify_upstream(token)
            return flight.result
        except ClerkAuthError as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                del self._flights[key]
            flight.done.set()

    def _from_cache(self, token: str) -> AccessToken | None:
        cached = self.cache.lookup(token)
        if cached == "inactive":
            raise InvalidToken("The access token is not active")
        if isinstance(cached, dict):
            restored = _restore(token, cached)
            if restored is not None and not self._expired(restored.expires_at):
                return restored
        return None

    def _verify_upstream(self, token: str) -> AccessToken:
        answer: Mapping[str, Any] = {}
        try:
            answer = self._introspect(token)
            access_token, profile_checked = self._verdict(token, answer)
        except InvalidToken as exc:
            # Who the token was issued to tells an operator why it was refused (audience).
            client_id = answer.get("client_id")
            exc.client_id = client_id if isinstance(client_id, str) and client_id else None
            if exc.cacheable:
                self.cache.remember_inactive(token)
            raise
        # Without userinfo's answer, a refresh token posing as an access token went unseen:
        # accepted for this request (the contract), but not remembered.
        if profile_checked:
            self.cache.remember(token, _record(access_token), access_token.expires_at)
        return access_token

    def session(self) -> requests.Session:
        """This thread's pooled session (``upstream.Upstream.session``)."""
        return self.upstream.session()

    def close(self) -> None:
        """Close the upstream sessions of every thread."""
        self.upstream.close()

    # -- introspection (RFC 7662) ------------------------------------------------------------
    def _introspect(self, token: str) -> Mapping[str, Any]:
        try:
            response = self.upstream.post_form(
                self.settings.introspection_endpoint,
                {"token": token, "token_type_hint": "access_token"},
            )
        except requests.Timeout:
            raise self._unavailable("introspection timed out") from None
        except requests.RequestException as exc:
            raise self._unavailable(f"introspection failed ({type(exc).__name__})") from None

        status = response.status_code
        if status == 400:
            raise _rejected("The access token is malformed or unknown", cacheable=False)
        if status in (401, 403):
            log.error(
                "Clerk refused our client credentials at introspection (HTTP %d): "
                "check CLERK_CLIENT_ID and CLERK_CLIENT_SECRET",
                status,
            )
            raise UpstreamUnavailable("The authorization server refused this server's credentials")
        if status != 200:
            raise self._unavailable(f"introspection answered HTTP {status}", retry_after(response))
        answer = json_object(response)
        if answer is None:
            raise self._unavailable("introspection answered something that is not a JSON object")
        return answer

    def _verdict(self, token: str, answer: Mapping[str, Any]) -> tuple[AccessToken, bool]:
        """The token, and whether userinfo answered (so the refresh-token check ran)."""
        if answer.get("active") is not True:
            raise _rejected("The access token is not active", cacheable=True)
        now = self._clock()
        expires_at = _epoch(answer, "exp")
        if "exp" in answer and expires_at is None:
            raise _rejected("The introspection answer carries an unreadable exp")
        if expires_at is not None and expires_at + LEEWAY <= now:
            raise _rejected("The access token has expired", cacheable=True)
        not_before = _epoch(answer, "nbf")
        if "nbf" in answer and not_before is None:
            raise _rejected("The introspection answer carries an unreadable nbf")
        if not_before is not None and not_before - LEEWAY > now:
            raise _rejected("The access token is not valid yet")
        if answer.get("token_type") == "refresh_token":
            raise _rejected("A refresh token is not an access token", cacheable=True)
        client_id = answer.get("client_id")
        client_id = client_id if isinstance(client_id, str) and client_id else None
        if not self._audience_ok(answer.get("aud"), client_id):
            raise _rejected("The access token was not issued for this server", cacheable=True)

        subject = answer.get("sub")
        if subject is not None and not _is_subject(subject):
            raise _rejected("The introspection answer carries an unreadable sub")
        profile = self._userinfo(token, subject)
        if subject is None:
            if profile is None:
                # No subject, and the only other source is down: not a verdict on the token.
                raise self._unavailable("introspection gave no subject and userinfo is unavailable")
            subject = profile.get("sub")
            if not _is_subject(subject):
                raise _rejected("The access token has no subject")

        claims: dict[str, Any] = dict(answer)
        if profile is not None:
            for name in ("sub", *PROFILE_CLAIMS, *_ORG_CLAIMS):
                if name in profile:
                    claims.setdefault(name, profile[name])  # introspection wins where both speak
            claims["clerk_user"] = profile
        claims["sub"] = subject
        access_token = AccessToken(
            token=token,
            client_id=client_id or "",
            scopes=parse_scopes(answer.get("scope")),
            expires_at=expires_at,
            subject=subject,
            claims=claims,
        )
        return access_token, profile is not None

    def _audience_ok(self, aud: Any, client_id: str | None) -> bool:
        if isinstance(aud, str):
            audiences: set[str] = {aud}
        elif isinstance(aud, list):
            audiences = {a for a in aud if isinstance(a, str)}
        elif aud is None and client_id is not None:
            audiences = {client_id}
        else:
            return False
        if self.settings.accepts_any_client:
            return bool(audiences)
        return not audiences.isdisjoint(self._audiences)

    # -- userinfo (profile enrichment) -----------------------------------------------------
    def _userinfo(self, token: str, subject: str | None) -> dict[str, Any] | None:
        """The profile, or None when userinfo is unavailable (logged, never fatal).

        Two answers are verdicts: 401 (userinfo takes only access tokens, so this is what
        catches a refresh token that introspection called active) and a contradicting ``sub``.
        """
        try:
            response = self.upstream.get(self.settings.userinfo_endpoint, bearer=token)
        except requests.RequestException as exc:
            log.warning(
                "Clerk userinfo unavailable (%s); profile claims left empty", type(exc).__name__
            )
            return None
        if response.status_code == 401:
            raise _rejected(
                "Clerk's userinfo refused the token (not an access token?)", cacheable=True
            )
        if response.status_code != 200:
            log.warning(
                "Clerk userinfo answered HTTP %d; profile claims left empty", response.status_code
            )
            return None
        profile = json_object(response)
        if profile is None:
            log.warning("Clerk userinfo answered something that is not a JSON object; ignored")
            return None
        if "sub" in profile and not _is_subject(profile["sub"]):
            raise _rejected("userinfo answered an unreadable sub")
        if subject is not None and "sub" in profile and profile["sub"] != subject:
            raise _rejected("userinfo and introspection disagree on the subject", cacheable=True)
        return dict(profile)

    # -- helpers ---------------------------------------------------------------------------
    def _expired(self, expires_at: int | None) -> bool:
        return expires_at is not None and expires_at + LEEWAY <= self._clock()

    def _unavailable(self, reason: str, retry_after: int = 5) -> UpstreamUnavailable:
        log.warning("Clerk unavailable: %s", reason)
        return UpstreamUnavailable(
            "The authorization server is unavailable; try again shortly", retry_after
        )


class _Flight:
    """One verification in progress, whose outcome concurrent requests for the token share."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: AccessToken | None = None
        self.error: ClerkAuthError | None = None

    def outcome(self, wait: float) -> AccessToken:
        if not self.done.wait(wait):
            raise UpstreamUnavailable("The authorization server is slow; try again shortly")
        if self.error is not None:
            # A copy: the Flask face annotates the exception with the route's scopes.
            raise copy.copy(self.error)
        assert self.result is not None
        return self.result


def _rejected(reason: str, *, cacheable: bool = False) -> InvalidToken:
    return InvalidToken(reason, cacheable=cacheable)


#: Epoch seconds past this are not a time (and would overflow on the way to an int).
_MAX_EPOCH = 2**53


def _epoch(answer: Mapping[str, Any], name: str) -> int | None:
    value = answer.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not 0 <= value <= _MAX_EPOCH:
        return None
    return int(value)


def _is_subject(value: Any) -> TypeGuard[str]:
    """A non-blank string that is Unicode text: a lone surrogate (``"user_\\ud800"`` is valid
    JSON) could be neither stored nor logged, so it is no subject."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _record(token: AccessToken) -> dict[str, Any]:
    """What the cache keeps: everything but the raw token."""
    return {
        "client_id": token.client_id,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at,
        "subject": token.subject,
        "claims": dict(token.claims),
    }


def _restore(token: str, record: Mapping[str, Any]) -> AccessToken | None:
    try:
        return AccessToken(
            token=token,
            client_id=str(record["client_id"]),
            scopes=tuple(str(s) for s in record["scopes"]),
            expires_at=None if record["expires_at"] is None else int(record["expires_at"]),
            subject=str(record["subject"]),
            claims=dict(record["claims"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
