"""One issuer's JWKS: fetched, parsed to public RS256 keys, cached and refreshed.

Split from ``local_jwt`` (which decides what a token must be) because keys have a life of
their own: rotation, outages, and floods of invented ``kid``s that must not become floods of
fetches. The document comes through an injected ``fetch_json(url) -> object`` (in the app,
``upstream.py``'s pooled sessions), so this module does no HTTP of its own. PyJWT builds the
key objects; nothing here is hand-rolled JOSE.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import jwt
from jwt import PyJWK

from .errors import UpstreamUnavailable

log = logging.getLogger(__name__)

#: The one signing algorithm accepted (Clerk signs with RS256; RFC 8725 §3.1: an allow-list).
ALGORITHM = "RS256"
MAX_KID_LENGTH = 256
#: RSA key sizes taken from a JWKS; others are skipped (weak, or a CPU cost per verification).
MIN_RSA_BITS, MAX_RSA_BITS = 2048, 8192
#: Keys read from one JWKS document at most; Clerk publishes one or two.
MAX_KEYS = 32
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})

FetchJson = Callable[[str], object]


def _public_rsa_key(entry: object) -> tuple[str, PyJWK] | None:
    """``(kid, key)`` for one usable JWKS entry, else ``None`` (skipped, never raised).

    Usable: an RSA signing key with a ``kid``, for RS256 when it names an algorithm, of a sane
    size. Only its public members reach PyJWT, so a private key published by mistake is never
    turned into a private key object here.
    """
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return None
    kid, n, e = entry.get("kid"), entry.get("n"), entry.get("e")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    if _PRIVATE_MEMBERS & entry.keys():
        return None
    # base64url length bounds before any decoding: 8192 bits are 1366 characters
    if not isinstance(n, str) or not isinstance(e, str) or len(n) > 1400 or len(e) > 16:
        return None
    try:
        key = PyJWK({"kty": "RSA", "kid": kid, "n": n, "e": e}, algorithm=ALGORITHM)
        size = int(key.key.key_size)
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, AttributeError):
        return None
    if not MIN_RSA_BITS <= size <= MAX_RSA_BITS:
        return None
    return kid, key


def parse_jwks(document: object) -> dict[str, PyJWK] | None:
    """The usable keys of a JWKS document by ``kid``; ``None`` when it is not a JWKS or
    holds no usable key (treated as an outage, so the keys already known stay in use)."""
    if not isinstance(document, dict):
        return None
    entries = document.get("keys")
    if not isinstance(entries, list):
        return None
    keys: dict[str, PyJWK] = {}
    for entry in entries[:MAX_KEYS]:
        parsed = _public_rsa_key(entry)
        if parsed is not None:
            keys.setdefault(*parsed)  # a repeated kid: the first one stands
    return keys or None


class JwksCache:
    """One issuer's signing keys: fetched once, cached, refetched when they must be.

    - A token naming an unknown ``kid`` triggers a refetch, but at most one fetch per
      ``refetch_interval`` seconds whatever the ``kid``s, so a flood of invented ``kid``s is
      not a flood of fetches. Concurrent lookups share one fetch. A ``kid`` missing from keys
      fetched after the token came is refused (401); one missing from keys fetched before it,
      when no fetch is allowed yet, gets ``UpstreamUnavailable`` (503, ``Retry-After`` the
      rest of the interval): Clerk may have just rotated, and a good token must never be
      refused for it.
    - After ``max_age`` seconds a lookup refreshes the keys (a key Clerk unpublished stops
      verifying; a rotated one is picked up without a restart); a lookup that finds another
      thread already refreshing uses the keys it has instead of waiting.
    - A failed fetch (outage, garbage body, no usable key) keeps the keys already known. A
      token whose key is unknown then gets ``UpstreamUnavailable`` (503), never a pass and
      never a false "invalid": its key may be one Clerk just published.

    ``clock`` is monotonic seconds. Thread-safe; the key dict is replaced whole, never mutated.
    """

    def __init__(
        self,
        jwks_url: str,
        fetch_json: FetchJson,
        *,
        clock: Callable[[], float] = time.monotonic,
        refetch_interval: float = 10.0,
        max_age: float = 600.0,
    ) -> None:
        self.jwks_url = jwks_url
        self._fetch_json = fetch_json
        self._clock = clock
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._lock = threading.Lock()
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_failed = False

    def __repr__(self) -> str:
        return f"JwksCache({self.jwks_url!r}, keys={len(self._keys)})"

    def key(self, kid: str) -> PyJWK | None:
        """The key for ``kid``; ``None`` when the keys, fetched within the refetch interval,
        do not have it. Raises ``UpstreamUnavailable`` when they could not be fetched."""
        known = self._keys.get(kid)
        if known is not None and not self._stale():
            return known
        if known is not None:
            # Stale but known: refresh if nobody else is; never wait for it.
            if self._lock.acquire(blocking=False):
                try:
                    self._refresh_if_allowed()
                finally:
                    self._lock.release()
            return self._keys.get(kid) if not self._last_failed else known
        asked = self._clock()
        with self._lock:
            if kid not in self._keys:
                self._refresh_if_allowed()
            found = self._keys.get(kid)
            if found is not None:
                return found
            if self._last_failed:
                raise UpstreamUnavailable("The authorization server's signing keys are unavailable")
            attempted = self._attempted_at if self._attempted_at is not None else asked
            if attempted >= asked:
                return None  # fetched since this token came, and its key is not there
            # The keys predate this token and may not be fetched again yet: its key may be one
            # Clerk published since (a rotation). Not a verdict: retry once a fetch is allowed.
            wait = self._refetch_interval - (self._clock() - attempted)
            raise UpstreamUnavailable(
                "The authorization server's signing keys are being refreshed; try again shortly",
                retry_after=max(1, math.ceil(wait)),
            )

    def _stale(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._clock() - fetched >= self._max_age

    def _refresh_if_allowed(self) -> None:
        """Fetch the JWKS unless a fetch was attempted within the interval (lock held)."""
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self._refetch_interval:
            return
        self._attempted_at = now
        keys = self._fetch()
        if keys is None:
            self._last_failed = True
            return
        self._keys, self._fetched_at, self._last_failed = keys, now, False

    def _fetch(self) -> dict[str, PyJWK] | None:
        try:
            document = self._fetch_json(self.jwks_url)
        except UpstreamUnavailable as error:
            log.warning("JWKS fetch from %s failed: %s", self.jwks_url, error.description)
            return None
        except Exception as error:  # an injected fetch may raise anything; fail closed
            log.warning("JWKS fetch from %s failed: %s", self.jwks_url, type(error).__name__)
            return None
        keys = parse_jwks(document)
        if keys is None:
            log.warning("JWKS from %s holds no usable RS256 signing key", self.jwks_url)
        return keys
