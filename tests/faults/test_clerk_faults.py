"""Clerk misbehaving mid-run, under a steady load of good and bad tokens, then healthy again.

Each scenario: a warm-up with warm tokens (good ones, opaque and JWT, now cached) and known-bad
ones; then the fault, while fresh tokens (cold: never seen before) join the mix; then Clerk
heals. Judged per answer (``tests/support/verdict_load.py``): during the fault a token that
needs Clerk may answer 503 instead of its own status, and nothing else; a cold good token
answered entirely inside the fault must be a 503 (it cannot have been vouched for); outside the
fault every answer is exactly its own: 200 naming its user, 401, or 403. After the fault every
cold token is served, and every worker answers (none is stuck on a hung call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pytest

from flask_clerk_mcp.jwt_access import JWKS_REFETCH_INTERVAL
from tests.support.fault_deployment import CLERK_TIMEOUT, Deployment, good
from tests.support.verdict_load import Answer, Probe, VerdictLoad, Verdicts, Window, judge

from .mix import PHASE, assert_every_worker_answers, warm_mix

pytestmark = pytest.mark.integration

#: Cold answers inside the fault before healing it.
COLD_INSIDE = 8
CLERK_ENDPOINTS = ("token_info", "userinfo", "jwks")
#: Seconds a verification begun just before healing may still run (connect and read timeouts):
#: requests for the same token meanwhile share its outcome (one flight), a 503.
FLIGHT = 2 * CLERK_TIMEOUT + 0.5


def run_fault(
    deployment: Deployment,
    name: str,
    *,
    breaks: Callable[[], None],
    cold: Sequence[Probe] | Callable[[], Sequence[Probe]],
    recovery: float = FLIGHT,
    windows_for: Callable[[float, float, float], list[Window]] | None = None,
) -> Verdicts:
    """Warm up, break Clerk (``breaks``), add the fresh probes ``cold`` (or make them once
    broken), heal; judged with the fault's window (extended by ``recovery`` seconds after
    healing), or the windows ``windows_for(began, healing, after)`` gives."""
    mix = warm_mix(deployment)
    workers = deployment.workers()
    cold_probes = list(cold) if not callable(cold) else []
    fresh: set[str] = set()
    load = VerdictLoad(deployment.mcp_url, threads=3)
    load.use(mix)
    load.start()
    try:
        load.wait_for(PHASE, timeout=30)
        began = time.monotonic()
        breaks()
        if callable(cold):
            cold_probes = list(cold())
        fresh.update(p.token for p in cold_probes)
        load.use(mix + cold_probes * 2)
        load.wait_for(COLD_INSIDE, timeout=60, where=lambda a: a.probe.token in fresh)
        load.wait_for(PHASE // 2, timeout=60)
        # Answers done before healing began must show the fault; one done while heal() is
        # still returning may already have reached a healed Clerk (a right 200).
        healing = time.monotonic()
        deployment.heal()
        after = time.monotonic() + recovery

        def recovered(a: Answer) -> bool:
            return a.probe.token in fresh and a.sent > after and a.status == 200

        load.wait_for(2 * len(cold_probes), timeout=30 + recovery, where=recovered)
        load.wait_for(PHASE, timeout=30)
    finally:
        deployment.heal()
        answers = load.stop()
    windows = (
        windows_for(began, healing, after)
        if windows_for is not None
        else [Window(began, after, healed=healing)]
    )
    verdicts = judge(answers, windows)
    print(verdicts.line(name))
    spans = ", ".join(
        f"+{w.start - verdicts.origin:.2f}..+{w.end - verdicts.origin:.2f} s" for w in windows
    )
    assert not verdicts.wrong, f"{verdicts.line(name)} windows {spans}\n{verdicts.examples()}"
    served_after = {a.probe.token for a in answers if a.sent > after and a.status == 200}
    assert fresh <= served_after, "a fresh token was not served after the fault"
    assert_every_worker_answers(deployment, answers, after)
    assert deployment.workers() == workers, "a worker was replaced (stuck past gunicorn's timeout?)"
    return verdicts


def cold_tokens(deployment: Deployment) -> list[Probe]:
    return [
        *(good(t, cold=True, kind="cold") for t in deployment.mint(3, token_format="opaque")),
        *(good(t, cold=True, kind="cold") for t in deployment.mint(3)),
    ]


def assert_fault_bit(verdicts: Verdicts) -> None:
    assert verdicts.cold_inside[503] >= COLD_INSIDE // 2, verdicts.line("")
    assert verdicts.cold_inside[200] == 0, verdicts.line("")


BODY_FAULTS = {
    "clerk-5xx": ("500", {}),
    "clerk-html": ("html", {}),
    "clerk-truncated-json": ("truncated", {}),
    "clerk-json-not-an-object": ("not_object", {}),
    "clerk-slow-past-timeout": ("hang", {"hang_seconds": 2.0}),
}


@pytest.mark.parametrize("name", list(BODY_FAULTS))
def test_clerk_answering_badly(deployment: Deployment, name: str) -> None:
    mode, extra = BODY_FAULTS[name]
    verdicts = run_fault(
        deployment,
        name,
        breaks=lambda: deployment.fault(CLERK_ENDPOINTS, mode, **extra),
        cold=cold_tokens(deployment),
    )
    assert_fault_bit(verdicts)


def test_clerk_down_connection_refused(deployment: Deployment) -> None:
    verdicts = run_fault(
        deployment,
        "clerk-down-refused",
        breaks=deployment.gate.close,
        cold=cold_tokens(deployment),
    )
    assert_fault_bit(verdicts)


def test_jwks_rotated_mid_run(deployment: Deployment) -> None:
    """Clerk signs with a new key (the old one stays published): tokens of both keys are
    served. A worker that fetched the JWKS moments before cannot fetch it again within the
    refetch interval; until then a token of the new key may wait (503), never be refused."""

    def new_key_tokens() -> list[Probe]:
        return [good(t, kind="new-key") for t in deployment.mint(3)]

    def windows(began: float, healing: float, after: float) -> list[Window]:
        return [Window(began, after, lambda p: p.kind == "new-key")]

    run_fault(
        deployment,
        "jwks-rotated",
        breaks=lambda: deployment.operator("POST", "keys/rotate", {"keep_previous": True}),
        cold=new_key_tokens,
        # Past one refetch interval after the rotation, every worker serves the new key.
        recovery=JWKS_REFETCH_INTERVAL + FLIGHT,
        windows_for=windows,
    )


def test_jwks_gone_while_the_key_rotates(deployment: Deployment) -> None:
    """The JWKS answers 404 and Clerk signs with a key no worker has seen: tokens of the known
    key are served, tokens of the new key wait (503) until the JWKS is back; a tampered JWT is
    refused whatever the JWKS does (401, or 503 while its key cannot be checked)."""

    def breaks() -> None:
        deployment.fault(("jwks",), "gone")
        deployment.operator("POST", "keys/rotate", {"keep_previous": True})

    def new_key_tokens() -> list[Probe]:
        return [good(t, cold=True, kind="new-key") for t in deployment.mint(3)]

    verdicts = run_fault(
        deployment,
        "jwks-gone-and-rotated",
        breaks=breaks,
        cold=new_key_tokens,
        # Workers retry the JWKS once per refetch interval: recovery within one.
        recovery=JWKS_REFETCH_INTERVAL + FLIGHT,
        windows_for=lambda began, healing, after: [
            Window(began, after, lambda p: True, healed=healing)
        ],
    )
    assert_fault_bit(verdicts)
