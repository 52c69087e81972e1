"""What one protected request costs, side by side, against the emulator on loopback.

Three ways of verifying the same token, each run in the same process in interleaved rounds
(so machine noise hits them alike), reported as ratios to the slowest:

- ``fresh-session``: a new HTTP session per upstream call, no cache (what a verifier without
  a pooled client does);
- ``pooled``: this package with ``CLERK_CACHE_TTL=0``: two upstream calls per request over
  keep-alive connections;
- ``cached``: this package's defaults: two upstream calls for the first request, none after.

The emulator runs as its own process (as Clerk would), with added latency to stand for the
network. Usage: ``python benchmarks/run.py [--requests N] [--rounds R] [--write]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from benchmarks.clerk_side import REDIRECT_URI, Clerk  # noqa: E402
from benchmarks.results import write_section  # noqa: E402
from flask_clerk_mcp import ClerkMCP, current_token, require_clerk  # noqa: E402
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET  # noqa: E402
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce  # noqa: E402
from flask_clerk_mcp.verifier import ClerkVerifier  # noqa: E402
from tests.support.emulator import EmulatorProcess  # noqa: E402

NOTES = """
- The cache is what matters: a known token costs no call to Clerk, so a request is served
  in-process; against a Clerk 20 ms away that is two orders of magnitude. A cold token still
  costs exactly two calls (introspection, then userinfo), as the `pooled` row shows.
- Pooling versus a fresh session per call makes no measurable difference here, because the
  emulator speaks plain HTTP on loopback: there is no TCP or TLS handshake worth saving. Against
  the real Clerk (HTTPS across a network) each fresh session pays a TLS handshake per call;
  that is not measured here (no network), so no figure is claimed for it.
"""


def build_app(issuer: str, **config: Any) -> Flask:
    app = Flask("bench")
    app.config.update(
        CLERK_ISSUER_URL=issuer,
        CLERK_CLIENT_ID=DEMO_CLIENT_ID,
        CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET,
        CLERK_BASE_URL="http://127.0.0.1:8000",
        CLERK_LOGIN=False,
        **config,
    )
    ClerkMCP(app)

    @app.post("/mcp")
    @require_clerk
    def mcp() -> dict[str, str]:
        return {"sub": current_token.subject}

    return app


def fresh_sessions(app: Flask) -> Flask:
    """Make the verifier open a new session for every call: the no-pooling baseline."""
    verifier: ClerkVerifier = app.extensions["clerk_mcp"].verifier

    def new_session() -> requests.Session:
        session = requests.Session()
        session.headers["Connection"] = "close"
        return session

    verifier.session = new_session  # type: ignore[method-assign]
    return app


def run_round(app: Flask, token: str, requests_per_round: int) -> float:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    for _ in range(requests_per_round):
        response = client.post("/mcp", headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"benchmark request failed: {response.status_code} {response.data!r}")
    return requests_per_round / (time.perf_counter() - started)


def measure(latency_ms: int, requests_per_round: int, rounds: int) -> list[dict[str, Any]]:
    with EmulatorProcess("--latency-ms", str(latency_ms), "--redirect-uri", REDIRECT_URI) as emu:
        issuer = emu.issuer
        token = sign_in_with_pkce(
            issuer, DEMO_CLIENT_ID, REDIRECT_URI, client_secret=DEMO_CLIENT_SECRET
        )["access_token"]
        variants: dict[str, Callable[[], Flask]] = {
            "fresh-session": lambda: fresh_sessions(build_app(issuer, CLERK_CACHE_TTL=0)),
            "pooled": lambda: build_app(issuer, CLERK_CACHE_TTL=0),
            "cached": lambda: build_app(issuer),
        }
        apps = {name: make() for name, make in variants.items()}
        clerk = Clerk(issuer)
        rates: dict[str, list[float]] = {name: [] for name in apps}
        calls: dict[str, int] = {name: 0 for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                clerk.reset_counters()
                rates[name].append(run_round(app, token, requests_per_round))
                calls[name] += clerk.upstream_calls()
    slowest = min(statistics.median(r) for r in rates.values())
    return [
        {
            "latency_ms": latency_ms,
            "variant": name,
            "requests_per_s": statistics.median(rates[name]),
            "ratio": statistics.median(rates[name]) / slowest,
            "upstream_calls_per_request": calls[name] / (rounds * requests_per_round),
        }
        for name in apps
    ]


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Clerk latency | variant | requests/s (median) | ratio to slowest"
        " | upstream calls / request |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['latency_ms']} ms | {row['variant']} | {row['requests_per_s']:.0f} | "
            f"{row['ratio']:.1f}x | {row['upstream_calls_per_request']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=int, action="append", help="emulator latency, ms")
    parser.add_argument(
        "--write", action="store_true", help="write its section of benchmarks/RESULTS.md"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for latency in args.latency or [0, 20]:
        rows.extend(measure(latency, args.requests, args.rounds))
    output = table(rows)
    print(output)
    if args.write:
        header = (
            "## In process\n\n"
            "Taken by `python benchmarks/run.py --write` in one run, all variants"
            " interleaved round by round; compare the ratios, not the absolute figures (the"
            " machines are noisy). In-process Flask test client; the emulator is a separate"
            " process on loopback with the given added latency.\n\n"
            f"Machine: {platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}; {args.rounds} rounds of {args.requests} requests.\n\n"
        )
        write_section("run.py", header + output + "\n\nWhat the figures say:\n" + NOTES)


if __name__ == "__main__":
    main()
