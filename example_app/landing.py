"""``GET /``: a public page saying what this server is and how to call it.

The template is a string in this module rather than a file: the package ships no data files,
so ``pip install`` of the project and a checkout behave the same.
"""

from __future__ import annotations

from flask import current_app, render_template_string, url_for

from flask_clerk_mcp import ClerkMCP
from flask_clerk_mcp.mcp.metadata import authorization_server

from .mcp_endpoint import EXTENSION_KEY, MCP_SCOPES, McpServer

#: The login blueprint's name; the page links to it only once it is registered.
LOGIN_BLUEPRINT = "clerk_login"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ title }}</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
           padding: 0 1rem; color: #1d1d1f; }
    code, pre { font: 14px/1.4 ui-monospace, monospace; background: #f4f4f6; }
    pre { padding: .75rem; overflow-x: auto; }
    dt { font-weight: 600; margin-top: .5rem; }
  </style>
</head>
<body>
  <h1>{{ title }}</h1>
  <p>A small <a href="https://modelcontextprotocol.io/">Model Context Protocol</a> server,
  written with Flask and protected by <strong>flask-clerk-mcp</strong>: every call to the MCP
  endpoint needs a Clerk OAuth access token, checked with Clerk on each request.</p>
  {% if login_url %}
  <p><a href="{{ login_url }}">Sign in with Clerk</a>, then see your
  <a href="{{ account_url }}">account page</a>.</p>
  {% endif %}

  <h2>Where things are</h2>
  <dl>
    <dt>MCP endpoint (Streamable HTTP, POST only, JSON answers)</dt>
    <dd><code>{{ mcp_url }}</code></dd>
    <dt>Protected-resource metadata (RFC 9728), where clients learn how to log in</dt>
    <dd><a href="{{ metadata_url }}"><code>{{ metadata_url }}</code></a></dd>
    <dt>Authorization server
      {%- if proxy %} (this server, in front of Clerk){% else %} (Clerk){% endif %}</dt>
    <dd><code>{{ authorization_server }}</code></dd>
    <dt>Scopes a token needs</dt>
    <dd><code>{{ scopes }}</code></dd>
  </dl>

  <h2>Tools</h2>
  <ul>
  {% for tool in tools %}
    <li><code>{{ tool.name }}</code>: {{ tool.description }}</li>
  {% endfor %}
  </ul>

  <h2>Calling it</h2>
  <p>Point any MCP client that speaks OAuth (the MCP Inspector, Claude Code, ...) at the
  endpoint above: it gets a <code>401</code> naming the metadata document, and logs in from
  there{% if proxy %}: it registers here (or names its metadata document), you approve it
  on this server's consent page, sign in with Clerk, and it receives Clerk's token{% else %}
  at Clerk, which issues it a token of its own{% endif %}.
  By hand, with a token:</p>
  <pre>curl -s {{ mcp_url }} \\
  -H "Authorization: Bearer $TOKEN" \\
  -H "Content-Type: application/json" \\
  -H "Accept: application/json, text/event-stream" \\
  -H "MCP-Protocol-Version: 2025-11-25" \\
  -d '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'</pre>
  <p>Protocol versions 2025-03-26 (no header), 2025-06-18, 2025-11-25 and 2026-07-28 are
  understood. The server keeps no session: <code>initialize</code> is optional.</p>
</body>
</html>
"""


def landing_page() -> str:
    settings = ClerkMCP.state().settings
    server: McpServer = current_app.extensions[EXTENSION_KEY]
    has_account = "account" in current_app.view_functions
    login_url = (
        # Straight to the account page after signing in, where the user sees who they are.
        url_for(f"{LOGIN_BLUEPRINT}.login", next="/account" if has_account else None)
        if LOGIN_BLUEPRINT in current_app.blueprints
        else None
    )
    needed = dict.fromkeys((*settings.required_scopes, *MCP_SCOPES))
    return render_template_string(
        PAGE,
        title=server.info.title or server.info.name,
        login_url=login_url,
        account_url=url_for("account") if has_account else None,
        mcp_url=settings.mcp_resource,
        metadata_url=f"{settings.base_url}/.well-known/oauth-protected-resource{settings.mcp_path}",
        authorization_server=authorization_server(settings),
        proxy=settings.mcp_mode == "proxy",
        scopes=" ".join(needed),
        tools=server.tools.definitions(),
    )
