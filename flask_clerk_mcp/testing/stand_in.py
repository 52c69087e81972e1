"""``StandInVerifier``: verification without Clerk, for pure unit tests.

It takes the place of the app's ``ClerkVerifier`` and vouches for the tokens it issued itself,
with whatever subject, scopes and claims the test chose (custom scopes and claims included,
which a real Clerk would only give with dashboard settings). Everything around it stays real:
the ``Authorization`` header rules, the scope checks, the 401/403/503 answers, ``g`` and the
signals. It can also play a Clerk that is down (``unavailable = True``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidToken, UpstreamUnavailable
from ..tokens import AccessToken

DEFAULT_SCOPES = ("openid", "email", "profile")


class StandInVerifier:
    """Issues opaque test tokens and verifies them; thread-safe.

    ``client_id`` is the audience its tokens carry by default and ``accepted_client_ids`` the
    audiences it accepts (``"*"``: any), as ``CLERK_CLIENT_ID`` and
    ``CLERK_ACCEPTED_CLIENT_IDS``; ``default_scopes`` the scopes a token carries when a test
    names none. ``stand_in_verifier`` fills all three from the app's settings.
    """

    def __init__(
        self,
        client_id: str = "test_client",
        default_scopes: Iterable[str] = DEFAULT_SCOPES,
        accepted_client_ids: Iterable[str] | None = None,
    ) -> None:
        self.client_id = client_id
        self.default_scopes = tuple(default_scopes)
        self.accepted_client_ids = tuple(accepted_client_ids or (client_id,))
        #: The replaced verifier's upstream, so the login blueprint keeps working.
        self.upstream: Any = None
        #: While True, every verification fails as if Clerk were down (a 503).
        self.unavailable = False
        #: How many times ``verify`` was called.
        self.calls = 0
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StandInVerifier(client_id={self.client_id!r}, tokens={len(self._tokens)})"

    def issue(
        self,
        subject: str = "user_test",
        scopes: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        *,
        client_id: str | None = None,
        expires_in: int | None = 3600,
    ) -> str:
        """A token that ``verify`` accepts as ``subject``'s; ``expires_in`` ≤ 0 gives one that
        has already expired. Tokens issued to another ``client_id`` are refused, as a real
        verifier refuses a token meant for someone else."""
        token = "stand_in_" + secrets.token_urlsafe(24)
        expires_at = None if expires_in is None else int(time.time()) + expires_in
        audience = client_id or self.client_id
        access_token = AccessToken(
            token=token,
            client_id=audience,
            scopes=tuple(self.default_scopes if scopes is None else scopes),
            expires_at=expires_at,
            subject=subject,
            claims={"sub": subject, "client_id": audience, **dict(claims or {})},
        )
        with self._lock:
            self._tokens[token] = access_token
        return token

    def headers(
        self,
        subject: str = "user_test",
        scopes: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer <issue()>"}``, for a test client's ``headers=``."""
        return {"Authorization": f"Bearer {self.issue(subject, scopes, claims, **options)}"}

    def revoke(self, token: str) -> None:
        """Forget ``token``: it is refused from now on."""
        with self._lock:
            self._tokens.pop(token, None)

    def verify(self, token: str) -> AccessToken:
        """The ``AccessToken`` this stand-in issued, or the refusal a real verifier gives."""
        with self._lock:
            self.calls += 1
            access_token = self._tokens.get(token)
        if self.unavailable:
            raise UpstreamUnavailable("The authorization server is unavailable; try again shortly")
        if access_token is None:
            raise InvalidToken("The access token is not active")
        if access_token.expires_at is not None and access_token.expires_at <= time.time():
            raise InvalidToken("The access token has expired")
        accepted = self.accepted_client_ids
        if "*" not in accepted and access_token.client_id not in accepted:
            raise InvalidToken("The access token was not issued for this server")
        return access_token

    def close(self) -> None:
        """Nothing to close (the real verifier's sessions are left as they are)."""
