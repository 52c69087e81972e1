"""Server-side login sessions: the browser holds a random handle, the store holds the tokens.

The signed Flask session cookie carries only an opaque 32-byte handle (``_clerk_session``);
the access and refresh tokens live in the store, encrypted, under that handle. A stolen or
logged cookie therefore never reveals a token, and logout really ends the session (the
server-side record is gone, whatever copies of the cookie exist).

``session_credentials`` is the core's hook for ``@require_clerk(browser=True)``: it returns
the session's access token, refreshing it first when it is about to expire. Refresh happens
**once per session**, however many requests notice at the same moment, across threads,
workers and hosts: the first takes a short lock in the store (``add``, set-if-absent) and
refreshes; the others poll the store until the new record appears (the lock holder writes it
before releasing the lock), and fall back to the still-valid old token if the holder fails
without a verdict. Clerk rotates refresh tokens, so two refreshes of one session would race
and one of them would lose the session: hence the lock.

A refresh that Clerk refuses (``invalid_grant``: revoked, expired, rotated away) ends the
session: the hook returns None and the core sends the browser to the login page. A refresh
that gets no verdict (Clerk down) keeps the old token while it is still valid, else answers
503.

Logout and refresh must not interleave: a refresh that stored its fresh tokens after a logout
had deleted the record would bring the session back, with tokens nobody revoked, for every
copy of the old cookie. ``end_session`` therefore takes the refresh lock too (see its
docstring), and leaves a tombstone that a refresh still in flight checks before and after it
writes.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from flask import current_app, g, session

from .. import signals
from ..errors import InvalidToken, UpstreamUnavailable
from ..state import get_state, require_store
from ..tokens import AccessToken
from . import clock, oauth

log = logging.getLogger("flask_clerk_mcp")

#: Flask session key of the opaque handle.
SESSION_KEY = "_clerk_session"
#: Refresh when less than this many seconds are left (or a quarter of a shorter lifetime).
REFRESH_MARGIN = 60
#: Seconds the refresh lock lives if its holder dies before releasing it.
LOCK_TTL = 15
#: Seconds a request waits for another one's refresh, and how often it looks.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
#: Seconds a session without a refresh token outlives its access token in the store.
_MIN_TTL = 60
#: Seconds the tombstone of an ended session lives: far longer than a token request can take
#: (``CLERK_TIMEOUT``), so a refresh that began before the logout always finds it.
ENDED_TTL = 300

Record = dict[str, Any]


def session_key(handle: str) -> str:
    """Store key of the login session held under ``handle``."""
    return f"clerk:session:{handle}"


def lock_key(handle: str) -> str:
    """Store key of the session's refresh lock."""
    return f"clerk:session-lock:{handle}"


def ended_key(handle: str) -> str:
    """Store key of the tombstone a logout leaves for a refresh in flight."""
    return f"clerk:session-ended:{handle}"


def current_handle() -> str | None:
    """This browser's session handle from the signed cookie, or None."""
    handle = session.get(SESSION_KEY)
    return handle if isinstance(handle, str) and handle else None


def start_session(tokens: oauth.TokenSet, token: AccessToken) -> str:
    """Sign this browser in: a new handle, the tokens stored under it; returns the handle.

    The session id rotates: whatever session the browser had (handle, browser nonce, the
    app's own keys) is cleared and its server-side record ended, so a handle planted before
    login (session fixation) is worth nothing after it.
    """
    old = current_handle()
    if old is not None:
        end_session(old, revoke=True)
    session.clear()
    handle = secrets.token_urlsafe(32)
    issued_at = int(clock.now())
    record: Record = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at if tokens.expires_at is not None else token.expires_at,
        "issued_at": issued_at,
        "subject": token.subject,
        "created_at": issued_at,
    }
    require_store().put(session_key(handle), record, _ttl(record))
    session[SESSION_KEY] = handle
    return handle


def end_session(handle: str, *, revoke: bool) -> Record | None:
    """Delete the server-side session (atomically: only one caller gets the record) and,
    when ``revoke``, revoke its tokens at Clerk, best effort. Returns the record it ended.

    A refresh of the same session may be in flight (another request, worker or host). Two
    guards, because either alone leaves a gap:

    1. A tombstone (``ended_key``), written *first*. A refresher looks for it after Clerk has
       answered: before storing the new tokens (found: revoke them, store nothing) and again
       after storing them (found: delete the record and revoke them). Since the tombstone
       precedes the pop and the second look follows the write, either the logout's pop sees
       the fresh record (and revokes it) or the refresher sees the tombstone: no ordering of
       the two lets a fresh record survive the logout.
    2. The refresh lock (``lock_key``), taken before the pop and waited for up to
       ``WAIT_SECONDS``, so that in the ordinary case logout and refresh simply take turns:
       the refresh finishes (or, seeing the tombstone, gives up) and the logout then ends
       whatever is stored. If the lock never frees (its holder died or hangs; ``LOCK_TTL``
       bounds that) the logout goes ahead without it, and the tombstone alone keeps the
       late refresher from storing anything.
    """
    store = require_store()
    store.put(ended_key(handle), 1, ENDED_TTL)
    locked = _take_lock(handle)
    try:
        record = _as_record(store.pop(session_key(handle)))
    finally:
        if locked:
            store.delete(lock_key(handle))
    if record is not None and revoke:
        _revoke_tokens(record.get("access_token"), record.get("refresh_token"))
    return record


def session_credentials() -> str | None:
    """The core's hook: this browser session's access token, fresh, or None."""
    handle = current_handle()
    if handle is None:
        return None
    record = _as_record(require_store().get(session_key(handle)))
    if record is not None and _needs_refresh(record):
        record = _refresh(handle, record)
    if record is None:
        session.pop(SESSION_KEY, None)
        return None
    token = str(record["access_token"])
    g._clerk_session_token = token
    return token


def forget_rejected_session() -> None:
    """The core's hook: Clerk refused the session's token (revoked, user deleted, …).

    Ends the server-side session only if it still holds the token that was refused: a
    parallel request may have refreshed it meanwhile, and that fresh session must survive.
    """
    handle = current_handle()
    if handle is None:
        return
    refused = g.get("_clerk_session_token")
    store = require_store()
    record = _as_record(store.get(session_key(handle)))
    if record is None or record.get("access_token") == refused:
        store.delete(session_key(handle))
        session.pop(SESSION_KEY, None)


# -- refresh -------------------------------------------------------------------------------
def _refresh(handle: str, record: Record) -> Record | None:
    refresh_token = record.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        if _expired(record):
            require_store().delete(session_key(handle))
            return None
        return record  # no way to refresh: use it until it expires, then log in again
    store = require_store()
    if not store.add(lock_key(handle), 1, LOCK_TTL):
        return _wait_for_refresh(handle, record)
    try:
        current = _as_record(store.get(session_key(handle)))
        if current is None:
            return None
        if current.get("access_token") != record.get("access_token") and not _needs_refresh(
            current
        ):
            return current  # refreshed by someone else between our read and our lock
        fresh = _call_refresh(handle, current)
    finally:
        store.delete(lock_key(handle))
    if fresh is not None and fresh is not current and not _announce_refresh(handle, fresh):
        return None
    return fresh


def _call_refresh(handle: str, current: Record) -> Record | None:
    """Ask Clerk for new tokens and store them; the caller holds the lock."""
    state = get_state()
    store = require_store()
    try:
        tokens = oauth.refresh(
            state.settings,
            state.upstream,
            refresh_token=str(current["refresh_token"]),
            clock=clock.now,
        )
    except oauth.TokenRefused as exc:
        log.info("Clerk refused to refresh a login session (%s); sign-in needed", exc.error)
        store.delete(session_key(handle))
        return None
    except oauth.TokenEndpointUnavailable:
        if _expired(current):
            raise UpstreamUnavailable("Clerk is unavailable to refresh the session") from None
        return current  # keep using the old token while it lasts
    if _ended(handle):  # logged out while Clerk was answering: the new tokens are orphans
        _revoke_tokens(tokens.access_token, tokens.refresh_token)
        return None
    fresh: Record = {
        **current,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at,
        "issued_at": int(clock.now()),
    }
    store.put(session_key(handle), fresh, _ttl(fresh))
    if _ended(handle):  # logged out between the look and the write: undo the write
        store.delete(session_key(handle))
        _revoke_tokens(tokens.access_token, tokens.refresh_token)
        return None
    return fresh


def _announce_refresh(handle: str, fresh: Record) -> bool:
    """Verify the new token (the signal promises an ``AccessToken``) and send the signal.

    False when Clerk refuses the token it has just issued: the session ends.
    """
    state = get_state()
    try:
        token = state.verifier.verify(str(fresh["access_token"]))
    except InvalidToken:
        require_store().delete(session_key(handle))
        return False
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.token_refreshed.send(app, token=token)
    return True


def _wait_for_refresh(handle: str, seen: Record) -> Record | None:
    """Another request holds the lock: wait for the record it writes."""
    store = require_store()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        current = _as_record(store.get(session_key(handle)))
        if current is None:
            return None  # the refresh was refused and the session ended
        if current.get("access_token") != seen.get("access_token"):
            return current
        if store.get(lock_key(handle)) is None:
            current = _as_record(store.get(session_key(handle)))
            if current is None or current.get("access_token") != seen.get("access_token"):
                return current
            break  # the holder got no verdict from Clerk and kept the old token
    if _expired(seen):
        raise UpstreamUnavailable("The session is being refreshed; try again shortly", 1)
    return seen


# -- helpers -------------------------------------------------------------------------------
def _take_lock(handle: str) -> bool:
    """Take the session's refresh lock, waiting up to ``WAIT_SECONDS``; False if it stayed
    taken (the caller goes ahead anyway: the lock's TTL bounds how long a holder can last)."""
    store = require_store()
    deadline = time.monotonic() + WAIT_SECONDS
    while not store.add(lock_key(handle), 1, LOCK_TTL):
        if time.monotonic() >= deadline:
            log.info("ending a login session without its lock (a refresh is still running)")
            return False
        time.sleep(POLL_SECONDS)
    return True


def _ended(handle: str) -> bool:
    return require_store().get(ended_key(handle)) is not None


def _revoke_tokens(access_token: object, refresh_token: object) -> None:
    """Revoke a session's tokens at Clerk, best effort (``oauth.revoke`` never raises)."""
    state = get_state()
    http = state.upstream
    if isinstance(refresh_token, str) and refresh_token:
        oauth.revoke(state.settings, http, refresh_token, "refresh_token")
    if isinstance(access_token, str) and access_token:
        oauth.revoke(state.settings, http, access_token, "access_token")


def _as_record(value: Any) -> Record | None:
    if isinstance(value, dict) and isinstance(value.get("access_token"), str):
        return value
    return None


def _expires_at(record: Record) -> int | None:
    value = record.get("expires_at")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _expired(record: Record) -> bool:
    expires_at = _expires_at(record)
    return expires_at is not None and expires_at <= clock.now()


def _needs_refresh(record: Record) -> bool:
    expires_at = _expires_at(record)
    if expires_at is None:
        return False  # no expiry known: used until Clerk refuses it
    issued_at = record.get("issued_at")
    lifetime = expires_at - issued_at if isinstance(issued_at, int) else REFRESH_MARGIN * 4
    margin = min(REFRESH_MARGIN, max(lifetime, 0) / 4)
    return expires_at - clock.now() < margin


def _ttl(record: Record) -> int:
    """How long the store keeps a session: the app's permanent-session lifetime when a
    refresh token can keep it alive, else a little past the access token's expiry."""
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    expires_at = _expires_at(record)
    if record.get("refresh_token") or expires_at is None:
        return max(lifetime, 1)
    return max(int(expires_at - clock.now()) + _MIN_TTL, 1)
