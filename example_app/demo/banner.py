"""What the demo prints: the banners, and the curl commands in them.

Kept apart from ``run`` (which starts and stops things) so each stays small; the unit tests
check the banner's lines against the landing page and the README.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..tools import NOTES_WRITE

CURL_PROTOCOL_VERSION = "2025-11-25"
#: The shell variable holding the demo's token, in the banner, the landing page and the README.
TOKEN_VARIABLE = "TOKEN"  # noqa: S105 - a variable name, not a secret
#: The endpoint's scopes and add_note's own (a custom scope: the emulator is started with it).
SCOPES = ("openid", "email", "profile", NOTES_WRITE)
DEMO_USER = "alice"


TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def mcp_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": CURL_PROTOCOL_VERSION,
    }


def curl_command(url: str, message: Mapping[str, Any]) -> str:
    """A copy-paste ``curl`` posting ``message`` to ``url``, one option per line.

    The bearer token is ``$TOKEN`` (double-quoted, so the shell expands it), set by the
    ``export`` line of the banner: the landing page's and the README's curls use it too.
    """
    parts = [f"curl -sS {shlex.quote(url)}"]
    for name, value in mcp_headers(f"${TOKEN_VARIABLE}").items():
        header = f"{name}: {value}"
        parts.append(f'-H "{header}"' if name == "Authorization" else f"-H {shlex.quote(header)}")
    parts.append(f"-d {shlex.quote(json.dumps(message, separators=(',', ':')))}")
    return " \\\n    ".join(parts)


def login_lines(base_url: str, issuer: str, mode: str) -> str:
    """How an MCP client logs in, in this mode: the banner's lines."""
    if mode == "proxy":
        return f"""  Mode                 proxy: MCP clients log in here ({base_url} is their
                       authorization server: registration or CIMD, a consent page,
                       then Clerk's sign-in); they get Clerk's own tokens"""
    return f"""  Mode                 direct: MCP clients register and log in at Clerk ({issuer});
                       their tokens are accepted here when bound to this server's
                       resource URL (JWT aud, RFC 8707)"""


def emulator_banner(
    base_url: str, issuer: str, token: str, tools: Sequence[str], log_dir: Path, mode: str = "proxy"
) -> str:
    whoami = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    }
    return f"""
flask-clerk-mcp example: an MCP server behind Clerk OAuth, with the offline Clerk emulator

  App                  {base_url}/
  MCP endpoint         {base_url}/mcp
  Resource metadata    {base_url}/.well-known/oauth-protected-resource/mcp
  Clerk (emulator)     {issuer}
  Account page         {base_url}/account  (sign in in a browser as alice or bob)
  Logs                 {log_dir}
{login_lines(base_url, issuer, mode)}

Point any OAuth-capable MCP client (the MCP Inspector, Claude Code, ...) at the MCP endpoint:
it logs in by itself, as alice or bob. Or, by hand:

Access token for {DEMO_USER} (scopes: {" ".join(SCOPES)}), obtained through the emulator's
sign-in and consent pages with authorization code + PKCE. Paste this line into your shell
first: the curl commands below, the landing page's and example_app/README.md's all use it.

  export {TOKEN_VARIABLE}={token}

Tools: {", ".join(tools)}. List them:

  {curl_command(base_url + "/mcp", TOOLS_LIST)}

Ask who you are:

  {curl_command(base_url + "/mcp", whoami)}

Ready. Press Ctrl-C to stop everything."""


def real_clerk_banner(
    base_url: str, issuer: str, callback_url: str, log_dir: Path, mode: str
) -> str:
    scopes = " ".join((*SCOPES, "offline_access"))
    return f"""
flask-clerk-mcp example: an MCP server behind your Clerk instance {issuer}

In the Clerk dashboard (Configure > OAuth applications > your application, the one whose
client id is CLERK_CLIENT_ID), register:

  Redirect URI   {callback_url}
  Scopes         {scopes}
                 ({NOTES_WRITE} is a custom scope: create it in the Scopes tab first)

  App                  {base_url}/
  MCP endpoint         {base_url}/mcp
  Resource metadata    {base_url}/.well-known/oauth-protected-resource/mcp
  Account page         {base_url}/account  (signs you in with Clerk)
  Logs                 {log_dir}

{real_clerk_mode_text(mode)}

Ready. Press Ctrl-C to stop everything."""


def real_clerk_mode_text(mode: str) -> str:
    if mode == "proxy":
        return """Mode: proxy. MCP clients log in through this server (their authorization server),
which asks their user's consent and passes Clerk's tokens of CLERK_CLIENT_ID through. Nothing
else to set in the dashboard: the clients never talk to Clerk themselves."""
    return """Mode: direct. MCP clients register and log in at Clerk itself: turn on Dynamic client
registration (and, for CIMD, "Advertise CIMD support") in the dashboard. Their JWT access
tokens are accepted when their aud names this server's resource URL (clients send RFC 8707
resource); for opaque tokens, list the clients in CLERK_ACCEPTED_CLIENT_IDS (or "*", any client
of the instance, a weaker audience check)."""
