"""``ClerkMiddleware``: Clerk bearer-token protection for any WSGI application.

Django, Falcon, Bottle or a bare WSGI callable get what ``require_clerk`` gives a Flask view,
from the same pieces: ``settings.load_settings`` (same keys, same checks, same errors), the
``ClerkVerifier`` built by ``assembly``, the RFC 6750 answers of ``bearer`` and the RFC 9728
documents of ``mcp.documents``. No Flask app is created or consulted anywhere on this path.

Which requests it takes (the rest reach the wrapped app untouched):

- ``GET``/``HEAD``/``OPTIONS`` of the protected-resource documents
  (``/.well-known/oauth-protected-resource`` and the MCP endpoint's), answered here;
- requests under a ``protect`` prefix, except a bodiless ``OPTIONS`` (a CORS preflight
  carries no credentials and no body; the app answers it; an ``OPTIONS`` with a body is
  authenticated like any request). A prefix matches on path-segment boundaries: ``/mcp``
  covers ``/mcp`` and ``/mcp/anything``, never ``/mcpx``; ``/`` covers everything. The path
  is also matched after collapsing ``//`` and resolving ``.``/``..`` segments, so a router that
  normalizes paths cannot be reached around the check.

A request that passes carries its ``AccessToken`` in ``environ["flask_clerk_mcp.access_token"]``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import signals
from .assembly import build_verifier
from .bearer import AuthAnswer, auth_answer, log_rejection, needed_scopes, parse_bearer
from .config_values import str_list
from .errors import ClerkAuthError, ConfigurationError, MissingToken
from .mcp.documents import (
    CACHE_CONTROL,
    CORS_HEADERS,
    protected_resource_metadata,
    resource_metadata_url,
    served_documents,
)
from .scopes import check_scopes
from .settings import Settings, load_settings
from .tokens import AccessToken
from .verifier import ClerkVerifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Where a verified request's ``AccessToken`` is put in the WSGI environ.
ENVIRON_KEY = "flask_clerk_mcp.access_token"
_METADATA_METHODS = ("GET", "HEAD", "OPTIONS")
ProtectSpec = Iterable[str] | Mapping[str, Iterable[str] | str | None]


class ClerkMiddleware:
    """Protect paths of a WSGI app with Clerk access tokens.

    ``ClerkMiddleware(app, protect=["/mcp"], scopes=None, domain=..., client_id=...,
    client_secret=..., base_url=...)``. ``settings`` are the ``CLERK_*`` keys in lower case
    without the prefix, as ``ClerkMCP`` takes them; ``config`` may hold ``CLERK_*`` keys (e.g.
    ``os.environ``), which ``settings`` override. ``protect`` is a list of path prefixes, or a
    mapping of prefix → scopes that prefix needs on top of ``scopes`` (default: the MCP path).
    Every token needs ``CLERK_REQUIRED_SCOPES`` too.

    The middleware speaks direct mode only (MCP clients log in at Clerk itself): it serves no
    OAuth proxy and no browser login, so ``mcp_mode="proxy"`` and ``login=True`` are errors.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        protect: ProtectSpec | None = None,
        scopes: Iterable[str] | str | None = None,
        config: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.app = app
        self.settings = _middleware_settings(config or {}, settings)
        #: Verifies tokens; ``flask_clerk_mcp.testing`` may swap in a stand-in.
        self.verifier: ClerkVerifier = build_verifier(self.settings, self.settings.store_key)
        common = str_list(scopes, "scopes")
        self.rules = _protect_rules(protect, self.settings.mcp_path, common)
        name = getattr(app, "__name__", None) or urlsplit(self.settings.base_url).hostname or ""
        self._documents = {
            path: _json(protected_resource_metadata(self.settings, resource, name))
            for path, resource in served_documents(self.settings).items()
        }

    def __repr__(self) -> str:
        return f"ClerkMiddleware({self.app!r}, protect={[p for p, _ in self.rules]!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        document = self._documents.get(path)
        if document is not None:
            return _serve_document(document, method, start_response)
        route_scopes = self.scopes_for(path)
        if route_scopes is None:
            return self.app(environ, start_response)
        if method == "OPTIONS" and not _has_body(environ):
            return self.app(environ, start_response)  # a CORS preflight: the app answers it
        needed = needed_scopes(self.settings, route_scopes)
        try:
            access_token = self._authenticate(environ, needed)
        except ClerkAuthError as exc:
            exc.challenge_scopes = needed
            log_rejection(method, path, exc)
            signals.token_rejected.send(
                self, reason=exc.description, status=exc.status, client_id=exc.client_id
            )
            answer = auth_answer(exc, self.settings, resource_metadata_url(self.settings, path))
            return _send_answer(answer, start_response)
        environ[ENVIRON_KEY] = access_token
        signals.token_verified.send(self, token=access_token)
        return self.app(environ, start_response)

    def scopes_for(self, path: str) -> tuple[str, ...] | None:
        """The scopes a request to ``path`` needs besides ``CLERK_REQUIRED_SCOPES``, or None
        when no ``protect`` prefix covers it (the longest matching prefix decides)."""
        candidates = {path, _normalized(path)}
        for prefix, prefix_scopes in self.rules:
            if any(_covers(prefix, candidate) for candidate in candidates):
                return prefix_scopes
        return None

    def _authenticate(self, environ: WSGIEnvironment, needed: tuple[str, ...]) -> AccessToken:
        header = environ.get("HTTP_AUTHORIZATION")
        token = parse_bearer([] if header is None else [str(header)])
        if token is None:
            raise MissingToken("Authentication required: send a Bearer access token")
        access_token = self.verifier.verify(token)
        check_scopes(access_token, needed, self.settings.scope_implies)
        return access_token


def _middleware_settings(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> Settings:
    """``load_settings`` with the middleware's defaults: direct mode, no login."""
    options = dict(overrides)
    if "mcp_mode" not in options and "CLERK_MCP_MODE" not in config:
        options["mcp_mode"] = "direct"
    if "login" not in options and "CLERK_LOGIN" not in config:
        options["login"] = False
    settings = load_settings(config, options)
    if settings.mcp_mode != "direct":
        raise ConfigurationError(
            "CLERK_MCP_MODE",
            "the WSGI middleware serves no OAuth proxy: use 'direct' (MCP clients log in at "
            "Clerk), or the Flask extension for proxy mode",
        )
    if settings.login is True:
        raise ConfigurationError(
            "CLERK_LOGIN", "the WSGI middleware has no browser login: leave it unset or False"
        )
    return settings


def _protect_rules(
    protect: ProtectSpec | None, mcp_path: str, common: tuple[str, ...]
) -> list[tuple[str, tuple[str, ...]]]:
    """(prefix, scopes) pairs, longest prefix first so the most specific one decides."""
    if protect is None:
        protect = [mcp_path]
    if isinstance(protect, str):
        raise ConfigurationError("protect", "must be a list of path prefixes, not one string")
    items: dict[str, tuple[str, ...]] = {}
    if isinstance(protect, Mapping):
        for prefix, extra in protect.items():
            own = str_list(extra, f"protect[{prefix!r}]")
            items[_prefix(prefix)] = common + tuple(s for s in own if s not in common)
    else:
        for prefix in protect:
            items[_prefix(prefix)] = common
    if not items:
        raise ConfigurationError("protect", "names no path: the middleware would protect nothing")
    return sorted(items.items(), key=lambda item: len(item[0]), reverse=True)


_PLAIN_PATH = re.compile(r"^/[^?#\s\\]*$")


def _prefix(value: Any) -> str:
    if not isinstance(value, str) or not _PLAIN_PATH.match(value) or "//" in value:
        raise ConfigurationError("protect", f"{value!r} is not a path starting with '/'")
    return value.rstrip("/") or "/"


def _normalized(path: str) -> str:
    """``path`` with ``//`` collapsed and dot segments resolved (never above the root)."""
    return posixpath.normpath(re.sub(r"/{2,}", "/", path)) if path.startswith("/") else path


def _has_body(environ: WSGIEnvironment) -> bool:
    """Whether the request carries a body. A CORS preflight never does, so an ``OPTIONS``
    with one is no preflight: it is authenticated, lest an app that does not dispatch on the
    method (a bare WSGI callable, a Django function view) run it unauthenticated."""
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return True
    length = str(environ.get("CONTENT_LENGTH") or "").strip()
    return length not in ("", "0")


def _covers(prefix: str, path: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def _json(document: Mapping[str, Any]) -> bytes:
    """Compact, sorted keys, a final newline: what Flask's ``jsonify`` writes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _serve_document(document: bytes, method: str, start_response: StartResponse) -> Iterable[bytes]:
    cors = list(CORS_HEADERS.items())
    if method == "OPTIONS":
        start_response(_status_line(204), cors)
        return [b""]
    if method not in _METADATA_METHODS:
        body = _json({"error": "method_not_allowed", "error_description": "Use GET"})
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Allow", ", ".join(_METADATA_METHODS)),
        ]
        start_response(_status_line(405), headers)
        return [body]
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(document))),
        ("Cache-Control", CACHE_CONTROL),
        *cors,
    ]
    start_response(_status_line(200), headers)
    return [b"" if method == "HEAD" else document]


def _send_answer(answer: AuthAnswer, start_response: StartResponse) -> Iterable[bytes]:
    body = _json(answer.body)
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        *answer.headers,
    ]
    start_response(_status_line(answer.status), headers)
    return [body]
