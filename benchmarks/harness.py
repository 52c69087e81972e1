"""The load generator every HTTP benchmark here shares: closed-loop clients, checks, CPU time.

``drive`` starts one thread per plan, each with its own keep-alive ``requests.Session``,
sending ``tools/call whoami`` on ``POST /mcp`` with the bearer tokens its plan names, each
request sent as soon as the last one answered. A plan is any iterable of token indices: a list
(the round ends when every plan is done, as ``load.py`` runs it), or an endless or shared
iterator with ``duration`` set (the round ends when the time is up, as ``versus_fastmcp.py``
runs it, so that servers hundreds of times apart in speed get the same wall time). Every answer
must be a 200 whoami result naming the expected user; anything else voids the run
(``LoadError``), so no figure is ever taken from errors answered fast.

CPU time is read from /proc for the server's whole process tree (master and workers), so one
reading works for gunicorn and for uvicorn alike.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from example_app import WORKER_PID_HEADER

PROTOCOL_VERSION = "2025-11-25"
REQUEST_TIMEOUT = 10.0
WHOAMI = json.dumps(
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}}
)
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": PROTOCOL_VERSION,
}


class LoadError(SystemExit):
    """A request that did not answer 200 with the caller's identity: the run is void."""


@dataclass(frozen=True)
class Token:
    user: str
    subject: str
    value: str


@dataclass
class Served:
    """What one drive of the load gave: timings and who served which token."""

    elapsed: float
    latencies_ms: list[float]
    #: (token index, worker pid) pairs: a per-worker cache pays 2 calls per pair at least.
    pairs: set[tuple[int, str]]
    client_cpu_s: float
    server_cpu_s: float | None
    #: Some client's plan ran out before ``duration`` was up (only with ``duration``).
    ran_dry: bool = False

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed

    @property
    def client_cores(self) -> float:
        return self.client_cpu_s / self.elapsed

    @property
    def server_cores(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.elapsed


class SharedCursor(Iterator[int]):
    """``range(start, stop)`` handed out to several client threads, each index exactly once."""

    def __init__(self, start: int, stop: int) -> None:
        self._next, self._stop = start, stop
        self._lock = threading.Lock()

    def __iter__(self) -> SharedCursor:
        return self

    def __next__(self) -> int:
        with self._lock:
            if self._next >= self._stop:
                raise StopIteration
            self._next += 1
            return self._next - 1

    @property
    def used(self) -> int:
        """Where the cursor stands: the first index not handed out yet."""
        with self._lock:
            return self._next


def tree_cpu_seconds(root: int) -> float | None:
    """CPU time (user + system) of ``root`` and all its descendants so far; None if unreadable."""
    total, pending, seen = 0, [root], set()
    try:
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def drive(
    url: str,
    server_pid: int,
    tokens: Sequence[Token],
    plans: Sequence[Iterable[int]],
    *,
    keep_alive: bool,
    time_limit: float,
    duration: float | None = None,
    expect_subject: str | None = None,
) -> Served:
    """One client thread per plan, each sending whoami to ``url`` with its plan's tokens.

    The threads start together. Without ``duration`` each stops when its plan is done; with
    it, each stops sending when ``duration`` seconds have passed, and a plan that runs out
    before then sets ``Served.ran_dry`` (a measured cold round must never run short of fresh
    tokens: the caller decides). Any failure, or ``time_limit``, stops them all and aborts the
    run. ``expect_subject``: the user every answer must name (a route that does not verify
    tokens answers for a fixed user); by default, each token's own.
    """
    latencies: list[list[float]] = [[] for _ in plans]
    pairs: list[set[tuple[int, str]]] = [set() for _ in plans]
    errors: list[str] = []
    start = threading.Barrier(len(plans) + 1)
    stop = threading.Event()
    dry = threading.Event()
    deadline = time.monotonic() + time_limit
    began = 0.0  # set by the main thread just before the barrier releases the clients

    def client(index: int) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            if not keep_alive:
                session.headers["Connection"] = "close"
            try:
                start.wait(time_limit)
            except threading.BrokenBarrierError:
                return
            for token_index in plans[index]:
                if stop.is_set():
                    return
                now = time.monotonic()
                if duration is not None and now - began >= duration:
                    return
                if now > deadline:
                    errors.append(f"not done within {time_limit:.0f} s")
                    stop.set()
                    return
                token = tokens[token_index]
                sent = time.perf_counter()
                try:
                    answer = session.post(
                        url,
                        data=WHOAMI,
                        headers={"Authorization": f"Bearer {token.value}"},
                        timeout=REQUEST_TIMEOUT,
                    )
                except requests.RequestException as exc:
                    errors.append(f"{token.user}: {exc!r}")
                    stop.set()
                    return
                latencies[index].append((time.perf_counter() - sent) * 1000)
                problem = check_answer(answer, token, expect_subject)
                if problem:
                    errors.append(problem)
                    stop.set()
                    return
                pairs[index].add((token_index, answer.headers.get(WORKER_PID_HEADER, "?")))
            if duration is not None:
                dry.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(plans))]
    for thread in threads:
        thread.start()
    server_cpu = tree_cpu_seconds(server_pid)
    client_cpu = time.process_time()
    began = time.monotonic()
    start.wait(time_limit)
    wall = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - wall
    client_cpu = time.process_time() - client_cpu
    server_after = tree_cpu_seconds(server_pid)
    if any(thread.is_alive() for thread in threads):
        stop.set()
        errors.append("a client thread did not finish in time")
    if errors:
        raise LoadError(f"load against {url} failed: {errors[0]}")
    return Served(
        elapsed=elapsed,
        latencies_ms=[ms for per_client in latencies for ms in per_client],
        pairs=set().union(*pairs),
        client_cpu_s=client_cpu,
        server_cpu_s=None
        if server_cpu is None or server_after is None
        else server_after - server_cpu,
        ran_dry=dry.is_set(),
    )


def check_answer(
    answer: requests.Response, token: Token, expect_subject: str | None = None
) -> str | None:
    """None if ``answer`` is a 200 whoami result naming the expected user (the token's own)."""
    if answer.status_code != 200:
        return f"{token.user}: HTTP {answer.status_code} {answer.text[:300]!r}"
    try:
        result = answer.json()["result"]
        subject = result["structuredContent"]["subject"]
    except (ValueError, KeyError, TypeError):
        return f"{token.user}: not a whoami result: {answer.text[:300]!r}"
    if result.get("isError") or subject != (expect_subject or token.subject):
        return f"{token.user}: answered as {subject!r}: {answer.text[:300]!r}"
    return None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
