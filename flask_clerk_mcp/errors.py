"""Exception types, each carrying the HTTP answer it stands for.

The verification core raises these and knows nothing of Flask; the Flask face turns them into
RFC 6750 answers. Messages are safe to log and to show: they never hold a token or a secret.
"""

from __future__ import annotations

from collections.abc import Iterable


class ConfigurationError(ValueError):
    """A ``CLERK_*`` setting is missing or wrong; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


class ClerkAuthError(Exception):
    """A request could not be authenticated. ``error`` is the RFC 6750 code, or None."""

    status: int = 401
    error: str | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        #: What the route needs, for the challenge's ``scope``; set by whoever knows the route.
        self.challenge_scopes: tuple[str, ...] = ()
        #: The OAuth client the refused token was issued to, where known (for the log line).
        self.client_id: str | None = None


class MissingToken(ClerkAuthError):
    """No credentials at all: RFC 6750 §3.1 says the challenge carries no error code."""

    status = 401
    error = None


class InvalidRequest(ClerkAuthError):
    """A malformed ``Authorization`` header."""

    status = 400
    error = "invalid_request"


class InvalidToken(ClerkAuthError):
    """The token is not active, expired, for someone else, or otherwise unusable.

    ``cacheable`` marks a verdict about the token itself, safe to remember for a few seconds.
    """

    status = 401
    error = "invalid_token"

    def __init__(self, description: str, *, cacheable: bool = False) -> None:
        super().__init__(description)
        self.cacheable = cacheable


class InsufficientScope(ClerkAuthError):
    """The token is good but lacks scopes; ``scopes`` lists every scope the route needs."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, scopes: Iterable[str]) -> None:
        super().__init__(description)
        self.scopes = tuple(scopes)


class UpstreamUnavailable(ClerkAuthError):
    """Clerk could not give a verdict (down, slow, nonsense, or our credentials refused).

    Not a verdict on the token, so nothing is cached and the client is told to retry.
    """

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, description: str, retry_after: int = 5) -> None:
        super().__init__(description)
        self.retry_after = retry_after
