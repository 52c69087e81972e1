"""A steady load of MCP calls whose every answer is judged: right decision, or wrong one.

``benchmarks/harness.py`` drives load for figures of speed and voids a run at the first answer
that is not a 200; the fault and soak tests need the opposite: a mix of good and bad tokens,
every answer kept, and each one judged afterwards against what it should have been. So this is
the one load generator for judging (the fault tests and ``benchmarks/soak.py`` share it).

A ``Probe`` is one kind of request: a token, the tool it calls, the status a healthy server
answers (200, 401 or 403) and, for a 200, the subject it must name. ``VerdictLoad`` runs a few
client threads, each sending one probe after another from the current pool (``use``) as fast
as answers come, on a new connection each (so either gunicorn worker may answer), and keeps
an ``Answer`` per request: status (0 when no HTTP answer came), send and answer times, the
worker that answered. ``judge`` then counts them against fault windows: inside a window
(overlapping it in time) a probe that needs Clerk may also answer 503; outside, only its own
status is right. A 200 for a probe that expects a refusal is a false accept, a 401 or 403
for a good token a false reject, and any 5xx but a 503 in a window is wrong too.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from example_app import WORKER_PID_HEADER

PROTOCOL_VERSION = "2025-11-25"
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": PROTOCOL_VERSION,
    "Connection": "close",
}


@dataclass(frozen=True)
class Probe:
    """One kind of request in the mix."""

    kind: str
    token: str = field(repr=False)
    #: What a healthy server answers: 200, 401 (bad token) or 403 (insufficient scope).
    expect: int
    #: For a 200: the subject the whoami result must name (None: not checked).
    subject: str | None = None
    tool: str = "whoami"
    arguments: dict[str, Any] = field(default_factory=dict)
    #: Whether the decision needs Clerk (False: refused by local checks, even with Clerk down).
    needs_clerk: bool = True
    #: First used while Clerk is faulty: nothing cached, so inside a window it must be a 503.
    cold: bool = False
    #: Other statuses that are right at any time (a JWT naming an invented key may wait for
    #: the next JWKS fetch: 503).
    also: frozenset[int] = frozenset()

    def body(self) -> str:
        return json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": self.tool, "arguments": self.arguments},
            }
        )


@dataclass(frozen=True)
class Answer:
    probe: Probe
    #: HTTP status; 0 when no answer came (connection refused or reset, timeout).
    status: int
    sent: float
    done: float
    worker: str
    #: For a 200: the subject the result named; else a short reason (never the token).
    detail: str


@dataclass(frozen=True)
class Window:
    """A span of time (``time.monotonic``) in which Clerk may be unreachable for some probes."""

    start: float
    end: float
    #: Which probes may answer 503 in it (default: every probe that needs Clerk).
    applies: Callable[[Probe], bool] = lambda probe: probe.needs_clerk
    #: When the fault itself ended, if ``end`` adds a grace after it (work begun during the
    #: fault finishing): only answers within ``[start, healed]`` must show the fault.
    healed: float | None = None

    def overlaps(self, answer: Answer) -> bool:
        return answer.sent < self.end and answer.done > self.start

    def contains(self, answer: Answer) -> bool:
        end = self.end if self.healed is None else self.healed
        return answer.sent >= self.start and answer.done <= end


class VerdictLoad:
    """``threads`` closed-loop clients sending the probes of the current pool, round robin."""

    def __init__(self, mcp_url: str, *, threads: int = 3, timeout: float = 10.0) -> None:
        self.mcp_url = mcp_url
        self.threads = threads
        self.timeout = timeout
        self._lock = threading.Condition()
        self._pool: Sequence[Probe] = ()
        self._cursor = itertools.count()
        self._answers: list[Answer] = []
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._limit: int | None = None

    def use(self, probes: Sequence[Probe]) -> None:
        """Send these probes from now on (round robin over all client threads)."""
        if not probes:
            raise ValueError("a pool needs at least one probe")
        with self._lock:
            self._pool = list(probes)

    def start(self, limit: int | None = None) -> VerdictLoad:
        """Start the clients (``use`` a pool first); with ``limit``, they stop once that many
        requests were sent."""
        if not self._pool:
            raise ValueError("use() a pool of probes before start()")
        self._limit = limit
        for _ in range(self.threads):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        for thread in self._workers:
            thread.join(self.timeout + 5)
        stuck = [t for t in self._workers if t.is_alive()]
        if stuck:
            raise AssertionError(f"{len(stuck)} load client(s) still waiting for an answer")
        return self.answers

    def join(self, timeout: float) -> list[Answer]:
        """Wait for a ``limit``-bounded run to finish; its answers."""
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.stop()

    @property
    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    def wait_for(
        self, count: int, timeout: float, where: Callable[[Answer], bool] = lambda a: True
    ) -> None:
        """Block until ``count`` more answers matching ``where`` have come (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = len(self._answers)
            got = 0
            while got < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"only {got} of {count} answers within {timeout:.0f} s; "
                        f"load so far: {tally(self._answers)}"
                    )
                self._lock.wait(remaining)
                got += sum(1 for a in self._answers[seen:] if where(a))
                seen = len(self._answers)

    def _next(self) -> Probe | None:
        with self._lock:
            n = next(self._cursor)
            if self._limit is not None and n >= self._limit:
                return None
            pool = self._pool
            return pool[n % len(pool)] if pool else None

    def _client(self) -> None:
        with requests.Session() as session:
            session.headers.update(HEADERS)
            while not self._stop.is_set():
                probe = self._next()
                if probe is None:
                    return
                answer = send(session, self.mcp_url, probe, self.timeout)
                with self._lock:
                    self._answers.append(answer)
                    self._lock.notify_all()


def send(session: requests.Session, url: str, probe: Probe, timeout: float) -> Answer:
    """One request; never raises for the server's sake (no answer is status 0)."""
    sent = time.monotonic()
    try:
        response = session.post(
            url,
            data=probe.body(),
            headers={"Authorization": f"Bearer {probe.token}"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        return Answer(probe, 0, sent, time.monotonic(), "", type(exc).__name__)
    done = time.monotonic()
    worker = response.headers.get(WORKER_PID_HEADER, "")
    return Answer(probe, response.status_code, sent, done, worker, _detail(response))


def _detail(response: requests.Response) -> str:
    if response.status_code != 200:
        challenge = response.headers.get("WWW-Authenticate", "")
        return f"{challenge[:120]} {response.text[:120]!r}"
    try:
        result = response.json()["result"]
        if result.get("isError"):
            return f"tool error: {response.text[:200]!r}"
        subject = result["structuredContent"]["subject"]
    except (ValueError, KeyError, TypeError):
        return f"not a tool result: {response.text[:200]!r}"
    return str(subject)


# -- judging ------------------------------------------------------------------------------


@dataclass
class Verdicts:
    """The answers of a run, counted."""

    by_status: Counter[int] = field(default_factory=Counter)
    wrong: list[Answer] = field(default_factory=list)
    #: Cold probes answered entirely inside a window: by status (a 200 means no fault bit).
    cold_inside: Counter[int] = field(default_factory=Counter)
    #: Answers that came in no window, by probe kind and status.
    outside: Counter[tuple[str, int]] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(self.by_status.values())

    def line(self, name: str) -> str:
        statuses = " ".join(
            f"{'none' if s == 0 else s}={n}" for s, n in sorted(self.by_status.items())
        )
        cold = " ".join(f"{s}={n}" for s, n in sorted(self.cold_inside.items())) or "-"
        return (
            f"FIGURES {name}: sent={self.sent} answers {statuses} wrong={len(self.wrong)}"
            f" (cold tokens inside the fault: {cold})"
        )

    #: When the first answer judged was sent (``time.monotonic``), for readable examples.
    origin: float = 0.0

    def examples(self) -> str:
        return "\n".join(
            f"  {a.probe.kind} expected {a.probe.expect} got {a.status}, sent at "
            f"+{a.sent - self.origin:.2f} s, answered in {a.done - a.sent:.2f} s by "
            f"{a.worker or '-'} ({a.detail})"
            for a in self.wrong[:8]
        )


def allowed(answer: Answer, windows: Sequence[Window]) -> set[int]:
    """The statuses that are right for ``answer``."""
    right = {answer.probe.expect, *answer.probe.also}
    if any(w.overlaps(answer) and w.applies(answer.probe) for w in windows):
        right.add(503)
    return right


def judge(
    answers: Sequence[Answer],
    windows: Sequence[Window] = (),
    *,
    tolerate: Callable[[Answer], bool] = lambda a: False,
) -> Verdicts:
    """Count ``answers``; ``tolerate`` names failures a scenario expects (a killed worker's
    requests in flight), which are counted but not wrong."""
    verdicts = Verdicts(origin=min((a.sent for a in answers), default=0.0))
    for answer in answers:
        verdicts.by_status[answer.status] += 1
        inside = [w for w in windows if w.overlaps(answer)]
        if not inside:
            verdicts.outside[(answer.probe.kind, answer.status)] += 1
        if answer.probe.cold and any(w.contains(answer) for w in windows):
            verdicts.cold_inside[answer.status] += 1
        right = answer.status in allowed(answer, windows)
        if right and answer.status == 200 and answer.probe.subject is not None:
            right = answer.detail == answer.probe.subject
        if not right and not tolerate(answer):
            verdicts.wrong.append(answer)
    return verdicts


def tally(answers: Sequence[Answer]) -> str:
    counts = Counter(a.status for a in answers)
    return " ".join(f"{s}={n}" for s, n in sorted(counts.items()))
