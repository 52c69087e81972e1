"""What a flow that signs users in at Clerk needs from the app, in one place.

The browser login and the MCP proxy are both confidential clients of Clerk that keep
per-browser state: they need ``CLERK_CLIENT_SECRET`` (Clerk's token endpoint), ``CLERK_BASE_URL``
(the callback and issuer URLs) and Flask's ``SECRET_KEY`` (the signed cookie that binds a
transaction to its browser). Each decides itself what a missing one means (off, direct mode, or
an error); this says which are missing and words the error.
"""

from __future__ import annotations

from flask import Flask

from .errors import ConfigurationError
from .settings import Settings


def missing_for_sign_in(app: Flask, settings: Settings) -> list[str]:
    """The keys a sign-in flow needs that ``app`` lacks, in the order they are checked."""
    needs = {
        "CLERK_CLIENT_SECRET": settings.client_secret,
        "CLERK_BASE_URL": settings.base_url,
        "SECRET_KEY": app.secret_key,
    }
    return [key for key, value in needs.items() if not value]


def missing_error(missing: list[str], why: str) -> ConfigurationError:
    """The error naming the first missing key (and the others), ``why`` it is required."""
    others = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    return ConfigurationError(missing[0], f"is required {why}{others}")
