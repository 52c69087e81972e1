"""Fixtures of the security probes: the proxy app against a real emulator on loopback (the
fixtures of ``tests.mcp`` and ``tests.login``, reused as they are)."""

from __future__ import annotations

from tests.login.conftest import emulator  # noqa: F401  (fixture re-used)
from tests.mcp.conftest import browser, make_proxy_app, proxy_app  # noqa: F401  (fixtures re-used)
