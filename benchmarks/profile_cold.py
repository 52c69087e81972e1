"""What one cold verification costs in CPU, by function: cProfile over N cold tokens.

The emulator runs in this process, in its own threads (cProfile sees only the thread that
verifies, so the emulator's CPU is not in the profile); tokens come from its real flows
before profiling starts. One ``ClerkVerifier`` as ``init_app`` builds it verifies each token
once. Prints the top entries by own time and the per-verification CPU time. Usage::

    python benchmarks/profile_cold.py [--format opaque|jwt] [--mode jwt+introspection]
                                      [--tokens 300] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.clerk_side import REDIRECT_URI, Clerk, mint_fresh  # noqa: E402
from flask_clerk_mcp.cache import VerificationCache, make_cache_backend  # noqa: E402
from flask_clerk_mcp.emulator import EmulatorConfig, EmulatorServer  # noqa: E402
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET  # noqa: E402
from flask_clerk_mcp.settings import load_settings  # noqa: E402
from flask_clerk_mcp.verifier import ClerkVerifier  # noqa: E402


def profile(token_format: str, mode: str, count: int, top: int) -> str:
    config = EmulatorConfig(access_token_format=token_format)
    with EmulatorServer(config) as emu:
        emu.add_redirect_uri(DEMO_CLIENT_ID, REDIRECT_URI)
        tokens = [t.value for t in mint_fresh(Clerk(emu.issuer), 2 * count + 1)]
        settings = load_settings(
            {
                "CLERK_ISSUER_URL": emu.issuer,
                "CLERK_CLIENT_ID": DEMO_CLIENT_ID,
                "CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
                "CLERK_BASE_URL": "http://127.0.0.1:8000",
                "CLERK_TOKEN_VERIFICATION": mode,
            }
        )
        cache = VerificationCache(
            make_cache_backend(settings.cache),
            ttl=settings.cache_ttl,
            issuer=settings.issuer,
            accepted_client_ids=settings.accepted_client_ids,
            secret=b"k" * 32,
        )
        verifier = ClerkVerifier(settings, cache)
        verifier.verify(tokens.pop())  # connections, JWKS, the profile: not what is measured
        plain, tokens = tokens[:count], tokens[count:]
        began = time.thread_time()
        for token in plain:  # the same work without the profiler's own cost
            verifier.verify(token)
        cpu_plain = time.thread_time() - began
        emu.emulator.controls.reset_counters()
        profiler = cProfile.Profile(time.thread_time)  # CPU of this thread, not wall time
        began = time.thread_time()
        profiler.enable()
        for token in tokens:
            verifier.verify(token)
        profiler.disable()
        cpu = time.thread_time() - began
        counters = emu.emulator.controls.counters()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    calls = {k: counters.get(k, 0) for k in ("token_info", "userinfo", "jwks")}
    header = (
        f"{count} cold {token_format} tokens, {mode}: {cpu_plain / count * 1e6:.0f} us CPU per"
        f" verification in the verifying thread ({cpu / count * 1e6:.0f} us with the profiler"
        f" on); upstream calls {calls}\n"
    )
    return header + out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("opaque", "jwt"), default="opaque")
    parser.add_argument("--mode", default="jwt+introspection")
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(profile(args.format, args.mode, args.tokens, args.top))


if __name__ == "__main__":
    main()
