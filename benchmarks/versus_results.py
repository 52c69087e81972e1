"""``versus_fastmcp.py``'s data and its report: variants, round-by-round ratios, plain words.

Ratios are taken within each round (both variants ran minutes apart at most, under the same
noise) and their median over rounds is reported with the rounds' range. RESULTS.md gets ratios
and latencies only, no requests/s: the machine is shared and noisy, absolute throughput is not
a property of the code. The console shows requests/s too, for whoever runs it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.clerk_side import Clerk, TokenPool
from benchmarks.harness import Served, percentile
from benchmarks.results import write_section
from benchmarks.servers import GunicornConfig, Running

SECTION = "versus_fastmcp.py"


@dataclass(frozen=True)
class Spec:
    """One row of the variant table: which server, how it is configured, how it is driven."""

    name: str
    side: str  # "fastmcp" or "ours"
    clients: int
    cold: bool  # a fresh token per request, else the same few tokens round robin
    what: str  # plain words for RESULTS.md
    settings: Mapping[str, str] = field(default_factory=dict)  # ours: CLERK_* and the like
    path: str = "/mcp"
    gunicorn: GunicornConfig | None = None  # ours; None: the warm group's (``--gunicorn``)
    pooled: bool = False  # FastMCP: one shared httpx client (its ``http_client`` option)
    token_format: str = "opaque"  # the emulator's --token-format, once it has one
    #: Upstream calls per request a correct run must show (None: not checked).
    calls_per_request: float | None = None
    #: Configuration keys this variant needs; missing ones make it pending, not an error.
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """``numerator`` over ``denominator`` (variant names), with the issue's target if any."""

    numerator: str
    denominator: str
    target: float | None
    meaning: str


@dataclass
class Run:
    """A variant being measured: its server and what each round gave."""

    spec: Spec
    name: str  # the spec's, or ``spec@config`` when one spec runs under several configs
    config: str  # the server and its configuration, in words
    server: Running
    clerk: Clerk
    pool: TokenPool
    rounds: list[Served] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    warmup_rate: float = 0.0

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.rounds)

    @property
    def requests(self) -> int:
        return sum(len(r.latencies_ms) for r in self.rounds)

    @property
    def calls_per_request(self) -> float:
        return sum(self.calls) / self.requests

    @property
    def cores(self) -> tuple[float, float | None]:
        server = [r.server_cores for r in self.rounds if r.server_cores is not None]
        return (
            statistics.median(r.client_cores for r in self.rounds),
            statistics.median(server) if server else None,
        )

    def percentile(self, fraction: float) -> float:
        return percentile([ms for r in self.rounds for ms in r.latencies_ms], fraction)


@dataclass(frozen=True)
class Ratio:
    comparison: Comparison
    numerator: Run
    denominator: Run
    per_round: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)

    @property
    def met(self) -> bool | None:
        target = self.comparison.target
        return None if target is None else self.median >= target


def ratios(runs: Sequence[Run], comparisons: Sequence[Comparison]) -> list[Ratio]:
    """Every comparison whose two sides ran (each clone of a variant compared on its own)."""
    found = []
    for comparison in comparisons:
        for top in (r for r in runs if r.spec.name == comparison.numerator):
            for bottom in (r for r in runs if r.spec.name == comparison.denominator):
                per_round = [
                    a.rate / b.rate for a, b in zip(top.rounds, bottom.rounds, strict=True)
                ]
                found.append(Ratio(comparison, top, bottom, per_round))
    return found


def variants_table(runs: Sequence[Run], reference: Run, absolute: bool) -> str:
    head = "| variant | what | server | clients | tokens |"
    head += " requests/s (median) |" if absolute else ""
    head += (
        f" throughput vs {reference.name} (median of rounds) | p50 ms | p95 ms"
        " | upstream calls / request | CPU cores: client / server |"
    )
    lines = [head, "| --- | --- | --- | ---: | --- |" + " ---: |" * (6 if absolute else 5)]
    for run in runs:
        client, server = run.cores
        vs = statistics.median(
            a.rate / b.rate for a, b in zip(run.rounds, reference.rounds, strict=True)
        )
        lines.append(
            f"| {run.name} | {run.spec.what} | {run.config} | {run.spec.clients} |"
            f" {'fresh per request' if run.spec.cold else 'same few'} |"
            + (f" {run.rate:.0f} |" if absolute else "")
            + f" {vs:.2f}x | {run.percentile(0.5):.1f} | {run.percentile(0.95):.1f} |"
            f" {run.calls_per_request:.3f} |"
            f" {client:.2f} / {'n/a' if server is None else f'{server:.2f}'} |"
        )
    return "\n".join(lines)


def _verdict(ratio: Ratio, smoke: bool, prefix: str = "") -> str:
    """``≥ 100x: met`` (empty without a target); a smoke run gives no verdict."""
    target = ratio.comparison.target
    if target is None:
        return ""
    outcome = "no verdict from a smoke run" if smoke else "met" if ratio.met else "not met"
    return f"{prefix}≥ {target:g}x: {outcome}"


def ratios_table(found: Sequence[Ratio], smoke: bool) -> str:
    lines = [
        "| comparison | what it says | ratio (median of rounds) | rounds' range | target |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for ratio in found:
        verdict = _verdict(ratio, smoke) or "-"
        lines.append(
            f"| {ratio.numerator.name} / {ratio.denominator.name} | {ratio.comparison.meaning} |"
            f" {ratio.median:.2f}x | {min(ratio.per_round):.2f}-{max(ratio.per_round):.2f}x |"
            f" {verdict} |"
        )
    return "\n".join(lines)


def checks(runs: Sequence[Run]) -> list[str]:
    """Upstream calls per request against what each variant must show, from the counters."""
    lines = []
    for run in runs:
        expected = run.spec.calls_per_request
        if expected is None:
            continue
        calls, sent = sum(run.calls), run.requests
        holds = calls == round(expected * sent)
        lines.append(
            f"{run.name}: {calls} upstream calls for {sent} requests, expected {expected:g} per"
            f" request: {'holds' if holds else 'does not hold'}."
        )
    return lines


def notes(
    runs: Sequence[Run], found: Sequence[Ratio], smoke: bool, loads: tuple[float, float]
) -> list[str]:
    """What the figures say, as sentences built from them, so a rerun stays true."""
    sentences = []
    if smoke:
        sentences.append(
            "**Smoke run**: a few seconds per variant on a machine shared with other jobs. It"
            " shows that every variant ran end to end and answered every request correctly;"
            " its ratios are not figures to quote."
        )
    for ratio in found:
        sentences.append(
            f"{ratio.comparison.meaning}: {ratio.numerator.name} served {ratio.median:.2f}x the"
            f" requests/s of {ratio.denominator.name} (rounds {min(ratio.per_round):.2f}x to"
            f" {max(ratio.per_round):.2f}x){_verdict(ratio, smoke, '; target ')}."
        )
    fastmcp = [r for r in runs if r.spec.side == "fastmcp"]
    if fastmcp and all(r.calls_per_request == 2 for r in fastmcp):
        sentences.append(
            "FastMCP asked Clerk twice for every request (introspection, then userinfo), warm"
            " or cold: its Clerk verifier keeps no cache, so its warm and cold rows differ only"
            " by the client count."
        )
    cpus = os.cpu_count() or 1
    if max(loads) > cpus:
        sentences.append(
            f"The load average was {loads[0]:.1f} at the start and {loads[1]:.1f} at the end,"
            f" above the machine's {cpus} CPUs: other jobs competed with this run for the CPUs,"
            " which shrinks CPU-bound rows more than those waiting on the emulator."
        )
    busy = [r.name for r in runs if r.cores[1] is not None and sum(r.cores) >= 0.7 * cpus]  # type: ignore[arg-type]
    if busy:
        sentences.append(
            f"Load generator and server together kept at least {0.7 * cpus:.1f} of the"
            f" machine's {cpus} CPUs busy in: {', '.join(busy)}. Those rows are bound by this"
            " machine's CPU (shared by client, server and emulator), not by the distance to"
            " Clerk."
        )
    return sentences


def write_report(
    runs: Sequence[Run],
    comparisons: Sequence[Comparison],
    waiting: Sequence[tuple[Spec, list[str]]],
    args: argparse.Namespace,
    command: str,
) -> None:
    """Print the tables; with ``--write``, replace this script's section of RESULTS.md."""
    reference = next((r for r in runs if r.spec.name == "fastmcp-warm"), None) or min(
        runs, key=lambda r: r.rate
    )
    found = ratios(runs, comparisons)
    verdicts = checks(runs)
    print(
        variants_table(runs, reference, absolute=True), ratios_table(found, args.smoke), sep="\n\n"
    )
    print("\n".join(verdicts))
    loads = (args.load_at_start, os.getloadavg()[0])
    words = notes(runs, found, args.smoke, loads)
    print("\n".join(f"- {s}" for s in words))
    if not args.write:
        return
    title = "## Versus FastMCP" + (" (smoke run: not figures)" if args.smoke else "")
    header = (
        f"{title}\n\nTaken by `{command}` in one run. Every variant is one process tree on"
        " loopback: ours is `benchmarks/bench_app.py` (the example app plus one route without"
        " `@require_clerk`) under gunicorn; FastMCP's is `benchmarks/fastmcp_app.py`"
        f" (fastmcp {args.fastmcp_version}, `ClerkTokenVerifier`, stateless Streamable HTTP,"
        f" JSON answers) under uvicorn with {args.uvicorn_workers} worker processes, from a"
        " throwaway virtualenv the script makes. FastMCP's verifier is the server's whole `auth`:"
        " no `ClerkProvider` proxy in front, which would add its own JWT and storage lookup per"
        " request, so this is FastMCP's cheapest protected setup. One"
        f" emulator with {args.latency} ms added to every call stands for Clerk. The same load"
        " generator drives each: closed-loop client threads in one process, one keep-alive"
        " session each, `tools/call whoami`, every answer checked for the caller's own"
        " identity. Warm rows reuse a few tokens from the emulator's PKCE sign-in; cold rows"
        " send each token once, minted between rounds (one sign-in, then one refresh-token"
        f" grant per token), never inside one. {args.rounds} rounds of {args.duration:g} s per"
        " variant (after"
        f" {args.warmup:g} s of unmeasured warm-up), variants interleaved round by round, the"
        " order rotating. Ratios are taken within each round; the median over rounds is"
        " shown, with the range. No requests/s here: the machine is shared and noisy.\n\n"
        "The one shim: FastMCP's verifier builds `https://{domain}/oauth/...` URLs with no"
        " choice of scheme; after construction its two URLs get `http://` (host, port, path,"
        " requests, client authentication and every check are FastMCP's own). Our verifier"
        " talks plain HTTP to the same emulator, so neither side pays TLS.\n\n"
        f"Software: {args.stack}.\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs ({_cpu_model()}),"
        f" {platform.python_implementation()} {platform.python_version()}; load average"
        f" {loads[0]:.1f} at the start of the run, {loads[1]:.1f} at the end.\n\n"
    )
    body = [
        header + variants_table(runs, reference, absolute=False),
        ratios_table(found, args.smoke),
        "Upstream calls, from the emulator's counters (reset before each round):\n\n"
        + "\n".join(f"- {line}" for line in verdicts),
        "What the figures say:\n\n" + "\n".join(f"- {s}" for s in words),
    ]
    if waiting:
        body.append(
            "Pending (in the variant table, waiting for configuration this package does not"
            " have yet):\n\n"
            + "\n".join(
                f"- {spec.name}: {spec.what} (needs {', '.join(keys)})" for spec, keys in waiting
            )
        )
    write_section(SECTION, "\n\n".join(body))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "model unknown"
