"""``AuthorizationRequest``: an MCP client's checked authorization request.

Made by ``authorize`` once every check passed, carried through the consent form (signed) and
the Clerk round trip (in the transaction), and finished by ``callback``. Plain JSON both ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request: what consent shows and the callback finishes."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    code_challenge: str
    scopes: tuple[str, ...]
    resource: str | None

    def to_json(self) -> dict[str, Any]:
        """The request as JSON (for the signed consent form and the transaction)."""
        return {**asdict(self), "scopes": list(self.scopes)}

    @classmethod
    def from_json(cls, data: object) -> AuthorizationRequest | None:
        """Read back what ``to_json`` wrote (from a signed form or a transaction)."""
        if not isinstance(data, dict):
            return None
        try:
            request_ = cls(
                client_id=data["client_id"],
                redirect_uri=data["redirect_uri"],
                redirect_uri_sent=data["redirect_uri_sent"],
                state=data["state"],
                code_challenge=data["code_challenge"],
                scopes=tuple(data["scopes"]),
                resource=data["resource"],
            )
        except (KeyError, TypeError):
            return None
        strings = (request_.client_id, request_.redirect_uri, request_.code_challenge)
        if not all(isinstance(v, str) for v in (*strings, *request_.scopes)):
            return None
        if not isinstance(request_.redirect_uri_sent, bool):
            return None
        if not all(v is None or isinstance(v, str) for v in (request_.state, request_.resource)):
            return None
        return request_
