"""The fault tests' deployment (``tests/support/fault_deployment.py``), one for the session,
and the known-bad tokens every scenario mixes in."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.support.fault_deployment import Deployment, running_deployment
from tests.support.verdict_load import Probe


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with running_deployment(tmp_path_factory.mktemp("faults")) as running:
        yield running


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
