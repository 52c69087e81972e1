"""Blinker signals, sent with the Flask app as sender.

- ``token_verified(app, token=AccessToken)``
- ``token_rejected(app, reason=str, status=int, client_id=str | None)``
- ``login_completed(app, token=AccessToken)``
- ``logged_out(app, subject=str | None)``
- ``token_refreshed(app, token=AccessToken)``

The README's table says when each is sent; a test holds the two to each other.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

token_verified = _signals.signal("token-verified")
token_rejected = _signals.signal("token-rejected")
login_completed = _signals.signal("login-completed")
logged_out = _signals.signal("logged-out")
token_refreshed = _signals.signal("token-refreshed")
