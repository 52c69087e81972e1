"""benchmarks/RESULTS.md: one section per benchmark script, each between its own markers.

``run.py --write``, ``load.py --write`` and ``versus_fastmcp.py --write`` each replace only
their own section (or append it if it is not there yet), so any can be rerun without losing
the others' figures.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = (
    "# Benchmark results\n\n"
    "Three benchmarks, each writing its own section below: `benchmarks/run.py --write` (one"
    " process, Flask's test client), `benchmarks/load.py --write` (the example app under"
    " gunicorn, driven over HTTP) and `benchmarks/versus_fastmcp.py --write` (side by side with"
    " FastMCP's Clerk verifier). `make bench` runs all three without writing.\n"
)


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Put ``body`` between ``<!-- begin NAME -->`` and ``<!-- end NAME -->`` in ``path``."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    start, stop = text.find(begin), text.find(end)
    if 0 <= start < stop:
        text = text[:start] + block + text[stop + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
