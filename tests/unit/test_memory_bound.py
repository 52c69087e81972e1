"""Bounded memory: 100 000 distinct tokens through one worker leave its memory flat once the
caches are full (``benchmarks/memory.py``, run here in full)."""

from __future__ import annotations

import pytest

from benchmarks.memory import run
from flask_clerk_mcp.cache import make_cache_backend
from flask_clerk_mcp.hot_cache import DEFAULT_MAX_ENTRIES


@pytest.mark.slow
def test_100k_distinct_tokens_leave_memory_flat_after_the_caches_fill() -> None:
    report = run(100_000, samples=10)
    assert report["upstream_calls"] == 200_000  # every token cold: nothing served wrongly
    assert report["first_level_entries"] == DEFAULT_MAX_ENTRIES
    assert report["shared_cache_entries"] <= 10_001
    series = report["rss_mb"]
    half, last = series[len(series) // 2][1], series[-1][1]
    assert last - half < 8, series  # MB; a leak of 100 bytes per token would show 5 MB


def test_the_per_worker_cache_prunes_a_tenth_at_a_time() -> None:
    """A full default cache drops its soonest-expiring tenth, not one entry per insert (which
    cost cachelib a sort of every entry on every cold token)."""
    backend = make_cache_backend(None)
    assert backend is not None
    for n in range(10_001):
        backend.set(f"k{n}", "v", timeout=60 + n)
    assert len(backend._cache) == 10_001  # type: ignore[attr-defined]
    backend.set("one more", "v", timeout=60)
    assert len(backend._cache) == 9_001  # type: ignore[attr-defined]
    assert backend.get("k0") is None and backend.get("k10000") == "v"
    assert backend.get("one more") == "v"
