"""The fault tests' deployment (``tests/support/fault_deployment.py``), one for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fault_deployment import Deployment, running_deployment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with running_deployment(tmp_path_factory.mktemp("faults")) as running:
        yield running
