"""The instance's memory: clients, sign-ins in progress, authorization codes and tokens.

One lock guards everything, so every operation that must be atomic (consuming a code, rotating
a refresh token, taking a pending sign-in) is one method here and one critical section. Codes
and tokens are kept under their SHA-256, never in clear, so a dump of this object (or a debug
repr) shows no credential. Nothing here knows HTTP: the views decide what an answer means.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from .config import EmulatorConfig, OAuthClient, check_token_format

TokenKind = Literal["access", "refresh"]
#: What ``revoke`` did: nothing to do, refused (another client's token, or a JWT access token
#: while those are not revocable), or revoked.
RevokeOutcome = Literal["unknown", "other_client", "unsupported", "revoked"]

#: Expired entries are swept every this many insertions, so a long benchmark stays bounded.
_SWEEP_EVERY = 512


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_access_token() -> str:
    """An opaque access token in the shape of Clerk's older OAuth apps: ``oat_`` + random."""
    return "oat_" + secrets.token_hex(16).upper()


def new_refresh_token() -> str:
    """A refresh token. Clerk's format is undocumented; no prefix, so nothing tells it apart."""
    return secrets.token_urlsafe(32)


@dataclass
class PendingAuthorization:
    """An authorization request between ``/oauth/authorize`` and the redirect back.

    ``browser`` binds it to the cookie of the browser that started it, so a form posted from
    anywhere else (a CSRF attempt) finds nothing to complete.
    """

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    nonce: str | None
    response_mode: str
    force_consent: bool
    browser: str
    expires_at: float
    user_handle: str | None = None
    #: RFC 8707 ``resource`` sent to ``/oauth/authorize``: the audience of the grant's tokens.
    resource: str | None = None


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    nonce: str | None
    expires_at: float
    grant_id: str
    used: bool = False
    resource: str | None = None


@dataclass(frozen=True)
class TokenRecord:
    """What the instance remembers about one issued access or refresh token.

    ``resource`` is the RFC 8707 audience (a JWT's ``aud``); ``jwt`` tells a JWT access token
    from an opaque one. Both formats are looked up the same way, by the token's digest, so
    introspection, userinfo and revocation serve them alike.
    """

    kind: TokenKind
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: float | None
    grant_id: str
    nonce: str | None = None
    resource: str | None = None
    jwt: bool = False

    def alive(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class IssuedTokens:
    access_token: str = field(repr=False)
    access: TokenRecord
    refresh_token: str | None = field(default=None, repr=False)


@dataclass
class EmulatorState:
    """All mutable state of one emulated instance, behind one lock."""

    config: EmulatorConfig
    clients: dict[str, OAuthClient] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _pending: dict[str, PendingAuthorization] = field(default_factory=dict, init=False, repr=False)
    _codes: dict[str, AuthorizationCode] = field(default_factory=dict, init=False, repr=False)
    _tokens: dict[str, TokenRecord] = field(default_factory=dict, init=False, repr=False)
    _by_grant: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _inserts: int = field(default=0, init=False, repr=False)
    #: The runtime form of ``config.access_token_format``; the operator may switch it.
    access_token_format: str = field(init=False)

    def __post_init__(self) -> None:
        self.clients = dict(self.config.clients)
        self.access_token_format = self.config.access_token_format

    def set_access_token_format(self, value: str) -> None:
        """Issue ``"jwt"`` or ``"opaque"`` access tokens from now on (``ValueError`` else)."""
        self.access_token_format = check_token_format(value)

    @property
    def clock(self) -> Callable[[], float]:
        return self.config.clock

    # -- clients -------------------------------------------------------------------------

    def get_client(self, client_id: str) -> OAuthClient | None:
        with self._lock:
            return self.clients.get(client_id)

    def register_client(self, client: OAuthClient) -> None:
        """Add or replace a client (runtime pre-registration, or DCR)."""
        with self._lock:
            self.clients[client.client_id] = client

    def add_redirect_uri(self, client_id: str, redirect_uri: str) -> OAuthClient:
        """Allow one more redirect URI for an existing client; ``KeyError`` if unknown."""
        with self._lock:
            client = self.clients[client_id]
            if redirect_uri not in client.redirect_uris:
                client = replace(client, redirect_uris=[*client.redirect_uris, redirect_uri])
                self.clients[client_id] = client
            return client

    def client_count(self) -> int:
        with self._lock:
            return len(self.clients)

    # -- pending sign-ins ----------------------------------------------------------------

    def start_pending(self, pending: PendingAuthorization) -> str:
        """Remember a sign-in in progress; return its unguessable, single-use id."""
        pending_id = secrets.token_urlsafe(32)
        with self._lock:
            self._note_insert()
            self._pending[pending_id] = pending
        return pending_id

    def take_pending(self, pending_id: str, browser: str) -> PendingAuthorization | None:
        """Consume a pending sign-in: it is gone afterwards, whoever asked.

        ``None`` when unknown, expired, or started by another browser.
        """
        with self._lock:
            pending = self._pending.pop(pending_id, None)
        if pending is None or pending.expires_at <= self.clock():
            return None
        if not browser or not hmac.compare_digest(pending.browser.encode(), browser.encode()):
            return None
        return pending

    # -- authorization codes -------------------------------------------------------------

    def issue_code(self, code: AuthorizationCode) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._note_insert()
            self._codes[_digest(value)] = code
        return value

    def consume_code(self, value: str) -> tuple[AuthorizationCode | None, bool]:
        """Mark a code used. Returns ``(code, first_use)``.

        A code presented a second time revokes every token issued from it (RFC 6749 §4.1.2),
        since its first redemption may have been an attacker's.
        """
        with self._lock:
            code = self._codes.get(_digest(value))
            if code is None:
                return None, False
            if code.used:
                self._revoke_grant_locked(code.grant_id)
                return code, False
            code.used = True
            return code, True

    # -- tokens --------------------------------------------------------------------------

    def issue_tokens(
        self,
        *,
        client_id: str,
        user_id: str,
        scopes: tuple[str, ...],
        grant_id: str,
        with_refresh: bool,
        refresh_scopes: tuple[str, ...] | None = None,
        nonce: str | None = None,
        resource: str | None = None,
        refresh_resource: str | None = None,
        sign_jwt: Callable[[TokenRecord], str] | None = None,
    ) -> IssuedTokens:
        """Mint an access token (and a refresh token) belonging to one grant.

        The access token is a JWT made by ``sign_jwt`` from its record while the format is
        ``"jwt"``, else opaque. ``resource`` binds the access token's audience;
        ``refresh_resource`` is the grant's, which the refresh token carries on.
        """
        cfg = self.config
        now = self.clock()
        as_jwt = sign_jwt is not None and self.access_token_format == "jwt"  # noqa: S105
        access = TokenRecord(
            kind="access",
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            issued_at=int(now),
            expires_at=now + cfg.access_token_ttl,
            grant_id=grant_id,
            nonce=nonce,
            resource=resource,
            jwt=as_jwt,
        )
        access_value = sign_jwt(access) if as_jwt and sign_jwt else new_access_token()
        issued = IssuedTokens(access_token=access_value, access=access)
        records = [(access_value, access)]
        if with_refresh:
            refresh_value = new_refresh_token()
            refresh = TokenRecord(
                kind="refresh",
                client_id=client_id,
                user_id=user_id,
                scopes=refresh_scopes if refresh_scopes is not None else scopes,
                issued_at=int(now),
                expires_at=None if cfg.refresh_token_ttl is None else now + cfg.refresh_token_ttl,
                grant_id=grant_id,
                resource=refresh_resource,
            )
            issued.refresh_token = refresh_value
            records.append((refresh_value, refresh))
        with self._lock:
            self._note_insert()
            for value, record in records:
                key = _digest(value)
                self._tokens[key] = record
                self._by_grant.setdefault(grant_id, set()).add(key)
        return issued

    def lookup(self, value: str) -> TokenRecord | None:
        """The live record of a token, or ``None`` (unknown, revoked or expired)."""
        with self._lock:
            record = self._tokens.get(_digest(value))
        if record is None or not record.alive(self.clock()):
            return None
        return record

    def take_refresh_token(self, value: str) -> TokenRecord | None:
        """Consume a live refresh token (rotation): after this call it is gone."""
        key = _digest(value)
        with self._lock:
            record = self._tokens.get(key)
            if record is None or record.kind != "refresh" or not record.alive(self.clock()):
                return None
            self._forget_locked(key, record)
            return record

    def revoke(self, value: str, client_id: str) -> RevokeOutcome:
        """Revoke a token issued to ``client_id``.

        Revoking a refresh token ends its whole grant, access tokens included (RFC 7009 §2.1);
        revoking an access token ends only that token. A token of another client is left
        alone, and so is a JWT access token unless ``config.jwt_access_tokens_revocable``.
        """
        key = _digest(value)
        with self._lock:
            record = self._tokens.get(key)
            if record is None:
                return "unknown"
            if record.client_id != client_id:
                return "other_client"
            if record.jwt and not self.config.jwt_access_tokens_revocable:
                return "unsupported"
            if record.kind == "refresh":
                self._revoke_grant_locked(record.grant_id)
            else:
                self._forget_locked(key, record)
            return "revoked"

    # -- internals (caller holds the lock) ------------------------------------------------

    def _forget_locked(self, key: str, record: TokenRecord) -> None:
        self._tokens.pop(key, None)
        keys = self._by_grant.get(record.grant_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_grant[record.grant_id]

    def _revoke_grant_locked(self, grant_id: str) -> None:
        for key in self._by_grant.pop(grant_id, set()):
            self._tokens.pop(key, None)

    def _note_insert(self) -> None:
        self._inserts += 1
        if self._inserts % _SWEEP_EVERY == 0:
            self._sweep_locked(self.clock())

    def _sweep_locked(self, now: float) -> None:
        for pid in [k for k, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[pid]
        for cid in [k for k, c in self._codes.items() if c.expires_at <= now]:
            del self._codes[cid]
        for key, record in [(k, r) for k, r in self._tokens.items() if not r.alive(now)]:
            self._forget_locked(key, record)
