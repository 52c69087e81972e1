"""The README's usage example works exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import (
    BASE_URL,
    CLIENT_ID,
    DOMAIN,
    SECRET,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def usage_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    pattern = r"<!-- usage-start -->\s*```python\n(.*?)```\s*<!-- usage-end -->"
    block = re.search(pattern, text, re.S)
    assert block, "the README lost its usage example"
    return block.group(1)


def test_usage_snippet_is_short():
    assert len(usage_snippet().strip().splitlines()) <= 15


def test_usage_snippet_runs_as_written(monkeypatch, clerk):
    monkeypatch.setenv("FLASK_CLERK_DOMAIN", DOMAIN)
    monkeypatch.setenv("FLASK_CLERK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("FLASK_CLERK_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("FLASK_CLERK_BASE_URL", BASE_URL)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(usage_snippet(), str(README), "exec"), namespace)  # noqa: S102
    app = namespace["app"]

    client = app.test_client()  # type: ignore[attr-defined]
    assert client.post("/mcp").status_code == 401

    answer_introspection(clerk, active())
    answer_userinfo(clerk)
    response = client.post("/mcp", headers=bearer())
    assert response.status_code == 200
    assert response.get_json() == {"hello": "alice@example.com", "user": "user_alice"}

    clerk.reset()
    answer_introspection(clerk, active(scope="openid profile"))
    assert client.post("/mcp", headers=bearer("oat_no_email")).status_code == 403


def test_the_readme_states_the_clock_leeway_the_verifier_applies():
    """exp/nbf carry leeway for clock skew: the README's verification rules say how much."""
    from flask_clerk_mcp.verifier import LEEWAY

    text = README.read_text(encoding="utf-8")
    rules = text.split("### Verification rules", 1)
    assert len(rules) == 2, "the README lost its verification rules"
    stated = re.search(r"(\d+) seconds of leeway", rules[1])
    assert stated, "the verification rules do not state the exp/nbf leeway"
    assert int(stated.group(1)) == LEEWAY


def wsgi_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- wsgi-start -->\s*```python\n(.*?)```\s*<!-- wsgi-end -->", text, re.S)
    assert block, "the README lost its middleware example"
    return block.group(1)


def test_wsgi_snippet_runs_as_written(monkeypatch, clerk):
    from werkzeug.test import Client

    monkeypatch.setenv("CLERK_DOMAIN", DOMAIN)
    monkeypatch.setenv("CLERK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CLERK_CLIENT_SECRET", SECRET)
    namespace: dict[str, object] = {"__name__": "readme_wsgi"}
    exec(compile(wsgi_snippet(), str(README), "exec"), namespace)  # noqa: S102
    client = Client(namespace["application"])
    assert client.get("/mcp").status_code == 401
    answer_introspection(clerk)
    answer_userinfo(clerk)
    response = client.get("/mcp", headers=bearer())
    assert response.status_code == 200
    assert response.get_data() == b"hello user_alice"
    assert client.get("/.well-known/oauth-protected-resource/mcp").status_code == 200
