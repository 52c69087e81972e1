"""Soak: a bounded run of good and bad tokens, every answer exactly right, memory flat.

The deployment of the fault tests (``tests/support/fault_deployment.py``): the example app
under gunicorn (2 workers, proxy mode, ``CLERK_CACHE`` and ``CLERK_STORE`` on a real
redis-server), the emulator as Clerk. Tokens come from its real sign-in, in both formats
(opaque ``oat_…`` and JWT), ``--per-kind`` of each kind per format:

- valid: alice's and bob's, ``whoami`` answers 200 naming the user;
- invalid: an opaque token Clerk never issued, a JWT with a tampered signature, garbage;
- revoked at Clerk before the run: 401;
- insufficient scope: a token without ``notes:write`` calling ``add_note``: 403;
- expired (issued with ``exp`` in the past through ``/__emulator/access-token-ttl``): 401.

``--requests`` requests are sent by ``--threads`` closed-loop clients (``VerdictLoad``, the
fault tests' load generator), round robin over that pool, each on a new connection (either
worker may answer), so how many of each status must come back is known in advance: the run
passes only if the answers by status equal those counts exactly, with no false accept, no
false reject and no 5xx (every 200 also names the right user). Each worker's RSS is read
after the warm-up (the first ``--warmup`` answers), halfway and at the end.

Usage: ``python benchmarks/soak.py [--requests 20000] [--threads 4] [--write]``; the exit
status is 1 when any answer was wrong or a worker's RSS grew past ``--max-rss-growth-mb``.
``--short`` is the suite's run (``tests/faults/test_soak.py``): 400 requests.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_section  # noqa: E402
from tests.support.fault_deployment import (  # noqa: E402
    READ_ONLY,
    Deployment,
    good,
    running_deployment,
)
from tests.support.verdict_load import Probe, VerdictLoad, judge  # noqa: E402

FORMATS = ("opaque", "jwt")
#: ``--short``, and the suite's run (``tests/faults/test_soak.py``).
SHORT_REQUESTS, SHORT_WARMUP = 400, 100


def token_pool(deployment: Deployment, per_kind: int) -> list[Probe]:
    """``per_kind`` tokens of each kind and format (valid: that many per user)."""
    probes: list[Probe] = []
    for fmt in FORMATS:
        for user in ("alice", "bob"):
            probes += [
                good(t, user, kind=f"valid-{fmt}")
                for t in deployment.mint(per_kind, token_format=fmt, user=user)
            ]
        for token in deployment.mint(per_kind, token_format=fmt):
            deployment.revoke(token)
            probes.append(Probe(f"revoked-{fmt}", token, 401))
        probes += [
            Probe(f"insufficient-scope-{fmt}", t, 403, tool="add_note", arguments={"text": "x"})
            for t in deployment.mint(per_kind, token_format=fmt, scopes=READ_ONLY)
        ]
        deployment.operator("POST", "access-token-ttl", {"seconds": -60})
        try:
            expired = deployment.mint(per_kind, token_format=fmt)
        finally:
            deployment.operator("POST", "access-token-ttl", {"seconds": 86400})
        probes += [Probe(f"expired-{fmt}", t, 401) for t in expired]
    for real in deployment.mint(per_kind):
        head, payload, signature = real.split(".")
        tail = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBB"
        probes.append(Probe("invalid-jwt", f"{head}.{payload}.{signature[:-6]}{tail}", 401))
    probes += [
        Probe("invalid-opaque", "oat_" + secrets.token_hex(16), 401) for _ in range(per_kind)
    ]
    probes.append(Probe("invalid-garbage", "not.a.jwt", 401))
    return probes


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class SoakReport:
    requests: int
    threads: int
    warmup: int
    pool: int
    elapsed: float
    expected: Counter[int]
    answered: Counter[int]
    wrong: int
    false_accepts: int
    false_rejects: int
    server_errors: int
    by_worker: Counter[str]
    rss_after_warmup_kb: dict[int, int]
    rss_halfway_kb: dict[int, int]
    rss_end_kb: dict[int, int]
    examples: str = ""
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.wrong == 0 and self.answered == self.expected

    def max_rss_growth_mb(self) -> float:
        return max(
            (self.rss_end_kb[pid] - kb) / 1024
            for pid, kb in self.rss_after_warmup_kb.items()
            if pid in self.rss_end_kb
        )

    def rss_lines(self) -> list[str]:
        return [
            f"worker {pid}: RSS {before / 1024:.1f} MB after warm-up, "
            f"{self.rss_halfway_kb.get(pid, 0) / 1024:.1f} MB halfway, "
            f"{self.rss_end_kb.get(pid, 0) / 1024:.1f} MB at the end "
            f"({(self.rss_end_kb.get(pid, 0) - before) / 1024:+.1f} MB)"
            for pid, before in sorted(self.rss_after_warmup_kb.items())
        ]

    def line(self) -> str:
        statuses = " ".join(f"{s}={n}" for s, n in sorted(self.answered.items()))
        expected = " ".join(f"{s}={n}" for s, n in sorted(self.expected.items()))
        return (
            f"FIGURES soak: sent={self.requests} answers {statuses} (expected {expected}) "
            f"false-accepts={self.false_accepts} false-rejects={self.false_rejects} "
            f"5xx={self.server_errors} wrong={self.wrong} in {self.elapsed:.0f} s"
        )


def soak(
    deployment: Deployment, *, requests: int, threads: int, per_kind: int, warmup: int
) -> SoakReport:
    pool = token_pool(deployment, per_kind)
    expected = Counter(pool[n % len(pool)].expect for n in range(requests))
    load = VerdictLoad(deployment.mcp_url, threads=threads)
    load.use(pool)
    began = time.monotonic()
    load.start(limit=requests)
    load.wait_for(min(warmup, requests), timeout=600)
    workers = deployment.workers()
    before = {pid: rss_kb(pid) for pid in workers}
    load.wait_for(max(0, requests // 2 - warmup), timeout=3600)
    halfway = {pid: rss_kb(pid) for pid in deployment.workers() if pid in workers}
    answers = load.join(timeout=3600)
    elapsed = time.monotonic() - began
    after = {pid: rss_kb(pid) for pid in deployment.workers() if pid in workers}
    verdicts = judge(answers)
    wrong = verdicts.wrong
    return SoakReport(
        requests=requests,
        threads=threads,
        warmup=warmup,
        pool=len(pool),
        elapsed=elapsed,
        expected=expected,
        answered=Counter(a.status for a in answers),
        wrong=len(wrong),
        false_accepts=sum(1 for a in wrong if a.status == 200 and a.probe.expect != 200),
        false_rejects=sum(1 for a in wrong if a.probe.expect == 200 and a.status in (401, 403)),
        server_errors=sum(1 for a in answers if a.status >= 500),
        by_worker=Counter(a.worker for a in answers),
        rss_after_warmup_kb=before,
        rss_halfway_kb=halfway,
        rss_end_kb=after,
        examples=verdicts.examples(),
        kinds=Counter(a.probe.kind for a in answers),
    )


def markdown(report: SoakReport) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.kinds.items()))
    workers = ", ".join(f"{pid} {n}" for pid, n in sorted(report.by_worker.items()))
    return "\n".join(
        [
            "## Soak: every answer right, memory flat",
            "",
            f"`python benchmarks/soak.py --requests {report.requests} --threads "
            f"{report.threads} --warmup {report.warmup} --write` on {platform.machine()}, Python "
            f"{platform.python_version()}, {platform.system()}: the example app under gunicorn "
            "(2 workers, proxy mode, `CLERK_CACHE` and `CLERK_STORE` on redis-server), the "
            f"emulator as Clerk, a pool of {report.pool} tokens (opaque and JWT) sent round "
            "robin, each request on a new connection.",
            "",
            "```",
            report.line(),
            *report.rss_lines(),
            "```",
            "",
            f"Requests by kind: {kinds}.",
            f"Answers by worker: {workers}.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-kind", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=8.0,
        help="fail when a worker's RSS grew more than this after the warm-up",
    )
    parser.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    parser.add_argument(
        "--short", action="store_true", help="the test's run: 400 requests, 100 of warm-up"
    )
    args = parser.parse_args()
    if args.short:
        args.requests, args.warmup, args.per_kind = SHORT_REQUESTS, SHORT_WARMUP, 1
    with tempfile.TemporaryDirectory(prefix="soak-") as directory:
        with running_deployment(Path(directory), clerk_timeout=10) as deployment:
            report = soak(
                deployment,
                requests=args.requests,
                threads=args.threads,
                per_kind=args.per_kind,
                warmup=args.warmup,
            )
    print(report.line())
    for line in report.rss_lines():
        print(line)
    if report.examples:
        print(report.examples)
    if args.write:
        write_section("soak", markdown(report))
    grown = report.max_rss_growth_mb()
    print(f"largest RSS growth after warm-up: {grown:+.1f} MB (limit {args.max_rss_growth_mb})")
    return 0 if report.ok and grown <= args.max_rss_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())
