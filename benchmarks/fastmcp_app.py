"""FastMCP's side of ``versus_fastmcp.py``: a minimal MCP server guarded by ``ClerkTokenVerifier``.

This module runs only inside the throwaway virtualenv ``versus_fastmcp.py`` creates
(``benchmarks/.venv-fastmcp``, with ``fastmcp`` and ``uvicorn`` from PyPI), under uvicorn:
``uvicorn benchmarks.fastmcp_app:app``. It imports nothing from this repository, so FastMCP
never becomes a dependency of ours. Configured from the environment:

- ``BENCH_CLERK_ISSUER``: the emulator's URL, ``http://127.0.0.1:PORT``;
- ``BENCH_CLERK_CLIENT_ID`` / ``BENCH_CLERK_CLIENT_SECRET``: the client the tokens belong to,
  used by FastMCP for introspection (HTTP Basic) and as the expected audience, as in a real
  deployment;
- ``BENCH_FASTMCP_POOLED``: ``1`` to hand the verifier one shared ``httpx2.AsyncClient`` (its
  documented ``http_client`` option); otherwise its default, a new client per verification.

The one shim, and why it is fair: ``ClerkTokenVerifier`` builds its two endpoint URLs as
``https://{domain}/oauth/token_info`` and ``https://{domain}/oauth/userinfo``, with no way to
choose the scheme, and the emulator speaks plain HTTP on loopback. After construction the two
URLs get ``http://`` instead of ``https://``; host, port, path, request bodies, headers, client
authentication and every check of ``verify_token`` are FastMCP's own, untouched. Our verifier
talks plain HTTP to the same emulator, so neither side pays TLS: the shim removes a cost from
neither side that the other still pays.

The tool answers like the example app's ``whoami`` (same fields), so both servers send answers
of comparable size, and the load generator checks the caller's own identity in each.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx2
from fastmcp import FastMCP
from fastmcp.server.auth.providers.clerk import ClerkTokenVerifier
from fastmcp.server.dependencies import get_access_token

#: What ``ClerkProvider`` requires by default; the example app asks for these and ``email``.
REQUIRED_SCOPES = ["openid", "email", "profile"]


def plain_http(verifier: ClerkTokenVerifier, issuer: str) -> ClerkTokenVerifier:
    """The shim: FastMCP's two Clerk URLs with ``http://`` (see the module docstring)."""
    expected = f"https://{urlsplit(issuer).netloc}/oauth/"
    for attribute in ("_introspection_url", "_userinfo_url"):
        url = getattr(verifier, attribute, None)
        if not isinstance(url, str) or not url.startswith(expected):
            # A FastMCP that builds its URLs differently must fail here, not measure something else.
            raise RuntimeError(f"ClerkTokenVerifier.{attribute} is {url!r}, not under {expected}")
        setattr(verifier, attribute, "http://" + url.removeprefix("https://"))
    return verifier


def build_verifier() -> ClerkTokenVerifier:
    issuer = os.environ["BENCH_CLERK_ISSUER"].rstrip("/")
    pooled = os.environ.get("BENCH_FASTMCP_POOLED") == "1"
    verifier = ClerkTokenVerifier(
        domain=urlsplit(issuer).netloc,
        client_id=os.environ["BENCH_CLERK_CLIENT_ID"],
        client_secret=os.environ["BENCH_CLERK_CLIENT_SECRET"],
        required_scopes=REQUIRED_SCOPES,
        http_client=httpx2.AsyncClient(timeout=10) if pooled else None,
    )
    return plain_http(verifier, issuer)


mcp = FastMCP("fastmcp-clerk-bench", auth=build_verifier())


@mcp.tool
def whoami() -> dict[str, object]:
    """Who Clerk says the caller is, from the verified token (the example app's fields)."""
    token = get_access_token()
    if token is None:  # cannot happen behind the auth middleware; say so if it does
        raise RuntimeError("no access token")
    return {
        "subject": token.subject,
        "email": token.claims.get("email"),
        "name": token.claims.get("name"),
        "client_id": token.client_id,
        "scopes": list(token.scopes),
    }


app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
