"""HTTP to the authorization server and other upstreams: one room for every outbound call.

What every call to Clerk shares lives here, so the verifier, the login's token client and the
coming OAuth proxy (token forwarding, revocation, CIMD documents) and JWKS fetching make their
calls the same way:

- **Sessions**: one pooled ``requests.Session`` per thread (requests does not promise thread
  safety; gunicorn ``gthread`` runs many), reused for keep-alive. Each session **refuses every
  cookie**: one session serves every user a thread handles, so a cookie an upstream sets while
  answering for one user's token must never ride along on another user's call.
- **Client credentials**: HTTP Basic with id and secret form-urlencoded first, as RFC 6749
  §2.3.1 requires (``requests``' ``HTTPBasicAuth`` skips that step); without a secret, the
  ``client_id`` goes in the form body instead.
- **Timeouts** always (``CLERK_TIMEOUT`` unless the call says otherwise), redirects never
  followed, and an optional cap on the body size for documents fetched from strangers.
- **Readers**: a JSON object or None (never an exception: nesting bombs included), and a
  bounded ``Retry-After``.

Network failures surface as ``requests.RequestException``; what they mean (no verdict, a 503)
is the caller's call. Knows nothing of Flask, and nothing of tokens.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import urllib.request
from collections.abc import Mapping
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote_plus, urlencode

import requests
from requests.adapters import HTTPAdapter
from requests.utils import resolve_proxies

USER_AGENT = "flask-clerk-mcp"
#: Seconds suggested to clients when an upstream gives no usable ``Retry-After``.
DEFAULT_RETRY_AFTER = 5
_RETRY_AFTER_RE = re.compile(r"[0-9]{1,6}")

Timeout = tuple[float, float]


class RefuseAllCookies(DefaultCookiePolicy):
    """A cookie policy that neither stores nor sends any cookie: upstream calls are stateless."""

    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        """Store nothing an upstream sets."""
        return False

    def return_ok(self, cookie: Cookie, request: Any) -> bool:
        """Send nothing, should a cookie be in the jar anyway."""
        return False


class ResponseTooLarge(requests.RequestException):
    """The body went past the ``max_bytes`` the call allowed (read no further)."""


def new_session() -> requests.Session:
    """A pooled session without retries and without cookies, its environment read once."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.cookies.set_policy(RefuseAllCookies())
    _read_environment_once(session)
    return session


def _read_environment_once(session: requests.Session) -> None:
    """Take from the environment, now, what requests would re-read on every call.

    With ``trust_env`` requests scans the whole environment twice per call for proxies and
    stats ``~/.netrc``: a third of the CPU of a cold verification (benchmarks/RESULTS.md).
    Without a proxy configured, the only thing the environment still decides is the CA bundle
    (``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``), taken here once per session (so set it
    before the first call). ``~/.netrc`` is no longer read, which is as it should be: every
    call here carries its own credentials, and a netrc entry would have replaced them. With
    a proxy configured, requests keeps its per-call handling (``NO_PROXY`` rules and all).
    """
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    if not urllib.request.getproxies():
        session.trust_env = False


def basic_auth_header(client_id: str, client_secret: str) -> str:
    """HTTP Basic credentials, each part form-urlencoded first as RFC 6749 §2.3.1 requires."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not JSON, not an object, or nested too deep)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def retry_after(response: requests.Response, default: int = DEFAULT_RETRY_AFTER) -> int:
    """``Retry-After`` in whole seconds within [1, 60]; ``default`` when absent or a date."""
    value = response.headers.get("Retry-After", "")
    return min(max(int(value), 1), 60) if _RETRY_AFTER_RE.fullmatch(value) else default


class Upstream:
    """Outbound HTTP for one app: per-thread sessions and the app's client credentials.

    Safe to share across threads. ``client_secret`` None means a public client (the
    ``client_id`` then goes in form bodies).
    """

    def __init__(self, client_id: str, client_secret: str | None, timeout: Timeout) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"Upstream(client_id={self.client_id!r}, timeout={self.timeout!r})"

    @property
    def has_secret(self) -> bool:
        """Whether calls can authenticate as a confidential client."""
        return bool(self._client_secret)

    def session(self) -> requests.Session:
        """This thread's session, created on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = new_session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every thread's session (tests, shutdown); later calls open new ones."""
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def client_credentials(self, data: dict[str, str]) -> dict[str, str]:
        """Headers that authenticate this client; without a secret, ``client_id`` is added to
        ``data`` instead (RFC 6749 §2.3.1)."""
        if self._client_secret:
            return {"Authorization": basic_auth_header(self.client_id, self._client_secret)}
        data["client_id"] = self.client_id
        return {}

    def post_form(
        self,
        url: str,
        data: Mapping[str, str] | str,
        *,
        authenticate: bool = True,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> requests.Response:
        """POST a form (a mapping, or a body already encoded, e.g. by oauthlib), with the
        client's credentials unless ``authenticate`` is False."""
        sent: dict[str, str] = {"Accept": "application/json"}
        if isinstance(data, str):
            if authenticate and not self._client_secret:
                raise ValueError("an encoded body needs a client secret to authenticate")
            body = data
            if authenticate:
                sent.update(self.client_credentials({}))
        else:
            form = dict(data)
            if authenticate:
                sent.update(self.client_credentials(form))
            body = urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        return self._send("POST", url, sent, body, timeout or self.timeout)

    def get(
        self,
        url: str,
        *,
        bearer: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        max_bytes: int | None = None,
    ) -> requests.Response:
        """GET ``url`` (as ``bearer`` when given); with ``max_bytes``, the body is read up to
        that size and ``ResponseTooLarge`` raised past it (documents fetched from strangers)."""
        sent = {"Accept": "application/json"}
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        sent.update(headers or {})
        response = self._send(
            "GET", url, sent, None, timeout or self.timeout, stream=max_bytes is not None
        )
        if max_bytes is not None:
            _read_capped(response, max_bytes)
        return response

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: str | None,
        timeout: Timeout,
        *,
        stream: bool = False,
    ) -> requests.Response:
        """One call, prepared here and handed to this thread's session's ``send``.

        ``Session.request`` merges session settings, cookies, auth and the environment into
        every call: a quarter of a cold verification's CPU (benchmarks/RESULTS.md). Ours have
        nothing to merge but the session's headers (no cookies by policy, no session auth,
        the environment read once by ``new_session``); proxies still go through requests'
        own resolution.
        """
        session = self.session()
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers={**session.headers, **headers}, data=body)
        return session.send(
            prepared,
            timeout=timeout,
            allow_redirects=False,
            stream=stream,
            verify=session.verify,
            proxies=resolve_proxies(prepared, dict(session.proxies), session.trust_env),
        )


def _read_capped(response: requests.Response, max_bytes: int) -> None:
    """Read a streamed body into ``response`` unless it goes past ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16_384):
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"the response body is over {max_bytes} bytes")
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)  # what .content, .text and .json() read
