"""The pytest plugin (the ``pytest11`` entry point): fixtures over ``flask_clerk_mcp.testing``.

- ``clerk_app``: what the fixtures protect; defaults to your ``app`` fixture (a Flask app
  with ``ClerkMCP``, or a ``ClerkMiddleware``). Override it when your fixture is named
  otherwise.
- ``clerk_emulated``: an ``EmulatedClerk`` answering ``clerk_app``'s Clerk calls in-process.
- ``clerk_stand_in``: a ``StandInVerifier`` in place of ``clerk_app``'s verifier.

Loaded in every pytest run where the package is installed, so it defines fixtures only, and
touches nothing until a test asks for one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from . import EmulatedClerk, StandInVerifier, emulated_clerk, stand_in_verifier


@pytest.fixture
def clerk_app(request: pytest.FixtureRequest) -> Any:
    """The app under test: your ``app`` fixture unless you override this one."""
    return request.getfixturevalue("app")


@pytest.fixture
def clerk_emulated(clerk_app: Any) -> Iterator[EmulatedClerk]:
    """Authenticated requests through the real verification, against an in-process Clerk."""
    with emulated_clerk(clerk_app) as clerk:
        yield clerk


@pytest.fixture
def clerk_stand_in(clerk_app: Any) -> Iterator[StandInVerifier]:
    """Authenticated requests without Clerk: any subject, scopes and claims."""
    with stand_in_verifier(clerk_app) as verifier:
        yield verifier
