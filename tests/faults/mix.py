"""What every fault scenario sends and checks: the warm mix of good and known-bad tokens, and
that every gunicorn worker still answers afterwards."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence

from tests.support.fault_deployment import READ_ONLY, Deployment, good
from tests.support.verdict_load import Answer, Probe, VerdictLoad

#: Answers in each phase before moving on.
PHASE = 45
#: Seconds every worker has to answer once a scenario is over (a new worker must boot).
WORKER_WAIT = 20.0


def warm_mix(deployment: Deployment) -> list[Probe]:
    """Good tokens of both formats and both users, a token short of ``notes:write`` calling
    ``add_note`` (403), and the known-bad ones."""
    opaque = deployment.mint(2, token_format="opaque")
    jwts = deployment.mint(2, user="bob")
    read_only = deployment.mint(1, scopes=READ_ONLY)[0]
    return [
        *(good(t) for t in opaque),
        *(good(t, "bob") for t in jwts),
        Probe("scope", read_only, 403, tool="add_note", arguments={"text": "x"}),
        *bad_probes(deployment),
    ]


def assert_every_worker_answers(
    deployment: Deployment, answers: Sequence[Answer], since: float
) -> None:
    """No worker is stuck: each of gunicorn's workers answered since ``since``."""
    workers = {str(pid) for pid in deployment.workers()}
    answered = {a.worker for a in answers if a.sent > since and a.status}
    missing = workers - answered
    probe = next(a.probe for a in answers if a.probe.expect == 200 and not a.probe.cold)
    deadline = time.monotonic() + WORKER_WAIT
    while missing and time.monotonic() < deadline:
        # Few answers since, or a worker still booting: more tries at the accept race.
        load = VerdictLoad(deployment.mcp_url, threads=2)
        load.use([probe])
        load.start(limit=20)
        missing -= {a.worker for a in load.join(timeout=30) if a.status == 200}
        time.sleep(0.2)
    assert not missing, f"workers {missing} answered nothing within {WORKER_WAIT:.0f} s"


def bad_probes(deployment: Deployment) -> list[Probe]:
    """Known-bad tokens: an opaque one Clerk never issued, a revoked one, a JWT whose signature
    was tampered with (refused by the local checks: it never needs Clerk), and one naming a
    key Clerk never had."""
    revoked_opaque = deployment.mint(1, token_format="opaque")[0]
    deployment.revoke(revoked_opaque)
    real_jwt = deployment.mint(1)[0]
    head, payload, signature = real_jwt.split(".")
    tail = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBB"
    forged = f"{head}.{payload}.{signature[:-6]}{tail}"
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["kid"] = "ins_invented_key"
    other_kid = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return [
        Probe("bad", "oat_" + "0" * 32, 401),
        Probe("bad", revoked_opaque, 401),
        Probe("bad", forged, 401, needs_clerk=False),
        # An unknown kid makes each worker fetch the JWKS again (at most once per refetch
        # interval): refused, or 503 until the next fetch may show whether Clerk has the key.
        Probe("bad", f"{other_kid}.{payload}.{signature}", 401, also=frozenset({503})),
    ]
