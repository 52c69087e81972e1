"""A short run of ``benchmarks/soak.py``: every kind of token, both formats, both workers, and
the answers by status exactly as many as expected (no false accept, no false reject, no 5xx).
The full run's figures, memory included, are in benchmarks/RESULTS.md."""

from __future__ import annotations

import pytest

from benchmarks.soak import SHORT_REQUESTS, SHORT_WARMUP, soak
from tests.support.fault_deployment import Deployment

pytestmark = pytest.mark.integration


def test_a_short_soak_answers_every_request_rightly(deployment: Deployment) -> None:
    report = soak(deployment, requests=SHORT_REQUESTS, threads=3, per_kind=1, warmup=SHORT_WARMUP)
    print(report.line())
    for line in report.rss_lines():
        print(line)
    assert report.ok, f"{report.line()}\n{report.examples}"
    assert report.false_accepts == report.false_rejects == report.server_errors == 0
    assert set(report.kinds) >= {
        f"{kind}-{fmt}"
        for kind in ("valid", "revoked", "insufficient-scope", "expired")
        for fmt in ("opaque", "jwt")
    }
    assert len([w for w in report.by_worker if w]) == 2  # both workers answered
