"""OAuth transactions: what a login (or, later, the MCP proxy) must remember across Clerk.

A transaction is created when a browser is sent to Clerk and consumed exactly once when Clerk
sends it back. It lives in the store under its ``state`` (so any worker or host can finish
it) for ``TRANSACTION_TTL`` seconds, and it is **bound to the browser** that started it: the
signed session cookie carries a random per-browser nonce, and the transaction carries the
nonce's SHA-256. A store-held ``state`` alone would let an attacker start a login, stop at
Clerk's redirect, and hand the callback URL to a victim, whose browser would then be signed
in as the attacker (login CSRF).

The one callback path serves every kind of transaction: it pops the transaction, checks the
binding and ``iss``, and hands the rest to the handler registered for the transaction's
``kind`` in ``ClerkState.callback_handlers`` — ``"login"`` here, the proxy's own kind later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, request, session
from flask.typing import ResponseReturnValue

from ..state import CallbackHandler as CallbackHandler  # re-exported for the proxy
from ..state import get_state, require_store
from .oauth import new_state
from .pages import error_page, oauth_error_page

log = logging.getLogger("flask_clerk_mcp")

#: Seconds a transaction stays usable; Clerk's authorization codes live 10 minutes too.
TRANSACTION_TTL = 600
#: Flask session key of the per-browser nonce that transactions are bound to.
BROWSER_KEY = "_clerk_browser"
#: Flask session key of this browser's pending transactions (their states, oldest first).
PENDING_KEY = "_clerk_pending"
#: Transactions one browser may have pending; one more evicts the oldest.
MAX_PENDING = 3
CALLBACK_BLUEPRINT = "clerk_callback"
MAX_STATE_LENGTH = 512
#: Bytes of query string the callback reads at most (Clerk sends code, state, iss, scope).
MAX_CALLBACK_QUERY = 8 * 1024
#: Parameters of Clerk's authorization response that decide what the callback does.
_SINGLE_VALUED = ("state", "code", "error", "iss")


def transaction_key(state: str) -> str:
    """Store key of the transaction whose ``state`` this is."""
    return f"clerk:tx:{state}"


def browser_binding(*, create: bool) -> str | None:
    """SHA-256 of this browser's nonce (made on first use when ``create``), or None."""
    nonce = session.get(BROWSER_KEY)
    if not isinstance(nonce, str) or not nonce:
        if not create:
            return None
        nonce = secrets.token_urlsafe(32)
        session[BROWSER_KEY] = nonce
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def begin_transaction(kind: str, data: Mapping[str, Any]) -> str:
    """Store a transaction of ``kind`` bound to this browser; returns its fresh ``state``.

    A browser holds at most ``MAX_PENDING`` transactions (a few tabs signing in at once):
    starting one more deletes its oldest from the store, so one browser cannot fill it.
    """
    store = require_store()
    state = new_state()
    record = {**data, "kind": kind, "binding": browser_binding(create=True)}
    store.put(transaction_key(state), record, TRANSACTION_TTL)
    pending = [*_pending(), state]
    for evicted in pending[:-MAX_PENDING]:
        store.delete(transaction_key(evicted))
    session[PENDING_KEY] = pending[-MAX_PENDING:]
    return state


def _pending() -> list[str]:
    value = session.get(PENDING_KEY)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _forget_pending(state: str) -> None:
    pending = _pending()
    if state in pending:
        pending.remove(state)
        session[PENDING_KEY] = pending


def install_callback(app: Flask) -> None:
    """Serve ``CLERK_REDIRECT_PATH`` on ``app`` once, however many flows use it."""
    if CALLBACK_BLUEPRINT in app.blueprints:
        return
    blueprint = Blueprint(CALLBACK_BLUEPRINT, __name__)
    redirect_path = get_state(app).settings.redirect_path
    blueprint.add_url_rule(redirect_path, "callback", callback, methods=["GET"])
    app.register_blueprint(blueprint)


def callback() -> ResponseReturnValue:
    """Clerk sent the browser back: consume the transaction and dispatch by its kind."""
    state_obj = get_state()
    if len(request.query_string) > MAX_CALLBACK_QUERY:  # before parsing any of it
        return error_page(414, "Sign-in could not be completed", "The response is too large.")
    args = request.args
    if any(len(args.getlist(name)) > 1 for name in _SINGLE_VALUED):
        # RFC 6749 §3.1: response parameters are never repeated; which copy would count?
        return _invalid("The sign-in response repeats a parameter.")
    state = args.get("state", "")
    if not state or len(state) > MAX_STATE_LENGTH:
        if "error" in args:  # shown, never acted on: nothing ties it to a login of ours
            return oauth_error_page(args.get("error", ""))
        return _invalid("The sign-in response carries no state.")
    transaction = require_store().pop(transaction_key(state))
    _forget_pending(state)
    if not isinstance(transaction, dict):
        return _invalid("This sign-in link is unknown, expired or was already used.")
    expected = transaction.get("binding")
    actual = browser_binding(create=False)
    if (
        not isinstance(expected, str)
        or actual is None
        or not hmac.compare_digest(expected.encode(), actual.encode())
    ):
        log.info("refused an OAuth callback: started in another browser")
        return _invalid("This sign-in was started in another browser or session.")
    issuer = args.get("iss")
    if issuer is not None and issuer != state_obj.settings.issuer:
        log.warning("refused an OAuth callback: unexpected iss")
        return _invalid("The sign-in response came from an unexpected issuer.")
    handler = state_obj.callback_handlers.get(str(transaction.get("kind")))
    if handler is None:
        return _invalid("This sign-in link is of an unknown kind.")
    return handler(transaction, args)


def _invalid(detail: str) -> ResponseReturnValue:
    return error_page(400, "Sign-in could not be completed", detail)
