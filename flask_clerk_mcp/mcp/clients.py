"""A client id to its metadata: dynamically registered clients and CIMD clients.

``ClientRegistry`` is what the proxy's endpoints ask "who is this client?":

- ``register(request_body)`` handles RFC 7591 dynamic registration: the body is checked by
  ``client_metadata.read_client_metadata`` against ``CLERK_ALLOWED_REDIRECT_URIS``, a fresh
  client id is drawn, the record is stored, and the 201 body is returned. Every client is
  public: whatever ``token_endpoint_auth_method`` was asked for, the answer says ``none``
  and no secret is issued (RFC 7591 §3.2.1 lets the server replace requested values; the
  official MCP SDK asks for ``client_secret_post`` by default and then follows the answer).
- ``get(client_id)`` finds a registered client in the store, or, for an https URL client
  id, the CIMD client through ``CIMDFetcher``.

Registered client ids are ``mcp_`` plus 32 characters of ``secrets.token_urlsafe`` (192
random bits): unguessable, never starting with ``https://`` (so they cannot be mistaken for
a CIMD URL), and recognisable, so that a malformed id is answered as unknown without a store
round trip. Records live ``dcr_ttl`` seconds (90 days by default) and are renewed on use,
at most once a day so a busy client does not cost a store write per request. A store that
is down raises ``StoreError`` (the endpoint answers 503): "unknown client" would make
clients re-register for nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..store import Store, StoreError
from .cimd import CIMDFetcher, is_cimd_client_id
from .client_metadata import ClientRecord, read_client_metadata
from .oauth_errors import OAuthError
from .redirects import RedirectRules

log = logging.getLogger("flask_clerk_mcp.mcp")

DCR_PREFIX = "mcp_"
DCR_TTL = 90 * 86400
RENEW_AFTER = 86400
_DCR_ID = re.compile(re.escape(DCR_PREFIX) + r"[A-Za-z0-9_-]{32}")
_KEY_PREFIX = "mcp:client:"


class ClientRegistry:
    """Registered (DCR) clients in ``store``, CIMD clients through ``cimd``.

    ``rules`` are the compiled ``CLERK_ALLOWED_REDIRECT_URIS``; ``cimd`` is None when
    ``CLERK_CIMD`` is off, and URL client ids are then unknown clients.
    """

    def __init__(
        self,
        store: Store,
        *,
        rules: RedirectRules,
        cimd: CIMDFetcher | None = None,
        dcr_ttl: int = DCR_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.rules = rules
        self.cimd = cimd
        self.dcr_ttl = dcr_ttl
        self._clock = clock

    def register(self, request: object) -> tuple[ClientRecord, dict[str, Any]]:
        """Register a client from a parsed RFC 7591 request body; the record and 201 body.

        Raises ``OAuthError`` with ``invalid_redirect_uri`` or ``invalid_client_metadata``
        (both 400), and ``StoreError`` when the record cannot be stored.
        """
        if not isinstance(request, dict):
            raise OAuthError("invalid_client_metadata", "the request body must be a JSON object")
        fields = read_client_metadata(request, rules=self.rules, drop_disallowed=True)
        now = int(self._clock())
        record = ClientRecord(
            client_id=DCR_PREFIX + secrets.token_urlsafe(24),
            kind="dcr",
            issued_at=now,
            **fields,
        )
        self._store.put(self._key(record.client_id), self._entry(record, now), self.dcr_ttl)
        log.info(
            "registered MCP client %s (%s) for %s",
            record.client_id,
            record.client_name or "unnamed",
            ", ".join(record.redirect_hosts),
        )
        return record, registration_response(record)

    def get(self, client_id: object) -> ClientRecord | None:
        """The client's record, or None when unknown.

        A CIMD client id is fetched (or read from the CIMD cache) and may raise ``CIMDError``;
        a store failure raises ``StoreError``.
        """
        if not isinstance(client_id, str):
            return None
        if is_cimd_client_id(client_id):
            return self.cimd.get(client_id) if self.cimd is not None else None
        if not _DCR_ID.fullmatch(client_id):
            return None
        entry = self._store.get(self._key(client_id))
        if not isinstance(entry, dict):
            return None
        record = ClientRecord.from_json(entry.get("record"))
        if record is None or record.client_id != client_id or record.kind != "dcr":
            return None
        self._renew(record, entry)
        return record

    def require(self, client_id: object) -> ClientRecord:
        """``get``, with an unknown client as ``OAuthError("invalid_client")`` (401).

        MCP clients re-register when told ``invalid_client`` (FastMCP #1919), which is what
        a client whose record expired or was lost should do.
        """
        record = self.get(client_id)
        if record is None:
            raise OAuthError("invalid_client", "unknown client_id: register the client again")
        return record

    def delete(self, client_id: str) -> None:
        """Forget a registered client (CIMD clients are not stored, only cached)."""
        if _DCR_ID.fullmatch(client_id):
            self._store.delete(self._key(client_id))

    def _renew(self, record: ClientRecord, entry: dict[str, Any]) -> None:
        now = int(self._clock())
        renewed = entry.get("renewed")
        if isinstance(renewed, int) and now - renewed < RENEW_AFTER:
            return
        try:
            self._store.put(self._key(record.client_id), self._entry(record, now), self.dcr_ttl)
        except StoreError as exc:  # the record is still there; renewing can wait
            log.warning("could not renew MCP client %s: %s", record.client_id, exc)

    @staticmethod
    def _entry(record: ClientRecord, now: int) -> dict[str, Any]:
        return {"record": record.to_json(), "renewed": now}

    @staticmethod
    def _key(client_id: str) -> str:
        return _KEY_PREFIX + client_id


def registration_response(record: ClientRecord) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 answer: the client id and the metadata as registered, no secret."""
    body: dict[str, Any] = {
        "client_id": record.client_id,
        "client_id_issued_at": record.issued_at,
        "redirect_uris": list(record.redirect_uris),
        "grant_types": list(record.grant_types),
        "response_types": list(record.response_types),
        "token_endpoint_auth_method": record.token_endpoint_auth_method,
    }
    optional = {
        "client_name": record.client_name,
        "client_uri": record.client_uri,
        "logo_uri": record.logo_uri,
        "scope": record.scope,
        "application_type": record.application_type,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body
