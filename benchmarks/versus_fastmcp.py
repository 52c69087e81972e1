"""Side by side with FastMCP's ``ClerkTokenVerifier``: same emulator, same latency, same load.

Every variant is one process tree on loopback, started up front and driven by the same load
generator (``benchmarks/harness.py``: closed-loop client threads, one keep-alive session each,
``tools/call whoami`` per request, every answer checked for the caller's own identity) for the
same wall time per round; rounds interleave the variants, the order rotating each round.
Reported: medians over rounds and, above all, ratios between variants taken round by round
(the machine is noisy; a ratio within one round is not). FastMCP is installed by this script
into a throwaway virtualenv (``benchmarks/.venv-fastmcp``) and runs ``benchmarks/fastmcp_app.py``
under uvicorn; it is no dependency of ours. The emulator (``python -m flask_clerk_mcp.emulator``)
adds ``--latency`` ms to every call, standing for the network to Clerk.

Warm variants reuse ``--tokens-per-user`` tokens of alice and bob from the emulator's PKCE
sign-in; cold ones send a fresh token per request (minted between rounds: see
``clerk_side.mint_fresh``). ``VARIANTS`` below is the table of what runs; a variant whose
``requires`` names a configuration key this package does not know yet is listed as pending
(that is how the JWT modes join once ``CLERK_TOKEN_VERIFICATION`` lands). ``--gunicorn``
changes or multiplies the gunicorn configuration of our variants, so deployments can be
compared in one run. Usage::

    python benchmarks/versus_fastmcp.py [--rounds R] [--duration S] [--variants a,b] [--write]
    python benchmarks/versus_fastmcp.py --smoke     # seconds: proves it works, no figures
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from importlib import metadata
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_app import FIXED_IDENTITY, UNPROTECTED_PATH  # noqa: E402
from benchmarks.clerk_side import REDIRECT_URI, Clerk, TokenPool, sign_in_all  # noqa: E402
from benchmarks.harness import LoadError, Served, SharedCursor, Token, drive  # noqa: E402
from benchmarks.servers import (  # noqa: E402
    FASTMCP_VERSION,
    GunicornConfig,
    fastmcp_python,
    fastmcp_server,
    installed_versions,
    our_server,
)
from benchmarks.versus_results import Comparison, Run, Spec, write_report  # noqa: E402
from flask_clerk_mcp.settings import KNOWN_KEYS  # noqa: E402
from tests.support.emulator import EmulatorProcess  # noqa: E402

BENCH_APP = "benchmarks.bench_app:create_bench_app()"
FASTMCP_STACK = ("fastmcp", "mcp", "uvicorn", "uvloop", "httptools", "httpx2", "starlette")


def _jwt(name: str, clients: int, mode: str, threads: int, calls: float | None) -> Spec:
    return Spec(
        name,
        "ours",
        clients,
        cold=True,
        what=f"ours, `CLERK_TOKEN_VERIFICATION={mode}`, a fresh JWT access token per request",
        settings={"CLERK_TOKEN_VERIFICATION": mode},
        gunicorn=GunicornConfig(2, threads),
        token_format="jwt",
        calls_per_request=calls,
        requires=("CLERK_TOKEN_VERIFICATION",),
    )


VARIANTS: tuple[Spec, ...] = (
    Spec("fastmcp-warm", "fastmcp", 8, False, "FastMCP's `ClerkTokenVerifier` as shipped"
         " (a new HTTP client per verification), the same few tokens", calls_per_request=2),
    Spec("fastmcp-pooled-warm", "fastmcp", 8, False, "FastMCP's verifier given one shared"
         " `httpx2.AsyncClient` (its `http_client` option)", pooled=True, calls_per_request=2),
    Spec("fastmcp-cold-c32", "fastmcp", 32, True, "FastMCP as shipped, a fresh token per"
         " request", calls_per_request=2),
    Spec("fastmcp-cold-c128", "fastmcp", 128, True, "FastMCP as shipped, a fresh token per"
         " request", calls_per_request=2),
    Spec("ours-warm", "ours", 8, False, "ours, defaults (per-worker cache), the same few"
         " tokens", calls_per_request=0),
    Spec("ours-cache-off", "ours", 8, False, "ours, `CLERK_CACHE_TTL=0`: every request"
         " verified upstream", settings={"CLERK_CACHE_TTL": "0"}, calls_per_request=2),
    Spec("ours-unprotected", "ours", 8, False, "the same app and view without"
         " `@require_clerk`: the floor", path=UNPROTECTED_PATH, calls_per_request=0),
    Spec("ours-cold-c32", "ours", 32, True, "ours, defaults, a fresh opaque token per request",
         gunicorn=GunicornConfig(2, 16), calls_per_request=2),
    Spec("ours-cold-c128", "ours", 128, True, "ours, defaults, a fresh opaque token per"
         " request", gunicorn=GunicornConfig(2, 64), calls_per_request=2),
    # The JWT modes (issue 11), pending until CLERK_TOKEN_VERIFICATION exists.
    _jwt("ours-jwt-cold-c32", 32, "jwt", 16, 0),
    _jwt("ours-jwt-cold-c128", 128, "jwt", 64, 0),
    _jwt("ours-jwt+introspection-cold-c32", 32, "jwt+introspection", 16, 1),
)  # fmt: skip


#: Ratios reported, numerator over denominator, with the issue's targets (issue 11).
COMPARISONS: tuple[Comparison, ...] = (
    Comparison("ours-warm", "fastmcp-warm", 100, "warm, protected against protected"),
    Comparison(
        "ours-warm", "ours-unprotected", 0.95, "warm, what verification leaves of the floor"
    ),
    Comparison("ours-cache-off", "fastmcp-warm", None, "every request verified upstream, both"),
    Comparison("ours-warm", "fastmcp-pooled-warm", None, "warm, against FastMCP with pooling"),
    Comparison("fastmcp-pooled-warm", "fastmcp-warm", None, "what pooling buys FastMCP"),
    Comparison("ours-cold-c32", "fastmcp-cold-c32", None, "cold opaque tokens, 32 clients"),
    Comparison("ours-cold-c128", "fastmcp-cold-c128", 20, "cold opaque tokens, 128 clients"),
    Comparison("ours-jwt-cold-c32", "fastmcp-cold-c32", 100, "cold JWTs, `jwt` mode, 32 clients"),
    Comparison(
        "ours-jwt-cold-c128", "fastmcp-cold-c128", 100, "cold JWTs, `jwt` mode, 128 clients"
    ),
    Comparison(
        "ours-jwt-cold-c128", "ours-unprotected", 0.5, "cold JWTs, `jwt` mode, against the floor"
    ),
    Comparison(
        "ours-jwt+introspection-cold-c32",
        "ours-cold-c32",
        1.8,
        "cold JWT against cold opaque, default mode",
    ),
)


def pending(spec: Spec) -> list[str]:
    """The configuration keys ``spec`` needs that this package does not have yet."""
    return [key for key in spec.requires if key not in KNOWN_KEYS]


def emulator_flags(token_format: str, latency: int) -> list[str]:
    """The emulator's flags; ``--token-format`` only once the emulator has it."""
    flags = ["--latency-ms", str(latency), "--redirect-uri", REDIRECT_URI]
    helptext = subprocess.run(
        [sys.executable, "-m", "flask_clerk_mcp.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "--token-format" in helptext:
        return [*flags, "--token-format", token_format]
    if token_format != "opaque":
        raise LoadError(f"the emulator cannot issue {token_format} tokens yet")
    return flags


def plans_for(
    run: Run, warm: list[Token]
) -> tuple[list[Token], list[Iterator[int]], SharedCursor | None]:
    """Tokens and one plan per client: round robin over ``warm`` (each client starting at its
    own), or one cursor over the pool's fresh tokens shared by all (each sent once)."""
    if run.spec.cold:
        cursor = run.pool.cursor()
        return run.pool.tokens, [cursor] * run.spec.clients, cursor
    count = len(warm)
    return (
        warm,
        [islice(cycle(range(count)), c % count, None) for c in range(run.spec.clients)],
        None,
    )


def drive_run(run: Run, warm: list[Token], seconds: float, time_limit: float) -> Served:
    tokens, plans, cursor = plans_for(run, warm)
    served = drive(
        run.server.url + run.spec.path,
        run.server.pid,
        tokens,
        plans,
        keep_alive=True,
        time_limit=time_limit,
        duration=seconds,
        expect_subject=FIXED_IDENTITY.subject if run.spec.path == UNPROTECTED_PATH else None,
    )
    if cursor is not None:
        run.pool.spend(cursor)
    return served


def select(args: argparse.Namespace) -> list[tuple[Spec, GunicornConfig | None, str]]:
    """The variants to run, each with its gunicorn configuration and its name in the tables."""
    wanted = args.variants.split(",") if args.variants else None
    known = {spec.name for spec in VARIANTS}
    for name in wanted or []:
        if name not in known:
            raise SystemExit(f"unknown variant {name!r}; --list shows them")
    overrides: dict[str, list[GunicornConfig]] = {}
    ours = {spec.name for spec in VARIANTS if spec.side == "ours"} | {"warm", "cold"}
    for item in args.gunicorn:
        name, _, text = item.rpartition("=")
        if name and name not in ours:
            raise SystemExit(
                f"--gunicorn {item!r}: {name!r} is none of our variants, nor warm/cold"
            )
        try:
            overrides.setdefault(name or "warm", []).append(GunicornConfig.parse(text))
        except ValueError as exc:
            raise SystemExit(f"--gunicorn {exc}") from None
    chosen = []
    for spec in VARIANTS:
        if (wanted and spec.name not in wanted) or pending(spec):
            continue
        if spec.side == "fastmcp":
            chosen.append((spec, None, spec.name))
            continue
        group = "cold" if spec.cold else "warm"
        configs = (
            overrides.get(spec.name) or overrides.get(group) or [spec.gunicorn or GunicornConfig()]
        )
        for config in configs:
            chosen.append(
                (spec, config, spec.name if len(configs) == 1 else f"{spec.name}@{config}")
            )
    if not chosen:
        raise SystemExit("no variant to run")
    return chosen


def stack_versions(python: Path | None) -> str:
    """What each side ran on, in words, for RESULTS.md."""
    ours = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("gunicorn", "flask", "requests")
    )
    if python is None:
        return f"ours: {ours}"
    theirs = installed_versions(python, FASTMCP_STACK)
    return f"FastMCP side: {', '.join(f'{k} {v}' for k, v in theirs.items())}; ours: {ours}"


def measure(args: argparse.Namespace) -> tuple[list[Run], float]:
    chosen = select(args)
    with ExitStack() as stack:
        if args.logs:  # kept: one fresh directory per run under the one given
            directory = Path(tempfile.mkdtemp(prefix="bench-vs-", dir=args.logs))
            print(f"server logs in {directory}", file=sys.stderr)
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-vs-")))
        clerks: dict[str, tuple[Clerk, TokenPool, list[Token]]] = {}
        for token_format in sorted({spec.token_format for spec, _, _ in chosen}):
            emulator = stack.enter_context(
                EmulatorProcess(*emulator_flags(token_format, args.latency))
            )
            clerk = Clerk(emulator.issuer)
            clerks[token_format] = (
                clerk,
                TokenPool(clerk),
                sign_in_all(clerk.issuer, args.tokens_per_user),
            )
        python = (
            fastmcp_python(args.fastmcp_version)
            if any(s.side == "fastmcp" for s, _, _ in chosen)
            else None
        )
        args.stack = stack_versions(python)
        secret_key = secrets.token_urlsafe(32)
        runs: list[Run] = []
        for spec, config, name in chosen:
            clerk, pool, _ = clerks[spec.token_format]
            if spec.side == "fastmcp":
                assert python is not None
                server = stack.enter_context(
                    fastmcp_server(
                        python,
                        clerk.issuer,
                        directory,
                        workers=args.uvicorn_workers,
                        pooled=spec.pooled,
                    )
                )
            else:
                server = stack.enter_context(
                    our_server(
                        name, BENCH_APP, clerk.issuer, secret_key, directory, spec.settings, config
                    )
                )
            described = (
                f"uvicorn, {args.uvicorn_workers} workers"
                if config is None
                else f"gunicorn {config}"
            )
            runs.append(Run(spec, name, described, server, clerk, pool))
        print(f"{len(runs)} servers up", file=sys.stderr)

        def refill(run: Run, seconds: float) -> None:
            if run.spec.cold:
                seen = max([r.rate for r in run.rounds] + [run.warmup_rate]) or args.cold_guess
                run.pool.ensure(int(seen * seconds * 1.5) + 4 * run.spec.clients)

        for run in runs:  # warm-up: caches, pools, imports; also the first estimate of cold rates
            refill(run, args.warmup)
            warm = clerks[run.spec.token_format][2]
            run.warmup_rate = drive_run(run, warm, args.warmup, args.round_timeout).rate
        began = time.monotonic()
        for number in range(args.rounds):
            shift = number % len(runs)
            for run in runs[shift:] + runs[:shift]:
                refill(run, args.duration)
                run.clerk.reset_counters()
                served = drive_run(
                    run, clerks[run.spec.token_format][2], args.duration, args.round_timeout
                )
                if served.ran_dry:
                    raise LoadError(
                        f"{run.name}: the fresh tokens ran out mid-round; raise --cold-guess"
                    )
                run.calls.append(run.clerk.upstream_calls())
                run.rounds.append(served)
                print(f"  {run.name}: {served.rate:.0f} requests/s", file=sys.stderr)
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
        return runs, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per variant per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per variant, unmeasured")
    parser.add_argument("--tokens-per-user", type=int, default=3, help="warm tokens, alice and bob")
    parser.add_argument("--latency", type=int, default=20, help="emulator latency, ms")
    parser.add_argument("--variants", help="comma-separated names (default: all not pending)")
    parser.add_argument(
        "--gunicorn",
        action="append",
        default=[],
        metavar="[VARIANT=]WxT[:CLASS]",
        help="gunicorn config of one of our variants, or of the group `warm` (the default"
        " without a name) or `cold`; repeat a name to run one variant under several configs",
    )
    parser.add_argument("--uvicorn-workers", type=int, default=2, help="FastMCP's processes")
    parser.add_argument("--fastmcp-version", default=FASTMCP_VERSION)
    parser.add_argument("--cold-guess", type=float, default=800, help="requests/s, for minting")
    parser.add_argument("--round-timeout", type=float, default=120.0)
    parser.add_argument("--logs", help="keep the servers' logs under this directory")
    parser.add_argument("--smoke", action="store_true", help="2 rounds of 1 s: no figures")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--write", action="store_true", help="write its section of RESULTS.md")
    args = parser.parse_args()
    if args.list:
        for spec in VARIANTS:
            missing = pending(spec)
            state = f"pending ({', '.join(missing)})" if missing else "ready"
            print(f"{spec.name:34} c={spec.clients:<4} {state:38} {spec.what}")
        return
    if args.smoke:
        args.rounds, args.duration, args.warmup = 2, 1.0, 0.5
    if min(args.rounds, args.tokens_per_user, args.uvicorn_workers) < 1 or args.latency < 0:
        parser.error("--rounds, --tokens-per-user, --uvicorn-workers >= 1; --latency >= 0")
    if min(args.duration, args.warmup, args.cold_guess, args.round_timeout) <= 0:
        parser.error("--duration, --warmup, --cold-guess and --round-timeout must be > 0")
    command = shlex.join(["python", "benchmarks/versus_fastmcp.py", *sys.argv[1:]])
    started = time.monotonic()
    args.load_at_start = os.getloadavg()[0]
    runs, span = measure(args)
    waiting = [(spec, pending(spec)) for spec in VARIANTS if pending(spec)]
    write_report(runs, COMPARISONS, waiting, args, command)
    print(f"whole run: {time.monotonic() - started:.0f} s; rounds: {span:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
