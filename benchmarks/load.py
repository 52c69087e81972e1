"""What an MCP call costs in the real deployment: gunicorn, with Clerk across a network.

The example app (``example_app.wsgi:app``) runs under gunicorn (2 workers, gthread, 4 threads
each); the Clerk emulator runs as its own process with added latency (default 20 ms, standing
for the network to Clerk). This process drives a bounded closed loop: ``--clients`` threads, each
with its own keep-alive ``requests.Session``, each sending ``--requests`` ``tools/call whoami`` on
``POST /mcp`` per round. Bearer tokens come from the emulator's real authorization-code + PKCE
sign-in (alice and bob, ``--tokens-per-user`` each); each client goes through them round robin,
starting at a different one. Three variants, one gunicorn each, all started up front and run
interleaved round by round (the order rotating each round), so machine noise hits them alike:

- ``no-cache``: ``CLERK_CACHE_TTL=0``, every request asks Clerk (introspection, then userinfo);
- ``per-worker``: the defaults, a ``SimpleCache`` in each worker;
- ``redis``: ``CLERK_CACHE=redis://...`` on a redis-server started here; all workers share
  ``SECRET_KEY``, so each can open the entries the others sealed.

Upstream calls are read from the emulator's counters (``token_info`` + ``userinfo``), reset
before each round. After the rounds, a sequential cold pass per cached variant (fresh tokens,
one request at a time, a new connection each, so either worker may answer) checks the counts
exactly where no two cold misses can overlap. Any answer other than 200 with the caller's own
identity, or a round over ``--round-timeout``, aborts the run. The defaults take about a minute.
Usage: ``python benchmarks/load.py [--clients C] [--requests N] [--rounds R] [--write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.clerk_side import REDIRECT_URI, USERS, Clerk, sign_in_all  # noqa: E402
from benchmarks.harness import drive, median_or_none, percentile  # noqa: E402
from benchmarks.results import write_section  # noqa: E402
from benchmarks.servers import Running, our_server  # noqa: E402
from example_app.demo.processes import DEFAULT_THREADS, DEFAULT_WORKERS  # noqa: E402
from flask_clerk_mcp.settings import KNOWN_KEYS  # noqa: E402
from tests.support.emulator import EmulatorProcess  # noqa: E402
from tests.support.redis_server import redis_server  # noqa: E402

#: Sequential cold pass: requests per fresh token, each on a new connection.
COLD_REPEATS = 6
TARGET = "example_app.wsgi:app"


@dataclass
class Variant:
    name: str
    settings: dict[str, str]
    server: Running | None = None
    rates: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    pairs: set[tuple[int, str]] = field(default_factory=set)
    calls_by_round: list[int] = field(default_factory=list)
    client_cores: list[float] = field(default_factory=list)
    server_cores: list[float] = field(default_factory=list)
    #: The sequential cold pass: upstream calls, tokens, (token, worker) pairs.
    cold: tuple[int, int, int] = (0, 0, 0)

    @property
    def calls(self) -> int:
        return sum(self.calls_by_round)

    def floor(self, tokens: int) -> int | None:
        """Upstream calls if no two cold misses of a token ever overlapped."""
        if self.name == "no-cache":
            return None
        return 2 * (len(self.pairs) if self.name == "per-worker" else tokens)


def measure(args: argparse.Namespace) -> tuple[list[Variant], int, float]:
    """Run the rounds, then the sequential cold pass; return the variants, tokens, rounds' span."""
    variants = [
        Variant("no-cache", {"CLERK_CACHE_TTL": "0"}),
        Variant("per-worker", {}),
        Variant("redis", {}),  # CLERK_CACHE is set once redis-server is up
    ]
    emulator_args = ("--latency-ms", str(args.latency), "--redirect-uri", REDIRECT_URI)
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        emulator = stack.enter_context(EmulatorProcess(*emulator_args))
        clerk = Clerk(emulator.issuer)
        variants[2].settings["CLERK_CACHE"] = stack.enter_context(redis_server())
        secret_key = secrets.token_urlsafe(32)  # shared by every worker: one sealing key
        for variant in variants:
            variant.server = stack.enter_context(
                our_server(
                    variant.name, TARGET, clerk.issuer, secret_key, directory, variant.settings
                )
            )
        tokens = sign_in_all(clerk.issuer, args.tokens_per_user)
        plans = [
            [(client + sent) % len(tokens) for sent in range(args.requests)]
            for client in range(args.clients)
        ]
        began = time.monotonic()
        for round_number in range(args.rounds):
            shift = round_number % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                assert variant.server is not None
                clerk.reset_counters()
                served = drive(
                    variant.server.url + "/mcp",
                    variant.server.pid,
                    tokens,
                    plans,
                    keep_alive=True,
                    time_limit=args.round_timeout,
                )
                variant.calls_by_round.append(clerk.upstream_calls())
                variant.rates.append(served.rate)
                variant.latencies_ms.extend(served.latencies_ms)
                variant.pairs |= served.pairs
                variant.client_cores.append(served.client_cores)
                if served.server_cores is not None:
                    variant.server_cores.append(served.server_cores)
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        span = time.monotonic() - began

        # Cold pass: fresh tokens, one request at a time, each on a new connection (so either
        # worker may take it): no two misses overlap, so the counts can be checked exactly.
        for variant in variants[1:]:
            assert variant.server is not None
            fresh = sign_in_all(clerk.issuer, args.tokens_per_user)
            plan = [index for index in range(len(fresh)) for _ in range(COLD_REPEATS)]
            clerk.reset_counters()
            served = drive(
                variant.server.url + "/mcp",
                variant.server.pid,
                fresh,
                [plan],
                keep_alive=False,
                time_limit=args.round_timeout,
            )
            variant.cold = (clerk.upstream_calls(), len(fresh), len(served.pairs))
    return variants, len(tokens), span


def table(variants: list[Variant], requests_in_all: int, tokens: int) -> str:
    slowest = min(statistics.median(v.rates) for v in variants)
    lines = [
        "| variant | requests/s (median) | p50 ms | p95 ms | ratio to slowest"
        " | upstream calls / request | upstream calls (round 1 + later) | floor"
        " | CPU cores: client / gunicorn |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        rate = statistics.median(v.rates)
        floor = v.floor(tokens)
        server = median_or_none(v.server_cores)
        lines.append(
            f"| {v.name} | {rate:.0f} | {percentile(v.latencies_ms, 0.50):.1f} | "
            f"{percentile(v.latencies_ms, 0.95):.1f} | {rate / slowest:.1f}x | "
            f"{v.calls / requests_in_all:.3f} | "
            f"{v.calls} ({v.calls_by_round[0]} + {v.calls - v.calls_by_round[0]}) | "
            f"{'-' if floor is None else floor} | "
            f"{statistics.median(v.client_cores):.2f} / "
            f"{'n/a' if server is None else f'{server:.2f}'} |"
        )
    return "\n".join(lines)


def checks(variants: list[Variant], requests_in_all: int, tokens: int, span: float) -> list[str]:
    """The expectations, each stated and then tested against the counts."""
    by_name = {v.name: v for v in variants}
    no_cache, per_worker, redis = by_name["no-cache"], by_name["per-worker"], by_name["redis"]

    def verdict(ok: bool) -> str:
        return "holds" if ok else "does not hold"

    most = 2 * tokens * DEFAULT_WORKERS
    lines = [
        f"no-cache, 2 calls per request: {no_cache.calls} calls for {requests_in_all}"
        f" requests, {verdict(no_cache.calls == 2 * requests_in_all)}.",
        f"per-worker, at most 2 calls per token per worker ({most} for {tokens} tokens and"
        f" {DEFAULT_WORKERS} workers): {per_worker.calls} under load,"
        f" {verdict(per_worker.calls <= most)}"
        f" ({per_worker.calls - per_worker.calls_by_round[0]} after round 1).",
        f"redis, about 2 calls per distinct token ({2 * tokens}): {redis.calls} under load,"
        f" {verdict(redis.calls == 2 * tokens)} exactly"
        f" ({redis.calls - redis.calls_by_round[0]} after round 1).",
    ]
    for v in (per_worker, redis):
        calls, fresh, pairs = v.cold
        expected = 2 * (pairs if v is per_worker else fresh)
        rule = "2 per (token, worker) pair" if v is per_worker else "2 per token"
        lines.append(
            f"{v.name}, sequential cold pass ({fresh} fresh tokens x {COLD_REPEATS} requests,"
            f" one at a time, new connection each; {pairs} (token, worker) pairs served):"
            f" {calls} calls, {rule} = {expected}, {verdict(calls == expected)}."
        )
    ttl = int(KNOWN_KEYS["CLERK_CACHE_TTL"])
    if span > ttl:
        lines.append(
            f"The rounds spanned {span:.0f} s, more than the cache TTL ({ttl} s): entries expired"
            " during the run, so the cached variants paid calls again after round 1."
        )
    return lines


def notes(variants: list[Variant], args: argparse.Namespace, tokens: int) -> str:
    """What the figures of this run say, as sentences built from them (so a rerun stays true)."""
    by_name = {v.name: v for v in variants}
    no_cache, per_worker, redis = by_name["no-cache"], by_name["per-worker"], by_name["redis"]
    rate = {v.name: statistics.median(v.rates) for v in variants}
    p50 = {v.name: percentile(v.latencies_ms, 0.50) for v in variants}
    requests_in_all = args.clients * args.requests * args.rounds
    cached = (per_worker, redis)
    later = sum(v.calls - v.calls_by_round[0] for v in cached)
    cores = [
        statistics.median(v.client_cores) + statistics.median(v.server_cores)
        for v in cached
        if v.server_cores
    ]
    low, high = sorted(rate[v.name] / rate["no-cache"] for v in cached)
    spread = {v.name: (min(v.rates), max(v.rates)) for v in cached}
    overlap = (
        spread["per-worker"][0] <= spread["redis"][1]
        and spread["redis"][0] <= spread["per-worker"][1]
    )
    sentences = [
        f"Without a cache every request waited for both upstream calls"
        f" ({no_cache.calls / requests_in_all:.3f} per request): p50 {p50['no-cache']:.0f} ms,"
        f" against {2 * args.latency} ms of added latency alone, and {rate['no-cache']:.0f}"
        f" requests/s for {args.clients} clients.",
        f"Either cache served {low:.1f}x to {high:.1f}x as many requests/s, at a p50 of"
        f" {p50['per-worker']:.1f} ms (per-worker) and {p50['redis']:.1f} ms (redis); the two"
        + (
            " overlapped round by round"
            f" ({spread['per-worker'][0]:.0f}-{spread['per-worker'][1]:.0f} and"
            f" {spread['redis'][0]:.0f}-{spread['redis'][1]:.0f} requests/s), so this run does"
            " not tell them apart on speed."
            if overlap
            else " did not overlap round by round"
            f" ({spread['per-worker'][0]:.0f}-{spread['per-worker'][1]:.0f} and"
            f" {spread['redis'][0]:.0f}-{spread['redis'][1]:.0f} requests/s)."
        ),
    ]
    if later:
        sentences.append(f"The cached variants still made {later} upstream calls after round 1.")
    elif cores:
        busy = max(cores)
        sentences.append(
            "After round 1 no request of the cached variants asked Clerk at all, and this"
            f" process plus the gunicorn workers kept about {busy:.1f} of the machine's"
            f" {os.cpu_count()} CPUs busy"
            + (
                ": what limits those rows is local CPU, not the distance to Clerk."
                if busy >= 0.7 * (os.cpu_count() or 1)
                else "."
            )
        )
    cold = {v.name: (v.cold[0], 2 * (v.cold[2] if v is per_worker else v.cold[1])) for v in cached}
    floors = {v.name: v.floor(tokens) or 0 for v in cached}
    load = " and ".join(
        f"{v.name} paid {v.calls} calls against a floor of {floors[v.name]}" for v in cached
    )
    if all(paid == expected for paid, expected in cold.values()):
        fresh, pairs = redis.cold[1], redis.cold[2]
        sentences.append(
            f"Under load, where requests for the same cold token overlapped in round 1, {load};"
            f" with no overlap (the sequential cold pass) the counts matched exactly: redis"
            f" {redis.cold[0]} calls for {fresh} tokens served through {pairs} (token, worker)"
            f" pairs, per-worker {per_worker.cold[0]} calls for {per_worker.cold[2]} pairs."
            " Concurrent misses share one verification within a worker process (single"
            " flight), not across workers: two workers cold on the same token at the same"
            " moment each ask Clerk, which is what a shared cache can still pay above its"
            " floor."
        )
    else:
        sentences.append(
            f"Under load {load}; the sequential cold pass did not match the expected counts"
            " either (see the expectations above)."
        )
    return "\n".join(f"- {sentence}" for sentence in sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--requests", type=int, default=100, help="per client per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens-per-user", type=int, default=3, help="for alice and for bob")
    parser.add_argument("--latency", type=int, default=20, help="emulator latency, ms")
    parser.add_argument(
        "--round-timeout", type=float, default=60.0, help="abort a round after this many seconds"
    )
    parser.add_argument(
        "--write", action="store_true", help="write its section of benchmarks/RESULTS.md"
    )
    args = parser.parse_args()
    for name in ("clients", "requests", "rounds", "tokens_per_user"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.latency < 0 or args.round_timeout <= 0:
        parser.error("--latency must be >= 0 and --round-timeout > 0")

    started = time.monotonic()
    variants, tokens, span = measure(args)
    requests_in_all = args.clients * args.requests * args.rounds
    output = table(variants, requests_in_all, tokens)
    verdicts = checks(variants, requests_in_all, tokens, span)
    print(output)
    print("\n".join(verdicts))
    print(notes(variants, args, tokens))
    print(f"whole run: {time.monotonic() - started:.0f} s; rounds: {span:.0f} s", file=sys.stderr)
    if args.write:
        header = (
            "## Under gunicorn\n\n"
            "Taken by `python benchmarks/load.py --write` in one run. The example app"
            f" (`example_app.wsgi:app`) under gunicorn ({DEFAULT_WORKERS} workers, gthread,"
            f" {DEFAULT_THREADS} threads each), one gunicorn per variant; the emulator as a"
            f" separate process with {args.latency} ms added to every call, standing for the"
            " network to Clerk; for `redis`, a redis-server on loopback, and one `SECRET_KEY`"
            " for all workers. Load: a closed loop of"
            f" {args.clients} client threads in one process, each with its own keep-alive"
            f" session, sending {args.requests} `tools/call whoami` per round;"
            f" {args.rounds} rounds, variants interleaved round by round (order rotating)."
            f" {tokens} distinct tokens ({args.tokens_per_user} each for"
            f" {' and '.join(USERS)}, from the emulator's PKCE sign-in), each client going"
            " through them round robin from its own starting point. Every request answered 200"
            " with its caller's identity.\n\n"
            "Latency percentiles are over all requests of all rounds. Upstream calls are the"
            " emulator's `token_info` + `userinfo` counts, reset before each round; *floor* is"
            " what they would be if no two cold misses of a token overlapped (2 per token for"
            " `redis`, 2 per (token, worker) pair actually served for `per-worker`). CPU cores:"
            " CPU time over wall time during the rounds (median), for this load-generating"
            " process and for gunicorn's whole process tree (master and workers). Servers,"
            " emulator, redis and client share one machine, so compare ratios, not absolute"
            " figures.\n\n"
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs,"
            f" {platform.python_implementation()} {platform.python_version()}.\n\n"
        )
        expectations = "Expectations, checked against the counts:\n\n" + "\n".join(
            f"- {line}" for line in verdicts
        )
        write_section(
            "load.py",
            header
            + output
            + "\n\n"
            + expectations
            + "\n\nWhat the figures say:\n\n"
            + notes(variants, args, tokens),
        )


if __name__ == "__main__":
    main()
