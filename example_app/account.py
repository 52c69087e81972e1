"""``GET /account``: the signed-in user's page, a browser route of the login session.

The one page of the example that uses ``@require_clerk(browser=True)``: the browser's Clerk
session is a credential here (and never on ``/mcp``), and a browser without one is sent to
``/login`` and back. It shows who Clerk says is signed in, and a sign-out form (a POST, since
signing out changes state).
"""

from __future__ import annotations

from flask import Flask, current_app, render_template_string, url_for

from flask_clerk_mcp import current_token, require_clerk

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Your account</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
           padding: 0 1rem; color: #1d1d1f; }
    dt { font-weight: 600; margin-top: .5rem; }
    button { font: inherit; padding: .4rem 1rem; }
  </style>
</head>
<body>
  <h1>Signed in</h1>
  <p>You are signed in with Clerk as
     <strong id="email">{{ email or "(no email shared)" }}</strong>.</p>
  <dl>
    {% if name %}<dt>Name</dt><dd id="name">{{ name }}</dd>{% endif %}
    <dt>Clerk user id</dt><dd><code id="subject">{{ subject }}</code></dd>
    <dt>Scopes granted</dt><dd><code>{{ scopes }}</code></dd>
  </dl>
  {% if logout_url %}
  <form method="post" action="{{ logout_url }}">
    <button type="submit" id="sign-out">Sign out</button>
  </form>
  {% endif %}
  <p><a href="/">Back to the start page</a></p>
</body>
</html>
"""


@require_clerk(browser=True)
def account_page() -> str:
    claims = current_token.claims
    logout_url = url_for("clerk_login.logout") if "clerk_login" in current_app.blueprints else None
    return render_template_string(
        PAGE,
        email=claims.get("email"),
        name=claims.get("name"),
        subject=current_token.subject,
        scopes=" ".join(current_token.scopes),
        logout_url=logout_url,
    )


def register_account(app: Flask) -> None:
    app.add_url_rule("/account", "account", account_page, methods=["GET"])
