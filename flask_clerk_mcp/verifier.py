"""Token verification with Clerk: introspection (the gate), then userinfo (the profile).

JWT access tokens (``CLERK_TOKEN_VERIFICATION``) are first checked locally (``local_jwt``):
refused there without a call to Clerk; then introspected (the default) or accepted on those
checks alone (``"jwt"``), their profile read from a per-subject cache. In front of it all, a
per-process cache of verified tokens (``hot_cache``) makes a hot token cost one hash.

Knows nothing of Flask: plain functions and a class over a ``requests`` session, so it can be
tested, benchmarked and reused without an app. Fail-closed throughout: a field that is absent
or of the wrong type never counts as a pass, and an answer that is not a verdict (Clerk down,
slow, or talking nonsense) is an ``UpstreamUnavailable``, never an ``InvalidToken`` and never a
success.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeGuard

import requests

from .cache import VerificationCache
from .errors import InvalidToken, UpstreamUnavailable
from .flight import SingleFlight
from .hot_cache import SHARED_MAX_AGE, HotTokens
from .jwt_access import add_profile, jwt_access_token, local_verifier
from .local_jwt import LocalJwtVerifier, VerifiedJwt
from .settings import Settings
from .tokens import AccessToken, token_from_record, token_record
from .upstream import Upstream, json_object, retry_after

log = logging.getLogger("flask_clerk_mcp")

#: Seconds of clock skew tolerated on ``exp`` and ``nbf``.
LEEWAY = 10


def parse_scopes(value: Any) -> tuple[str, ...]:
    """``scope`` as a space-separated string or a list; anything else grants nothing.

    Separated by SP only (RFC 6749 §3.3), as ``local_jwt`` reads a JWT's: ``str.split()``
    would also split on tabs, newlines and Unicode spaces, turning one odd token into
    scopes the token was never granted.
    """
    if isinstance(value, str):
        items: Iterable[Any] = value.split(" ")
    elif isinstance(value, list):
        items = value
    else:
        return ()
    return tuple(dict.fromkeys(s for s in items if isinstance(s, str) and s and " " not in s))


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
        local: LocalJwtVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        #: Outbound HTTP (per-thread sessions, client credentials), shared with the login.
        self.upstream = upstream or Upstream(
            settings.client_id, settings.client_secret, settings.timeout
        )
        #: The local checks of JWT access tokens; None in ``"introspection"`` mode.
        self.local = local or local_verifier(settings, self.upstream, clock=clock)
        #: Verified tokens this process built, in front of ``cache`` (same TTL, off with it).
        self.hot = HotTokens(
            clock=clock,
            enabled=cache.enabled,
            # Shared with other workers: let what it learns (a revocation) reach this one soon.
            max_age=SHARED_MAX_AGE if settings.cache.kind != "default" else None,
        )
        self._clock = clock
        self._jwt_only = settings.verification == "jwt"
        self._audiences = frozenset(settings.accepted_client_ids)
        # Long enough for the leader's two calls to time out; past it, followers go alone.
        self._flight = SingleFlight(wait=2 * sum(settings.timeout) + 1)

    # -- the public face -------------------------------------------------------------------
    def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` Clerk vouches for, or ``InvalidToken``/``UpstreamUnavailable``.

        Scopes are not checked here (they depend on the route): see ``check_scopes``. A hot
        token costs one hash and one dict lookup. A JWT is checked locally before anything
        else, so a refused one costs no call at all. With the cache on, concurrent requests
        for one cold token share a single verification (one flight), so a burst costs Clerk
        what one request does.
        """
        key = self.cache.key(token)
        hot = self.hot.get(key)
        if hot is not None:
            return hot
        checked = self._check_locally(token)
        if not self.cache.enabled:
            return self._verify_cold(token, key, checked)
        return self._flight.run(key, lambda: self._verify_cold(token, key, checked))

    def _check_locally(self, token: str) -> VerifiedJwt | None:
        """The local checks' facts for a token with a dot (``InvalidToken`` when it fails
        them); None for an opaque token or when JWTs are not checked locally.

        Clerk's opaque tokens (``oat_…``) have no dot, so a dotted token is a JWT or garbage
        (``alg: none`` ends in a dot), judged here either way, at no cost to Clerk."""
        if self.local is None or "." not in token:
            return None
        return self.local.verify(token)

    def _verify_cold(self, token: str, key: str, checked: VerifiedJwt | None) -> AccessToken:
        """Past the first-level cache: the shared cache, then Clerk; fills the former."""
        if checked is not None and self._jwt_only:
            access_token, until = self._accept_locally(token, checked)
        else:
            cached, until = self._from_cache(token, key)
            if cached is None:
                access_token, until = self._verify_upstream(token, key, checked)
            else:
                access_token = cached
        self.hot.put(key, access_token, until)
        return access_token

    def _from_cache(self, token: str, key: str) -> tuple[AccessToken | None, float]:
        cached, until = self.cache.lookup_key(key)
        if cached == "inactive":
            raise InvalidToken("The access token is not active")
        if isinstance(cached, dict):
            restored = token_from_record(token, cached)
            if restored is not None and not self._expired(restored.expires_at):
                return restored, until
        return None, 0.0

    def _verify_upstream(
        self, token: str, key: str, checked: VerifiedJwt | None
    ) -> tuple[AccessToken, float]:
        """Introspect, judge, and remember; the token and until when it may be reused (0: not
        remembered)."""
        answer: Mapping[str, Any] = {}
        try:
            answer = self._introspect(token)
            if checked is None:
                access_token, profile_checked = self._verdict(token, answer)
            else:
                access_token, profile_checked = self._jwt_verdict(token, checked, answer)
        except InvalidToken as exc:
            # Who the token was issued to tells an operator why it was refused (audience).
            client_id = answer.get("client_id")
            exc.client_id = client_id if isinstance(client_id, str) and client_id else None
            if exc.cacheable:
                self.cache.remember_inactive(token)
            raise
        # Without userinfo's answer, a refresh token posing as an access token went unseen
        # (opaque tokens), or the profile is missing (JWTs): accepted for this request (the
        # contract), but not remembered.
        if not profile_checked:
            return access_token, 0.0
        record = token_record(access_token)
        return access_token, self.cache.remember(token, record, access_token.expires_at, key=key)

    def _accept_locally(self, token: str, checked: VerifiedJwt) -> tuple[AccessToken, float]:
        """``"jwt"`` mode: the local checks are the verdict; only the profile may cost a call."""
        profile = self._jwt_profile(token, checked.subject, checked.scopes)
        access_token = jwt_access_token(token, checked, checked.scopes, {}, profile)
        if profile is None:
            return access_token, 0.0
        return access_token, min(self._clock() + self.settings.cache_ttl, checked.expires_at)

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

    def _check_answer(self, answer: Mapping[str, Any]) -> int | None:
        """What every token's introspection answer must show; returns its ``exp``, if any."""
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
        return expires_at

    def _verdict(self, token: str, answer: Mapping[str, Any]) -> tuple[AccessToken, bool]:
        """The token, and whether userinfo answered (so the refresh-token check ran)."""
        expires_at = self._check_answer(answer)
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
        add_profile(claims, profile)
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

    def _jwt_verdict(
        self, token: str, checked: VerifiedJwt, answer: Mapping[str, Any]
    ) -> tuple[AccessToken, bool]:
        """A JWT that passed the local checks, and Clerk's answer about it: introspection says
        whether it is still active, its scopes and its subject; the audience was decided from
        the signed token and is not judged again by ``client_id``."""
        expires_at = self._check_answer(answer)
        subject = answer.get("sub", checked.subject)
        if subject != checked.subject:
            raise _rejected("introspection and the token disagree on the subject", cacheable=True)
        scopes = parse_scopes(answer["scope"]) if "scope" in answer else checked.scopes
        profile = self._jwt_profile(token, checked.subject, scopes)
        access_token = jwt_access_token(token, checked, scopes, answer, profile)
        if expires_at is not None and expires_at < checked.expires_at:
            access_token = replace(access_token, expires_at=expires_at)
        return access_token, profile is not None

    def revoked(self, token: str) -> None:
        """This server revoked ``token`` (the proxy's ``/oauth/revoke``): refuse it from now
        on, at once in this process, and through the shared cache in every worker (within the
        first-level cache's ``SHARED_MAX_AGE``)."""
        self.cache.remember_inactive(token)
        self.hot.discard(self.cache.key(token))

    def forget_profile(self, subject: str, scopes: tuple[str, ...]) -> None:
        """Forget the cached userinfo profile of ``subject`` for tokens with ``scopes``, so the
        next JWT of that user reads userinfo again (the testing helpers, after a profile edit)."""
        self.cache.forget_profile(subject, scopes)

    def _jwt_profile(
        self, token: str, subject: str, scopes: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The profile of a token proven an access token by its ``typ`` (at+jwt): from the
        per-subject cache, else userinfo (then cached). No refresh token can pose as one, so
        userinfo need not see every token; its 401 and a contradicting ``sub`` still refuse."""
        profile = self.cache.profile(subject, scopes)
        if profile is None:
            profile = self._userinfo(token, subject)
            if profile is not None:
                self.cache.remember_profile(subject, scopes, profile)
        return profile

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
