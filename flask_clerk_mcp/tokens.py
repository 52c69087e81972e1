"""The verified access token handed to views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AccessToken:
    """What Clerk vouched for about one bearer token.

    ``client_id`` is the OAuth client the token was issued to, never the user; ``subject`` is
    the user. ``claims`` merges introspection fields with the userinfo profile, and keeps the
    whole userinfo document under ``claims["clerk_user"]``. The raw token is kept so a view can
    call Clerk on the user's behalf, but it is left out of ``repr`` so it cannot reach a log.
    """

    token: str = field(repr=False)
    client_id: str
    scopes: tuple[str, ...]
    expires_at: int | None
    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    def has_scopes(self, required: tuple[str, ...] | list[str]) -> bool:
        """Whether the token carries every scope in ``required``, exactly as granted.

        ``CLERK_SCOPE_IMPLIES`` is not applied here (a token knows no app): in a view, use
        ``require_scopes``, which applies the app's hierarchy as the decorator does.
        """
        return set(required).issubset(self.scopes)
