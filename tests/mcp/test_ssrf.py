"""The SSRF guard: which addresses are refused, and that the check binds the real connection."""

from __future__ import annotations

import pytest
import requests

from flask_clerk_mcp.mcp.ssrf import (
    AddressPolicy,
    BlockedAddress,
    GuardedAdapter,
    guarded_session,
)

from .conftest import FakeDNS

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "non-global",  # carrier-grade NAT
    "169.254.1.1": "link-local",
    "169.254.169.254": "cloud metadata",
    "169.254.170.2": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
    "100.100.100.200": "cloud metadata",
    "168.63.129.16": "cloud metadata",
    "0.0.0.0": "unspecified",  # noqa: S104 - refused, not bound
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "private",
    "255.255.255.255": "private",
    "192.0.2.10": "private",  # documentation
    "198.18.0.1": "private",  # benchmarking
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fe80::1": "link-local",
    "fe80::1%eth0": "scoped",
    "fec0::1": "site-local",
    "2001:db8::1": "private",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "cloud metadata",
    "2002:a00:1::1": "private",  # 6to4 around 10.0.0.1
    "2002:7f00:1::1": "loopback",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe": "cloud metadata",  # NAT64 around 169.254.169.254
    "not-an-ip": "not an IP",
}

ALLOWED = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_refused_addresses(address, why):
    with pytest.raises(BlockedAddress, match=why):
        AddressPolicy().check(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_allowed(address):
    AddressPolicy().check(address)


def test_allow_loopback_lets_loopback_through_and_nothing_else():
    policy = AddressPolicy(allow_loopback=True)
    for address in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "127.0.0.53"]:
        policy.check(address)
    for address in ["10.0.0.1", "169.254.169.254", "192.168.0.1", "fe80::1", "0.0.0.0"]:  # noqa: S104
        with pytest.raises(BlockedAddress):
            policy.check(address)


def test_resolve_refuses_when_any_address_is_bad():
    dns = FakeDNS(
        mixed_test=["93.184.216.34", "10.0.0.1"],
        empty_test=[],
        public_test=["93.184.216.34", "2606:4700:4700::1111", "93.184.216.34"],
    )
    policy = AddressPolicy(resolver=dns)
    with pytest.raises(BlockedAddress, match="private"):
        policy.resolve("mixed.test", 443)
    with pytest.raises(BlockedAddress, match="any address"):
        policy.resolve("empty.test", 443)
    assert policy.resolve("public.test", 443) == ["93.184.216.34", "2606:4700:4700::1111"]


def test_loopback_refused_before_any_connection(server, trust_test_ca, strict_session):
    server.document("/c", {"ok": True})
    for url in [server.url("/c", "localhost"), server.url("/c", "127.0.0.1"), server.url("/c")]:
        with pytest.raises(BlockedAddress, match="loopback"):
            strict_session.get(url, timeout=2)
    assert server.hits == []


def test_connects_to_the_checked_address_with_the_name_for_tls_and_host(
    server, trust_test_ca, loopback_session, dns
):
    server.document("/c", {"ok": True})
    response = loopback_session.get(server.url("/c"), timeout=2)
    assert response.json() == {"ok": True}
    assert server.headers_seen[0]["Host"] == f"cimd.test:{server.port}"
    assert dns.calls == ["cimd.test"]


def test_one_resolution_per_connection_defeats_rebinding(server, trust_test_ca):
    """A resolver that answers loopback once and a private address afterwards (a rebinding
    attack's shape): the fetch must connect to the address it checked, so it succeeds, and
    the name is looked up exactly once. A guard that looked up the name again to connect
    would have gone to 10.0.0.1 (refused) instead."""
    answers = iter([["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["10.0.0.1"])

    calls = []

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return rebinding(host, port)

    server.document("/c", {"ok": True})
    session = guarded_session(AddressPolicy(allow_loopback=True, resolver=counting))
    assert session.get(server.url("/c"), timeout=2).json() == {"ok": True}
    assert calls == ["cimd.test"]
    session.close()
    # a new connection resolves again and gets the private address: refused
    session = guarded_session(AddressPolicy(allow_loopback=True, resolver=counting))
    with pytest.raises(BlockedAddress, match="private"):
        session.get(server.url("/c"), timeout=2)
    session.close()


def test_metadata_address_by_name_is_refused():
    dns = FakeDNS(metadata_test=["169.254.169.254"])
    session = guarded_session(AddressPolicy(allow_loopback=True, resolver=dns))
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        session.get("https://metadata.test/latest/meta-data/", timeout=2)
    session.close()


def test_ip_literal_urls_are_checked_too():
    session = guarded_session(AddressPolicy())
    for url in ["https://169.254.169.254/x", "https://[::1]/x", "https://10.0.0.1/x"]:
        with pytest.raises(BlockedAddress):
            session.get(url, timeout=2)
    session.close()


def test_plain_http_refused(loopback_session, server):
    with pytest.raises(BlockedAddress, match="https"):
        loopback_session.get(f"http://127.0.0.1:{server.port}/c", timeout=2)
    assert server.hits == []


def test_proxies_are_not_used(server, trust_test_ca, loopback_session, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    server.document("/c", {"ok": True})
    assert loopback_session.get(server.url("/c"), timeout=2).json() == {"ok": True}
    adapter = loopback_session.get_adapter(server.url("/c"))
    with pytest.raises(BlockedAddress, match="proxy"):
        adapter.proxy_manager_for("http://127.0.0.1:9")


def test_certificates_are_verified(server, loopback_session, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server.document("/c", {"ok": True})
    with pytest.raises(requests.exceptions.SSLError):
        loopback_session.get(server.url("/c"), timeout=2)
    loopback_session.verify = False  # switching verification off is not possible
    with pytest.raises(requests.exceptions.SSLError):
        loopback_session.get(server.url("/c"), timeout=2)
    assert server.hits == []


def test_certificate_must_name_the_host(server, trust_test_ca, loopback_session, dns):
    dns.names["unnamed.test"] = ["127.0.0.1"]
    server.document("/c", {"ok": True})
    with pytest.raises(requests.exceptions.SSLError):
        loopback_session.get(server.url("/c", "unnamed.test"), timeout=2)


def test_no_cookies_kept(server, trust_test_ca, loopback_session):
    server.document("/set", {"ok": True}, Set_Cookie="tracker=1; Path=/")
    server.document("/next", {"ok": True})
    loopback_session.get(server.url("/set"), timeout=2)
    loopback_session.get(server.url("/next"), timeout=2)
    assert "Cookie" not in server.headers_seen[1]
    assert len(loopback_session.cookies) == 0


def test_both_prefixes_are_guarded():
    session = guarded_session(AddressPolicy())
    assert isinstance(session.get_adapter("https://a.example/"), GuardedAdapter)
    assert isinstance(session.get_adapter("http://a.example/"), GuardedAdapter)
