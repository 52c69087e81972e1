"""RFC 6750 without a framework: read the Bearer credentials, write the refusal.

Every face that protects requests (the Flask decorator in ``protect``, the WSGI middleware in
``wsgi``) parses the ``Authorization`` header, works out the scopes a request needs and answers
a refusal through these functions, so the two cannot drift apart: same statuses, same
``WWW-Authenticate`` challenges, same JSON bodies, same log line. Knows nothing of Flask.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from .errors import ClerkAuthError, InsufficientScope, InvalidRequest, UpstreamUnavailable
from .scopes import challenge_scopes
from .settings import Settings

log = logging.getLogger("flask_clerk_mcp")

MAX_HEADER_LENGTH = 4096
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')
#: Characters of a path logged as they are; everything else is percent-encoded.
_PATH_SAFE = "/-._~!$&'()*+,;=:@%"


def parse_bearer(values: list[str]) -> str | None:
    """The token of ``Authorization: Bearer <token68>``; None when there is no header.

    Anything else that claims to be credentials is ``InvalidRequest`` (RFC 6750 §3.1), decided
    before any upstream call.
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("More than one Authorization header")
    value = values[0]
    if len(value) > MAX_HEADER_LENGTH:
        raise InvalidRequest("The Authorization header is too long")
    # Only SP and HTAB are optional whitespace around a field value (RFC 9110 §5.6.3):
    # str.strip() would also drop form feeds, NEL or a trailing newline, and pass them.
    scheme, _, rest = value.strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidRequest("The Authorization header must use the Bearer scheme")
    token = rest.strip(" ")
    if not token:
        raise InvalidRequest("The Bearer token is missing")
    if not _TOKEN68.fullmatch(token):  # not match(): "$" matches before a final newline
        raise InvalidRequest("The Bearer token is malformed")
    return token


def needed_scopes(settings: Settings, route_scopes: Iterable[str]) -> tuple[str, ...]:
    """``CLERK_REQUIRED_SCOPES`` then the route's own, each once: what a token must carry."""
    required = settings.required_scopes
    return required + tuple(dict.fromkeys(s for s in route_scopes if s not in required))


@dataclass(frozen=True)
class AuthAnswer:
    """A refusal, framework-free: status, headers in order, and the JSON body's fields.

    Each face serializes ``body`` its own way (Flask with the app's JSON provider) and adds
    ``headers`` after its own ``Content-Type``.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: dict[str, str]


def auth_answer(exc: ClerkAuthError, settings: Settings, resource_metadata: str) -> AuthAnswer:
    """The RFC 6750 / RFC 9728 answer to ``exc``; ``resource_metadata`` is the document the
    challenge links (``mcp.documents.resource_metadata_url``)."""
    body = {"error": exc.error or "unauthorized", "error_description": exc.description}
    if isinstance(exc, UpstreamUnavailable):
        return AuthAnswer(exc.status, (("Retry-After", str(exc.retry_after)),), body)
    metadata = ("resource_metadata", resource_metadata)
    # Only what the Clerk application can grant: a scope it refuses fails the whole login.
    scope = " ".join(
        challenge_scopes(
            exc.challenge_scopes or getattr(exc, "scopes", ()),
            settings.scopes_supported,
            settings.scope_implies,
        )
    )
    params: list[tuple[str, str]]
    if exc.error is None:  # no credentials: no error code (RFC 6750 §3.1)
        params = [metadata, ("scope", scope)]
    elif isinstance(exc, InsufficientScope):
        params = [
            ("error", exc.error),
            ("scope", scope),
            metadata,
            ("error_description", exc.description),
        ]
    else:
        params = [("error", exc.error), ("error_description", exc.description), metadata]
    challenge = "Bearer " + ", ".join(
        f'{name}="{_UNSAFE_IN_QUOTES.sub("", value)}"' for name, value in params if value
    )
    headers = (
        ("WWW-Authenticate", challenge),
        ("Access-Control-Expose-Headers", "WWW-Authenticate"),
        ("Cache-Control", "no-store"),
    )
    return AuthAnswer(exc.status, headers, body)


def log_rejection(method: str, path: str, exc: ClerkAuthError) -> None:
    """One INFO line per refusal: why, and the client the token was issued to where known.

    Never the token: only our own descriptions, the escaped path and the client id (quoted
    by ``%r``, so no value of Clerk's can forge a line). A 503 is not a verdict on the token;
    the verifier logs it at WARNING where it happens.
    """
    if not isinstance(exc, UpstreamUnavailable):
        # Escaped: a %0A in the path must not forge a second log line.
        log.info(
            "rejected %s %s (%d %s): %s; client_id=%r",
            method,
            quote(path, safe=_PATH_SAFE),
            exc.status,
            exc.error or "no_credentials",
            exc.description,
            exc.client_id,
        )
