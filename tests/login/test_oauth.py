"""The token client against a faked token endpoint: answers that are not token responses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from flask_clerk_mcp.login import oauth
from flask_clerk_mcp.settings import Settings, load_settings
from flask_clerk_mcp.upstream import Upstream

DOMAIN = "example-app-16.clerk.accounts.dev"

#: Nested deeper than the JSON parser can recurse: RecursionError, not ValueError.
DEEP = "[" * 100_000


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        {
            "CLERK_DOMAIN": DOMAIN,
            "CLERK_CLIENT_ID": "client_abc",
            "CLERK_CLIENT_SECRET": "s3cr3t",
            "CLERK_BASE_URL": "https://mcp.example.com",
        }
    )


@pytest.fixture
def clerk() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.mark.parametrize("status", [200, 400])
def test_a_deeply_nested_answer_is_no_verdict_not_a_crash(
    settings: Settings, clerk: responses.RequestsMock, status: int
) -> None:
    clerk.add(
        responses.POST,
        settings.token_endpoint,
        body=DEEP,
        status=status,
        content_type="application/json",
    )
    http = Upstream(settings.client_id, settings.client_secret, settings.timeout)
    if status == 200:
        with pytest.raises(oauth.TokenEndpointUnavailable):
            oauth.refresh(settings, http, refresh_token="rt")
    else:
        # a 400 is a refusal whatever its body says; the unreadable body names no error
        with pytest.raises(oauth.TokenRefused) as refused:
            oauth.refresh(settings, http, refresh_token="rt")
        assert refused.value.error == "invalid_request"
