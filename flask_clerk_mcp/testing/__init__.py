"""Helpers for testing an app protected by flask-clerk-mcp: authenticated requests in your own
tests, with the subject, scopes and claims you choose, and no network.

Two ways, both as context managers (and as pytest fixtures, see ``testing.plugin``):

- ``emulated_clerk(app)``: the real verification against the offline Clerk emulator, run in
  this process (calls to your Clerk instance's URL are answered by it; nothing else changes).
  ``clerk.headers(subject="user_1", scopes=[...], claims={"email": ...})``.
- ``stand_in_verifier(app)``: no Clerk at all; a ``StandInVerifier`` takes the verifier's
  place and vouches for tokens it issued, any scopes and claims included. For unit tests.

``app`` is a Flask app with ``ClerkMCP``, or a ``ClerkMiddleware``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..settings import Settings
from .emulated import EmulatedClerk
from .stand_in import StandInVerifier
from .transport import WSGITransport, intercept

__all__ = [
    "EmulatedClerk",
    "StandInVerifier",
    "WSGITransport",
    "emulated_clerk",
    "intercept",
    "stand_in_verifier",
]


def _holder(target: Any) -> Any:
    """What holds the verifier: the app's ``ClerkState``, or the middleware itself."""
    if hasattr(target, "extensions"):  # a Flask app
        from ..state import get_state

        return get_state(target)
    if isinstance(getattr(target, "settings", None), Settings) and hasattr(target, "verifier"):
        return target
    raise TypeError(
        f"expected a Flask app with ClerkMCP or a ClerkMiddleware, not {type(target).__name__}"
    )


@contextmanager
def emulated_clerk(target: Any, **emulator: Any) -> Iterator[EmulatedClerk]:
    """An ``EmulatedClerk`` for ``target``'s settings, answering its Clerk calls in-process.
    ``emulator`` are ``EmulatorConfig`` fields (e.g. ``access_token_format="opaque"``)."""
    holder = _holder(target)
    forget = getattr(holder.verifier, "forget_profile", None)  # a stand-in has none
    with EmulatedClerk(holder.settings, forget_profile=forget, **emulator) as clerk:
        yield clerk


@contextmanager
def stand_in_verifier(target: Any) -> Iterator[StandInVerifier]:
    """Put a ``StandInVerifier`` in the place of ``target``'s verifier for the block."""
    holder = _holder(target)
    settings: Settings = holder.settings
    original = holder.verifier
    stand_in = StandInVerifier(
        settings.client_id, settings.required_scopes, settings.accepted_client_ids
    )
    stand_in.upstream = getattr(original, "upstream", None)
    holder.verifier = stand_in
    try:
        yield stand_in
    finally:
        holder.verifier = original
