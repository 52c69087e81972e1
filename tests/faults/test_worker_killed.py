"""One gunicorn worker SIGKILLed mid-run: nothing lost but what it was answering at that moment.

Logins through the proxy are stopped at both points where their state lives only in the store
(our authorize transaction, before our callback; our code, before ``/oauth/token``), then a
worker dies: every login completes afterwards, on whichever worker is left or new. The steady
load around it loses only requests in flight at the kill (no answer: the connection died with
the worker), at most one per client thread, and every other answer is the right one.
"""

from __future__ import annotations

import time

import pytest

from tests.support.fault_deployment import SUBJECTS, Deployment
from tests.support.proxy_app import ProxyOAuthClient
from tests.support.verdict_load import Answer, VerdictLoad, judge

from .flows import Login
from .mix import PHASE, assert_every_worker_answers, warm_mix

pytestmark = pytest.mark.integration

LOAD_THREADS = 3


def test_a_worker_killed_mid_run_loses_no_login(deployment: Deployment) -> None:
    client = ProxyOAuthClient(deployment.app.url).register()
    before_callback = [Login(client).to_callback() for _ in range(3)]
    before_token = [Login(client).to_code() for _ in range(3)]
    load = VerdictLoad(deployment.mcp_url, threads=LOAD_THREADS)
    load.use(warm_mix(deployment))
    load.start()
    try:
        load.wait_for(PHASE, timeout=30)
        killed_at = time.monotonic()
        victim = deployment.kill_worker()
        load.wait_for(PHASE, timeout=30)
        deployment.wait_for_workers(2)
        finished = [login.finish() for login in before_callback + before_token]
        load.wait_for(PHASE, timeout=30)
    finally:
        answers = load.stop()

    def in_flight_at_the_kill(answer: Answer) -> bool:
        return answer.status == 0 and answer.sent <= killed_at + 0.05

    verdicts = judge(answers, tolerate=in_flight_at_the_kill)
    lost = verdicts.by_status[0]
    print(verdicts.line(f"worker-sigkill (pid {victim}; {lost} in flight lost)"))
    assert not verdicts.wrong, f"{verdicts.line('worker-sigkill')}\n{verdicts.examples()}"
    assert lost <= LOAD_THREADS
    for answer in finished:
        assert answer.status_code == 200, answer.text
        whoami = client.call_whoami(answer.json()["access_token"])
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["result"]["structuredContent"]["subject"] == SUBJECTS["alice"]
    assert victim not in deployment.workers()
    assert_every_worker_answers(deployment, answers, killed_at + 1)
