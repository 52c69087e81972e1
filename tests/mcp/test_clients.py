"""Client registry: RFC 7591 registration, lookup and renewal, CIMD clients, the record."""

from __future__ import annotations

import pytest

from flask_clerk_mcp.mcp.cimd import CIMDError, CIMDFetcher
from flask_clerk_mcp.mcp.client_metadata import ClientRecord
from flask_clerk_mcp.mcp.clients import DCR_TTL, ClientRegistry, registration_response
from flask_clerk_mcp.mcp.oauth_errors import OAuthError
from flask_clerk_mcp.mcp.redirects import RedirectRules, RedirectURIError
from flask_clerk_mcp.store import StoreError

REQUEST = {
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "client_name": "Claude Code",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_post",
    "scope": "openid email profile",
    "application_type": "native",
    "software_id": "ignored",
    "jwks": {"keys": []},
}


@pytest.fixture
def registry(store, clock):
    return ClientRegistry(store, rules=RedirectRules(), clock=clock)


def register(registry, **fields):
    body = {**REQUEST, **fields}
    return registry.register({k: v for k, v in body.items() if v is not None})


# -- registration -----------------------------------------------------------------------------


def test_register_answers_a_public_client(registry, clock):
    record, body = register(registry)
    assert body == {
        "client_id": record.client_id,
        "client_id_issued_at": int(clock.now),
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "client_name": "Claude Code",
        "scope": "openid email profile",
        "application_type": "native",
    }
    assert "client_secret" not in body
    assert record.client_id.startswith("mcp_") and len(record.client_id) == 36
    assert registry.get(record.client_id) == record


def test_client_ids_are_random(registry):
    ids = {register(registry)[0].client_id for _ in range(50)}
    assert len(ids) == 50


def test_minimal_request_gets_defaults(registry):
    record, body = registry.register({"redirect_uris": ["http://localhost:9/cb"]})
    assert record.grant_types == ("authorization_code",)
    assert record.response_types == ("code",)
    assert "client_name" not in body and "scope" not in body


def test_duplicate_redirect_uris_collapse(registry):
    record, _ = register(registry, redirect_uris=["http://localhost:1/cb", "http://localhost:1/cb"])
    assert record.redirect_uris == ("http://localhost:1/cb",)


def test_disallowed_redirect_uris_are_left_out_when_an_allowed_one_remains(registry):
    # VS Code registers its loopback URIs beside https://vscode.dev/redirect (RFC 7591 §2:
    # the server may replace requested values); the answer names what was registered.
    record, body = register(
        registry,
        redirect_uris=[
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "https://insiders.vscode.dev/redirect",
        ],
    )
    assert record.redirect_uris == ("http://127.0.0.1:33418/",)
    assert body["redirect_uris"] == ["http://127.0.0.1:33418/"]


@pytest.mark.parametrize(
    ("uris", "why"),
    [
        (None, "redirect_uris"),
        ([], "redirect_uris"),
        ("http://localhost:1/cb", "redirect_uris"),
        (["http://localhost:1/cb"] * 21, "at most 20"),
        (["javascript:alert(1)"], "javascript"),
        (["data:text/html,x"], "data"),
        (["file:///etc/passwd"], "file"),
        (["http://user@localhost:1/cb"], "userinfo"),
        (["http://localhost:1/cb#frag"], "fragment"),
        (["http://localhost:1/a/%2E%2E/cb"], "segments"),
        (["https://evil.example/cb"], "not allowed"),  # default policy: loopback only
        (["https://evil.example/cb", "https://vscode.dev/redirect"], "not allowed"),
        (["http://localhost:1/cb", "javascript:alert(1)"], "javascript"),  # unsafe: all refused
        ([42], "string"),
    ],
)
def test_bad_redirect_uris(registry, store, uris, why):
    with pytest.raises(RedirectURIError, match=why) as info:
        register(registry, redirect_uris=uris)
    assert info.value.error == "invalid_redirect_uri"
    assert info.value.status == 400
    assert len(store) == 0


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"grant_types": ["implicit"]}, "not supported"),
        ({"grant_types": ["authorization_code", "client_credentials"]}, "not supported"),
        ({"grant_types": ["refresh_token"]}, "include authorization_code"),
        ({"grant_types": "authorization_code"}, "list"),
        ({"grant_types": []}, "list"),
        ({"response_types": ["token"]}, "response_types"),
        ({"response_types": ["code", "id_token"]}, "response_types"),
        ({"client_name": "x" * 101}, "100"),
        ({"client_name": ""}, "non-empty"),
        ({"client_name": 7}, "non-empty"),
        ({"client_name": "Claude\u202eedoC"}, "formatting"),
        ({"client_name": "Zero\u200bWidth"}, "formatting"),
        ({"client_name": "line\nbreak"}, "control"),
        ({"scope": "a  b"}, "scope"),
        ({"scope": 'a "b"'}, "scope"),
        ({"scope": ["a"]}, "scope"),
        ({"application_type": "desktop"}, "application_type"),
        ({"client_uri": "javascript:alert(1)"}, "client_uri"),
        ({"logo_uri": "http://evil.example/x.png"}, "logo_uri"),
    ],
)
def test_bad_metadata(registry, store, fields, why):
    with pytest.raises(OAuthError, match=why) as info:
        register(registry, **fields)
    assert info.value.error == "invalid_client_metadata"
    assert len(store) == 0


@pytest.mark.parametrize("body", [None, [], "redirect_uris", 3])
def test_request_must_be_an_object(registry, body):
    with pytest.raises(OAuthError) as info:
        registry.register(body)
    assert info.value.error == "invalid_client_metadata"


def test_registration_honours_configured_patterns(store, clock):
    registry = ClientRegistry(
        store, rules=RedirectRules(["https://app.example.com/oauth/cb"]), clock=clock
    )
    record, _ = register(registry, redirect_uris=["https://app.example.com/oauth/cb"])
    assert record.redirect_uris == ("https://app.example.com/oauth/cb",)
    with pytest.raises(RedirectURIError):
        register(registry, redirect_uris=["http://localhost:1/cb"])


def test_store_failure_on_register_raises(clock):
    class Down:
        def put(self, key, value, ttl):
            raise StoreError("down")

    registry = ClientRegistry(Down(), rules=RedirectRules(), clock=clock)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        register(registry)


# -- lookup, expiry, renewal ------------------------------------------------------------------


@pytest.mark.parametrize(
    "client_id",
    [None, 5, "", "mcp_short", "mcp_" + "a" * 33, "other_" + "a" * 32, "mcp_" + "!" * 32],
)
def test_malformed_ids_are_unknown_without_a_store_read(store, clock, client_id):
    class Spy:
        reads = 0

        def get(self, key):
            self.reads += 1
            return None

    spy = Spy()
    registry = ClientRegistry(spy, rules=RedirectRules(), clock=clock)  # type: ignore[arg-type]
    assert registry.get(client_id) is None
    assert spy.reads == 0


def test_unknown_client_requires_re_registration(registry):
    with pytest.raises(OAuthError) as info:
        registry.require("mcp_" + "a" * 32)
    assert info.value.error == "invalid_client"
    assert info.value.status == 401


def test_record_expires_after_its_ttl_without_use(registry, clock):
    record, _ = register(registry)
    clock.advance(DCR_TTL - 1)
    assert registry.get(record.client_id) == record
    clock.advance(DCR_TTL + 1)
    assert registry.get(record.client_id) is None


def test_use_renews_the_record(registry, clock):
    record, _ = register(registry)
    for _ in range(4):  # 4 x 80 days, far past one TTL, used every 80 days
        clock.advance(80 * 86400)
        assert registry.require(record.client_id) == record


def test_renewal_writes_at_most_once_a_day(store, clock):
    class Counting:
        puts = 0

        def put(self, key, value, ttl):
            self.puts += 1
            store.put(key, value, ttl)

        def get(self, key):
            return store.get(key)

    counting = Counting()
    registry = ClientRegistry(counting, rules=RedirectRules(), clock=clock)  # type: ignore[arg-type]
    record, _ = register(registry)
    for _ in range(10):
        clock.advance(3600)
        registry.get(record.client_id)
    assert counting.puts == 1
    clock.advance(86400)
    registry.get(record.client_id)
    assert counting.puts == 2


def test_failed_renewal_keeps_serving(store, clock):
    registry = ClientRegistry(store, rules=RedirectRules(), clock=clock)
    record, _ = register(registry)

    class ReadOnly:
        def get(self, key):
            return store.get(key)

        def put(self, key, value, ttl):
            raise StoreError("read-only")

    clock.advance(2 * 86400)
    other = ClientRegistry(ReadOnly(), rules=RedirectRules(), clock=clock)  # type: ignore[arg-type]
    assert other.get(record.client_id) == record


def test_store_down_on_lookup_is_not_unknown(clock):
    class Down:
        def get(self, key):
            raise StoreError("down")

    registry = ClientRegistry(Down(), rules=RedirectRules(), clock=clock)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        registry.get("mcp_" + "a" * 32)


@pytest.mark.parametrize(
    "entry",
    [
        "junk",
        {"record": "junk"},
        {"record": {"v": 2}},
        {"record": {"v": 1, "client_id": "mcp_" + "b" * 32, "kind": "dcr"}},
    ],
)
def test_garbage_entries_are_unknown(registry, store, entry):
    client_id = "mcp_" + "a" * 32
    store.put("mcp:client:" + client_id, entry, 60)
    assert registry.get(client_id) is None


def test_delete(registry):
    record, _ = register(registry)
    registry.delete(record.client_id)
    assert registry.get(record.client_id) is None


# -- CIMD clients -----------------------------------------------------------------------------


def test_cimd_client_through_the_fetcher(server, loopback_session, store, clock, trust_test_ca):
    url = server.url("/client.json")
    server.document(
        "/client.json", {"client_id": url, "redirect_uris": ["https://app.example.com/cb"]}
    )
    cimd = CIMDFetcher(loopback_session, cache=store, clock=clock)
    registry = ClientRegistry(store, rules=RedirectRules(), cimd=cimd, clock=clock)
    record = registry.require(url)
    assert record.kind == "cimd"
    # the DCR allow-list does not apply to CIMD documents: their origin vouches for them
    assert record.redirect_uris == ("https://app.example.com/cb",)


def test_cimd_errors_pass_through(server, loopback_session, store, clock, trust_test_ca):
    cimd = CIMDFetcher(loopback_session, cache=store, clock=clock)
    registry = ClientRegistry(store, rules=RedirectRules(), cimd=cimd, clock=clock)
    with pytest.raises(CIMDError, match="HTTP 404"):
        registry.get(server.url("/missing.json"))


def test_cimd_off_means_url_ids_are_unknown(registry):
    assert registry.get("https://app.example.com/client.json") is None
    with pytest.raises(OAuthError, match="unknown"):
        registry.require("https://app.example.com/client.json")


# -- the record -------------------------------------------------------------------------------


def test_record_json_round_trip(registry):
    record, _ = register(registry, client_uri="https://claude.ai", logo_uri="https://claude.ai/l")
    assert ClientRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "data", [None, [], {"v": 1}, {"v": 1, "kind": "other"}, {"v": "1"}, {"v": 1, "kind": "dcr"}]
)
def test_record_from_garbage(data):
    assert ClientRecord.from_json(data) is None


def make(*uris):
    return ClientRecord(client_id="mcp_x", kind="dcr", redirect_uris=uris)


def test_match_redirect_uri():
    rules = RedirectRules()
    record = make("http://127.0.0.1:5000/cb", "http://localhost/other")
    assert record.match_redirect_uri("http://127.0.0.1:5000/cb", rules) == (
        "http://127.0.0.1:5000/cb"
    )
    assert record.match_redirect_uri("http://127.0.0.1:6123/cb", rules) == (
        "http://127.0.0.1:6123/cb"
    )
    for bad in ["http://127.0.0.1:5000/cb2", "http://localhost:5000/cb", "javascript:x"]:
        with pytest.raises(RedirectURIError) as info:
            record.match_redirect_uri(bad, rules)
        assert info.value.error == "invalid_request"
    with pytest.raises(RedirectURIError, match="required"):
        record.match_redirect_uri(None, rules)
    assert make("http://localhost:1/cb").match_redirect_uri(None, rules) == "http://localhost:1/cb"


def test_match_rechecks_current_rules():
    record = make("https://app.example.com/cb")
    assert record.match_redirect_uri("https://app.example.com/cb", RedirectRules.web())
    with pytest.raises(RedirectURIError, match="not allowed"):
        record.match_redirect_uri("https://app.example.com/cb", RedirectRules())


def test_consent_helpers():
    record = make("http://127.0.0.1:1/a", "http://127.0.0.1:2/b", "https://App.example.com/c")
    assert record.redirect_hosts == ("127.0.0.1", "app.example.com")
    assert not record.loopback_only
    assert make("http://localhost:1/a", "http://[::1]:2/b").loopback_only
    assert record.allows_grant("authorization_code")
    assert not record.allows_grant("refresh_token")


def test_registration_response_of_a_cimd_record_has_no_secret():
    body = registration_response(make("http://localhost:1/a"))
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
