"""The test CIMD host itself: https on loopback, trusted only through its test CA."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.cimd_host import CIMDHost

pytestmark = pytest.mark.integration


def test_serves_documents_over_https_to_clients_that_trust_its_ca(tmp_path: Path) -> None:
    with CIMDHost(tmp_path) as host:
        url = host.publish("/clients/a.json", {"client_id": "x"})
        answer = requests.get(url, verify=str(host.ca_bundle), timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json() == {"client_id": "x"}
        assert host.requests_for("/clients/a.json") == 1

        missing = requests.get(host.url("/nothing"), verify=str(host.ca_bundle), timeout=10)
        assert missing.status_code == 404


def test_a_client_without_the_test_ca_refuses_the_certificate(tmp_path: Path) -> None:
    with CIMDHost(tmp_path) as host:
        url = host.publish("/clients/a.json", {})
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url, timeout=10)  # the default bundle does not know the test CA
        assert host.requests_for("/clients/a.json") == 0
