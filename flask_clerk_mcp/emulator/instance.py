"""The emulated Clerk instance behind an app, and how a view finds it (``current()``).

One ``Emulator`` object per app lives in ``app.extensions``.

Everything per-instance hangs off the app, never off a module global, so two emulators in one
process (two test servers) never share a token, a counter or a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app, request

from .config import EmulatorConfig
from .controls import Controls
from .keys import KeyRing
from .state import EmulatorState

EXTENSION_KEY = "clerk_emulator"


@dataclass
class Emulator:
    config: EmulatorConfig
    state: EmulatorState
    controls: Controls
    keys: KeyRing

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def current() -> Emulator:
    return cast(Emulator, current_app.extensions[EXTENSION_KEY])


def issuer() -> str:
    """The configured issuer, else the URL this request reached (tests, unknown port)."""
    configured = current().config.issuer
    return configured.rstrip("/") if configured else request.host_url.rstrip("/")
