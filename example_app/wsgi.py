"""The WSGI entry point for gunicorn: ``gunicorn example_app.wsgi:app``.

Configured from the environment only (``FLASK_CLERK_ISSUER_URL``, ``FLASK_CLERK_CLIENT_ID``,
``FLASK_CLERK_CLIENT_SECRET``, ``FLASK_CLERK_BASE_URL``, ``FLASK_SECRET_KEY``, ...), so the same
code runs the demo, the integration tests and a real deployment.
"""

from __future__ import annotations

from . import create_app

app = create_app()
