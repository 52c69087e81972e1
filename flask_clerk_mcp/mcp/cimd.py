"""Client ID Metadata Documents: a client id that is an https URL names its own metadata.

``CIMDFetcher.get(client_id)`` returns the client's ``ClientRecord``, from the cache or by
fetching the document, and raises ``CIMDError`` (an ``OAuthError`` with ``invalid_client``)
for everything that can go wrong, so the authorize endpoint has one thing to catch and turn
into its error page (RFC 6749 §4.1.2.1: no redirect to an unverified client).

The rules (draft-ietf-oauth-client-id-metadata-document, MCP authorization 2026-07-28):

- the client id is an https URL with a path (not ``/``), no userinfo, no fragment, no dot
  segments, at most 2000 characters (``check_client_id_url``);
- the fetch goes through the SSRF guard (``ssrf.GuardedAdapter``: a session without it is
  refused), never follows a redirect, has connect and read timeouts plus an overall deadline
  that cuts the connection (``ssrf.fetch_deadline``: a server dripping bytes cannot hold
  a thread past it), and stops reading past ``max_bytes``: 16 KiB by default;
  the draft recommends 5 KB, but real clients' documents have outgrown that (Cloudflare's
  MCP server refused claude.ai's at exactly 5120 bytes, cloudflare/mcp#46);
- only a ``200`` with a JSON media type and a UTF-8 JSON *object* body is a document;
- its ``client_id`` equals the URL, character for character; ``redirect_uris`` is required;
  the other fields go through ``client_metadata.read_client_metadata``, with the redirect
  URIs under ``RedirectRules.web()`` by default (https anywhere, http on loopback: the origin
  serving the document vouches for them, and the consent page shows their host);
- the client must be public: ``token_endpoint_auth_method`` absent or ``none``, and no
  ``client_secret`` (a secret published in a document is no secret).

Good documents are cached in the injected store (the proxy passes its encrypted store) for
what the response's HTTP cache headers allow, clamped to [1 min, 1 day]; ``no-store``,
``no-cache`` and ``max-age=0`` get the minute, because every authorization needs the
document and refetching it per request would let one client make us hammer a host. Errors
and bad documents are never cached (the draft's MUST), and a failing store is a cache miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_date

from ..store import Store, StoreError
from .client_metadata import ClientRecord, read_client_metadata
from .oauth_errors import OAuthError
from .redirects import RedirectRules, RedirectURIError, parse_redirect_uri
from .ssrf import BlockedAddress, GuardedAdapter, fetch_deadline

log = logging.getLogger("flask_clerk_mcp.mcp")

MIN_TTL = 60
MAX_TTL = 86400
DEFAULT_TTL = 600
_ASCII_DIGITS = re.compile(r"[0-9]+")
_JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")


class CIMDError(OAuthError):
    """The client's metadata document cannot be used; ``error`` is ``invalid_client``.

    ``transient`` marks failures that may pass by themselves (timeouts, connection errors,
    5xx and 429 answers), for a caller that wants to say "try again" rather than "fix it".
    """

    def __init__(self, description: str, *, transient: bool = False) -> None:
        super().__init__("invalid_client", description, status=400)
        self.transient = transient


def is_cimd_client_id(client_id: str) -> bool:
    """Whether ``client_id`` is meant as a metadata URL. Our DCR ids never start with https."""
    return client_id[:8].lower() == "https://"


def check_client_id_url(client_id: str) -> str:
    """``client_id`` if it is a valid Client Identifier URL, else ``CIMDError``."""
    if not client_id.startswith("https://"):
        raise CIMDError("client_id URL must use https")
    try:
        parsed = parse_redirect_uri(client_id, error="invalid_client")
    except RedirectURIError as exc:
        raise CIMDError("client_id URL " + exc.description.removeprefix("redirect URI ")) from None
    if parsed.path in ("", "/"):
        raise CIMDError("client_id URL must have a path")
    return client_id


def cache_lifetime(
    headers: Mapping[str, str],
    *,
    now: float,
    default: int = DEFAULT_TTL,
    lowest: int = MIN_TTL,
    highest: int = MAX_TTL,
) -> int:
    """Seconds a fetched document may be reused, from its HTTP cache headers (RFC 9111).

    ``no-store``/``no-cache`` mean the lowest bound; ``s-maxage`` (we serve many users, like a
    shared cache) else ``max-age``, minus ``Age``; else ``Expires`` against ``Date`` (or
    now); else ``default``. Always clamped to [lowest, highest].
    """
    control = parse_cache_control_header(headers.get("Cache-Control"), cls=ResponseCacheControl)
    if control.no_store or control.no_cache:
        return lowest
    max_age = control.s_maxage if control.s_maxage is not None else control.max_age
    if max_age is not None:
        seconds = int(max_age) - (_digits(headers.get("Age", "")) or 0)
    elif "Expires" in headers:
        expires = parse_date(headers["Expires"])
        date = parse_date(headers.get("Date"))
        base = date.timestamp() if date is not None else now
        seconds = int(expires.timestamp() - base) if expires is not None else 0
    else:
        seconds = default
    return max(lowest, min(highest, seconds))


class CIMDFetcher:
    """Fetches, validates and caches Client ID Metadata Documents.

    ``session`` is a requests session with the SSRF guard mounted (``ssrf.guarded_session``),
    or a callable giving the current thread's one. ``cache`` is the store (``None``: no
    cache). ``timeout`` is (connect, read) per socket operation; ``deadline`` bounds the
    whole fetch, handshake, headers and body alike.
    """

    def __init__(
        self,
        session: requests.Session | Callable[[], requests.Session],
        *,
        cache: Store | None = None,
        rules: RedirectRules | None = None,
        timeout: tuple[float, float] = (3.05, 5.0),
        deadline: float = 10.0,
        max_bytes: int = 16384,
        default_ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._cache = cache
        self.rules = rules if rules is not None else RedirectRules.web()
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl
        self._clock = clock

    def get(self, client_id: str) -> ClientRecord:
        """The client's record: cached if still fresh, else fetched (and then cached)."""
        url = check_client_id_url(client_id)
        key = "mcp:cimd:" + hashlib.sha256(url.encode()).hexdigest()
        cached = self._cache_get(key)
        if cached is not None and cached.client_id == url:
            return cached
        record, ttl = self.fetch(url)
        if self._cache is not None:
            try:
                self._cache.put(key, record.to_json(), ttl)
            except StoreError as exc:
                log.warning("CIMD cache unavailable, document not cached: %s", exc)
        return record

    def fetch(self, client_id: str) -> tuple[ClientRecord, int]:
        """Fetch and validate the document, bypassing the cache; the record and its TTL."""
        url = check_client_id_url(client_id)
        host = urlsplit(url).hostname
        try:
            body, headers = self._download(url)
        except CIMDError as exc:
            log.info("CIMD document of %s refused: %s", host, exc.description)
            raise
        now = self._clock()
        record = self._validate(url, body, headers, now)
        return record, cache_lifetime(headers, now=now, default=self.default_ttl)

    def _cache_get(self, key: str) -> ClientRecord | None:
        if self._cache is None:
            return None
        try:
            return ClientRecord.from_json(self._cache.get(key))
        except StoreError as exc:
            log.warning("CIMD cache unavailable, fetching: %s", exc)
            return None

    def _session_for(self, url: str) -> requests.Session:
        session = self._session if isinstance(self._session, requests.Session) else self._session()
        if not isinstance(session.get_adapter(url), GuardedAdapter):
            raise TypeError("CIMD fetches need a session with ssrf.GuardedAdapter mounted")
        return session

    def _download(self, url: str) -> tuple[bytes, Mapping[str, str]]:
        session = self._session_for(url)
        started = time.monotonic()
        # The deadline cuts the connection when the time is up, however slowly the server
        # drips its handshake, headers or body; a failure after that is "took too long".
        with fetch_deadline(self.deadline) as limit:
            try:
                response = session.get(
                    url,
                    headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except BlockedAddress as exc:
                raise CIMDError(f"client_id URL host {exc}") from None
            except requests.RequestException as exc:
                raise (_too_long() if limit.expired else _failure(exc)) from None
            with response:
                try:
                    self._check_answer(response)
                    body = self._read(response, started)
                except CIMDError:
                    if limit.expired:
                        raise _too_long() from None
                    raise
                if limit.expired:  # cut mid-body: what was read may look complete
                    raise _too_long()
                return body, response.headers

    def _check_answer(self, response: requests.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            raise CIMDError(f"client metadata URL answered a redirect ({status}): not followed")
        if status != 200:
            transient = status >= 500 or status == 429
            raise CIMDError(f"client metadata URL answered HTTP {status}", transient=transient)
        media = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if not _JSON_TYPE.fullmatch(media):
            raise CIMDError("client metadata document is not JSON (Content-Type)")
        length = _digits(response.headers.get("Content-Length", ""))
        if length is not None and length > self.max_bytes:
            raise CIMDError(f"client metadata document is larger than {self.max_bytes} bytes")

    def _read(self, response: requests.Response, started: float) -> bytes:
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=4096):
                body += chunk
                if len(body) > self.max_bytes:
                    raise CIMDError(
                        f"client metadata document is larger than {self.max_bytes} bytes"
                    )
                if time.monotonic() - started > self.deadline:
                    raise _too_long()
        except requests.RequestException as exc:
            raise _failure(exc) from None
        return bytes(body)

    def _validate(
        self, url: str, body: bytes, headers: Mapping[str, str], now: float
    ) -> ClientRecord:
        try:
            document = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the stack
            raise CIMDError("client metadata document is not valid UTF-8 JSON") from None
        if not isinstance(document, dict):
            raise CIMDError("client metadata document is not a JSON object")
        if document.get("client_id") != url:
            raise CIMDError("client metadata document's client_id differs from its URL")
        if document.get("token_endpoint_auth_method", "none") != "none":
            raise CIMDError("only public clients are supported (token_endpoint_auth_method none)")
        if "client_secret" in document or "client_secret_expires_at" in document:
            raise CIMDError("client metadata document may not hold a client secret")
        try:
            fields = _read_fields(document, self.rules)
        except OAuthError as exc:
            raise CIMDError(f"client metadata document: {exc.description}") from None
        return ClientRecord(client_id=url, kind="cimd", issued_at=int(now), **fields)


def _read_fields(document: dict[str, Any], rules: RedirectRules) -> dict[str, Any]:
    return read_client_metadata(
        document, rules=rules, redirect_error="invalid_client", metadata_error="invalid_client"
    )


def _digits(text: str) -> int | None:
    """A header's non-negative integer, else None; absurdly long ones count as 10**18. Not
    ``str.isdigit``: it is true for "²", which latin-1 header text can hold and ``int``
    refuses (a ValueError, so a 500), as it refuses more than 4300 digits."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text) if len(text) <= 18 else 10**18


def _too_long() -> CIMDError:
    return CIMDError("client metadata fetch took too long", transient=True)


def _failure(exc: requests.RequestException) -> CIMDError:
    return CIMDError(_network_failure(exc), transient=True)


def _network_failure(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "client metadata URL failed TLS verification"
    if isinstance(exc, requests.Timeout):
        return "client metadata fetch timed out"
    return "client metadata URL could not be reached"
