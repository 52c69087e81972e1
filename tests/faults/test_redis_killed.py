"""Redis (the verification cache and the store) SIGKILLed mid-run, then started again, empty.

Verification needs no Redis: with the cache gone it asks Clerk every time, so every answer of
the steady load stays exactly right throughout (no 503 either: Clerk is fine). Logins need the
store: one begun before the kill and continued during the outage gets a clean refusal (a 503
page, never a 500 and never a redirect carrying a code); one begun before and finished after
the restart meets an empty store and is refused cleanly too (400); a new login after the
restart succeeds, its client registered again (dynamic registrations lived in the store).
"""

from __future__ import annotations

import pytest

from tests.support.fault_deployment import Deployment
from tests.support.headless_browser import same_endpoint
from tests.support.proxy_app import ProxyOAuthClient
from tests.support.verdict_load import VerdictLoad, judge

from .flows import Login
from .mix import PHASE, assert_every_worker_answers, warm_mix

pytestmark = pytest.mark.integration


def assert_clean_refusal(login: Login, statuses: tuple[int, ...]) -> int:
    """Our callback refuses the login: one of ``statuses``, a page, no code for the client."""
    answer = login.browser.get(login.callback)
    location = answer.headers.get("Location", "")
    assert not same_endpoint(location, login.client.redirect_uri), location
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    return answer.status_code


def test_redis_killed_mid_run_and_restarted(deployment: Deployment) -> None:
    client = ProxyOAuthClient(deployment.app.url).register()
    during = Login(client).to_callback()
    across = Login(client).to_callback()
    load = VerdictLoad(deployment.mcp_url, threads=3)
    load.use(warm_mix(deployment))
    load.start()
    try:
        load.wait_for(PHASE, timeout=30)
        deployment.redis.kill()
        load.wait_for(PHASE, timeout=60)
        outage_status = assert_clean_refusal(during, (503,))
        new_during = ProxyOAuthClient(deployment.app.url)
        registration = new_during.register_answer()
        assert registration.status_code == 503, registration.text
        deployment.redis.start()
        load.wait_for(PHASE, timeout=60)
        restart_status = assert_clean_refusal(across, (400,))
        fresh = Login(ProxyOAuthClient(deployment.app.url).register()).finish()
        assert fresh.status_code == 200, fresh.text
        load.wait_for(PHASE, timeout=30)
    finally:
        if deployment.redis.process is not None and deployment.redis.process.poll() is not None:
            deployment.redis.start()
        answers = load.stop()
    verdicts = judge(answers)
    print(
        verdicts.line("redis-killed-and-restarted")
        + f" (login during the outage: {outage_status}; across the restart: {restart_status};"
        " new login after: 200)"
    )
    assert not verdicts.wrong, f"{verdicts.line('redis')}\n{verdicts.examples()}"
    assert_every_worker_answers(deployment, answers, 0.0)
