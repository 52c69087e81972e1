"""Bounded memory: 100 000 distinct tokens through one worker's caches, RSS before and after.

One ``ClerkVerifier`` as ``init_app`` builds it (the first-level cache, the default
per-worker ``SimpleCache``, the single flight), with Clerk answered in-process by a fake
upstream: no sockets, so what grows is our caches and nothing else. Every token is verified
once, cold, and is opaque: the path that stores the most per token (a whole record in each
cache level). Profiles of JWTs share the same bounded backend.

RSS is the process's resident set (``/proc/self/statm``), sampled as the tokens go through;
"flat after the caches fill" means the second half adds (almost) nothing.
``tests/unit/test_memory_bound.py`` runs it. Usage::

    python benchmarks/memory.py [--tokens 100000] [--samples 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_clerk_mcp.cache import VerificationCache, make_cache_backend  # noqa: E402
from flask_clerk_mcp.settings import load_settings  # noqa: E402
from flask_clerk_mcp.upstream import Upstream  # noqa: E402
from flask_clerk_mcp.verifier import ClerkVerifier  # noqa: E402

ISSUER = "https://example-app-16.clerk.accounts.dev"
CONFIG = {
    "CLERK_ISSUER_URL": ISSUER,
    "CLERK_CLIENT_ID": "client_abc",
    "CLERK_CLIENT_SECRET": "s3cr3t",
    "CLERK_BASE_URL": "https://mcp.example.com",
}


def rss_mb() -> float:
    """Resident set size of this process, in MB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _response(body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class FakeClerk(Upstream):
    """Answers introspection and userinfo in-process: a distinct user per 100 tokens."""

    def __init__(self) -> None:
        super().__init__("client_abc", "s3cr3t", (1.0, 1.0))
        self.calls = 0

    def post_form(self, url: str, data: Mapping[str, str] | str, **_: Any) -> requests.Response:
        self.calls += 1
        assert isinstance(data, Mapping)
        return _response(
            {
                "active": True,
                "client_id": "client_abc",
                "scope": "openid email profile",
                "sub": "user_" + data["token"][4:-2],
            }
        )

    def get(self, url: str, *, bearer: str | None = None, **_: Any) -> requests.Response:
        self.calls += 1
        assert bearer is not None
        subject = "user_" + bearer[4:-2]
        return _response({"sub": subject, "email": f"{subject}@example.com", "name": "Somebody"})


def run(tokens: int, samples: int) -> dict[str, Any]:
    """Push ``tokens`` distinct tokens through one verifier; RSS samples and cache sizes."""
    settings = load_settings(CONFIG)
    cache = VerificationCache(
        make_cache_backend(settings.cache),
        ttl=settings.cache_ttl,
        issuer=settings.issuer,
        accepted_client_ids=settings.accepted_client_ids,
        secret=b"k" * 32,
    )
    clerk = FakeClerk()
    verifier = ClerkVerifier(settings, cache, upstream=clerk)
    gc.collect()
    series = [(0, rss_mb())]
    step = max(1, tokens // samples)
    for n in range(tokens):
        token = f"oat_{n:012d}{n % 100:02d}"
        assert verifier.verify(token).subject.startswith("user_")
        if (n + 1) % step == 0:
            gc.collect()
            series.append((n + 1, rss_mb()))
    backend = cache._backend
    return {
        "tokens": tokens,
        "upstream_calls": clerk.calls,
        "rss_mb": series,
        "first_level_entries": len(verifier.hot),
        "shared_cache_entries": len(getattr(backend, "_cache", ())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    report = run(args.tokens, args.samples)
    for count, mb in report["rss_mb"]:
        print(f"{count:>8} tokens: RSS {mb:7.1f} MB")
    half = report["rss_mb"][len(report["rss_mb"]) // 2][1]
    print(
        f"first-level cache: {report['first_level_entries']} entries; shared cache:"
        f" {report['shared_cache_entries']} entries; upstream calls: {report['upstream_calls']};"
        f" second half added {report['rss_mb'][-1][1] - half:+.1f} MB"
    )


if __name__ == "__main__":
    main()
