"""The redis-server helper fails loudly (never skips) when the server is not installed."""

from __future__ import annotations

import pytest

from tests.support import redis_server


def test_missing_redis_server_is_an_error_that_says_run_make_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    with pytest.raises(redis_server.RedisServerError, match="make test"):
        with redis_server.redis_server():
            pass  # pragma: no cover - never reached


@pytest.mark.integration
def test_the_server_answers_and_is_gone_afterwards() -> None:
    with redis_server.redis_server() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert url == f"redis://127.0.0.1:{port}/0"
        assert redis_server._answers_ping(port)
    assert not redis_server._answers_ping(port)
