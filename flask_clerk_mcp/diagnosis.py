"""What ``flask clerk check`` finds: the settings, Clerk's discovery document and JWKS, and
whether Clerk accepts this server's client credentials; then what to set in Clerk's dashboard.

Knows nothing of Flask (the CLI hands it ``Settings`` and the app's ``Upstream``), so every
finding is a plain value a test can read. Each finding that fails carries the fix, in the
words of the setting or the dashboard page to change. Never prints a secret or a token.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import requests

from .config_values import is_loopback_host
from .local_jwt import parse_jwks
from .mcp.documents import metadata_path
from .settings import Settings
from .upstream import Upstream, json_object

Level = Literal["ok", "warn", "fail"]
DISCOVERY_PATH = "/.well-known/oauth-authorization-server"
_CREDENTIALS_FIX = (
    "set CLERK_CLIENT_ID and CLERK_CLIENT_SECRET to your OAuth application's Client ID and "
    "Client Secret (Clerk dashboard → Configure → OAuth applications → your application; the "
    "secret is shown once, at creation: generate a new one if it is lost)"
)


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``fix`` says what to change when ``level`` is not ok."""

    level: Level
    topic: str
    message: str
    fix: str | None = None


class Unreachable(Exception):
    """Clerk did not answer at all (DNS, refused connection, timeout, TLS)."""


def check_settings(settings: Settings, load_warnings: Iterable[str] = ()) -> list[Finding]:
    """What the settings alone tell: they loaded (``load_settings`` checked every key), and
    the choices that are legal but will not work with Clerk or with MCP clients."""
    findings = [
        Finding(
            "ok",
            "configuration",
            f"settings valid: issuer {settings.issuer}, client id {settings.client_id}, "
            f"base URL {settings.base_url}, {settings.mcp_mode} mode",
        )
    ]
    findings += [Finding("warn", "configuration", text) for text in load_warnings]
    if not settings.client_secret:
        findings.append(
            Finding(
                "fail",
                "configuration",
                "CLERK_CLIENT_SECRET is not set: Clerk's introspection endpoint requires it",
                _CREDENTIALS_FIX,
            )
        )
    if settings.base_url.startswith("http://") and not _loopback_url(settings.base_url):
        findings.append(
            Finding(
                "warn",
                "configuration",
                f"CLERK_BASE_URL {settings.base_url} is plain http: MCP clients and Clerk "
                "require https outside loopback",
                "serve this app behind a TLS proxy and set CLERK_BASE_URL to its https URL",
            )
        )
    if settings.mcp_mode == "direct" and not settings.accepts_any_client:
        if settings.accepted_client_ids == (settings.client_id,):
            findings.append(
                Finding(
                    "warn",
                    "configuration",
                    "direct mode accepts only tokens issued to CLERK_CLIENT_ID, but MCP "
                    "clients that register at Clerk get client ids of their own",
                    "set CLERK_ACCEPTED_CLIENT_IDS to '*' (any client of the instance) or to "
                    "the ids of the clients you allow",
                )
            )
    return findings


def check_clerk(settings: Settings, upstream: Upstream) -> list[Finding]:
    """Discovery document, JWKS and client credentials, in that order. The first call that
    gets no answer at all names Clerk unreachable and ends the round."""
    findings: list[Finding] = []
    try:
        document = _discovery(settings, upstream, findings)
        _jwks(settings, upstream, document, findings)
        _introspection(settings, upstream, findings)
    except Unreachable as exc:
        findings.append(
            Finding(
                "fail",
                "reachability",
                f"Clerk cannot be reached at {settings.issuer} ({exc})",
                "check CLERK_DOMAIN (or CLERK_ISSUER_URL), DNS, and that this host may make "
                "outbound HTTPS calls (proxy settings: HTTPS_PROXY, REQUESTS_CA_BUNDLE)",
            )
        )
    return findings


def _loopback_url(url: str) -> bool:
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return is_loopback_host(host)


def _call(action: Any, *args: Any, **kwargs: Any) -> requests.Response:
    try:
        response: requests.Response = action(*args, **kwargs)
    except requests.RequestException as exc:
        raise Unreachable(type(exc).__name__) from None
    return response


def _discovery(
    settings: Settings, upstream: Upstream, findings: list[Finding]
) -> dict[str, Any] | None:
    url = settings.issuer + DISCOVERY_PATH
    response = _call(upstream.get, url)
    document = json_object(response) if response.status_code == 200 else None
    if document is None:
        findings.append(
            Finding(
                "fail",
                "discovery",
                f"{url} answered HTTP {response.status_code} without a metadata document",
                "CLERK_DOMAIN must be your instance's Frontend API host (Clerk dashboard → "
                "Configure → Domains), e.g. example-app-16.clerk.accounts.dev",
            )
        )
        return None
    if document.get("issuer") != settings.issuer:
        findings.append(
            Finding(
                "fail",
                "discovery",
                f"the document's issuer is {document.get('issuer')!r}, not {settings.issuer!r}",
                "set CLERK_DOMAIN (or CLERK_ISSUER_URL) to exactly the instance's issuer",
            )
        )
        return None  # another instance's document: follow none of its links
    findings.append(Finding("ok", "discovery", f"discovery document found at {url}"))
    findings.extend(_discovery_details(settings, document))
    return document


def _discovery_details(settings: Settings, document: dict[str, Any]) -> Iterator[Finding]:
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        yield Finding("warn", "discovery", "the instance does not advertise PKCE S256")
    if settings.mcp_mode == "direct" and not document.get("registration_endpoint"):
        yield Finding(
            "warn",
            "discovery",
            "dynamic client registration is off: in direct mode MCP clients register at Clerk",
            "Clerk dashboard → Configure → OAuth applications → enable Dynamic client "
            "registration (or pre-register each MCP client)",
        )


def _jwks(
    settings: Settings,
    upstream: Upstream,
    document: dict[str, Any] | None,
    findings: list[Finding],
) -> None:
    url = settings.issuer + "/.well-known/jwks.json"
    if document is not None and isinstance(document.get("jwks_uri"), str):
        url = document["jwks_uri"]
    response = _call(upstream.get, url)
    keys = parse_jwks(json_object(response)) if response.status_code == 200 else None
    if keys is None:
        findings.append(
            Finding(
                "fail",
                "jwks",
                f"{url} answered HTTP {response.status_code} without a usable RSA key",
                "the instance's signing keys are needed to check JWT access tokens: check "
                "CLERK_DOMAIN / CLERK_ISSUER_URL",
            )
        )
        return
    findings.append(Finding("ok", "jwks", f"{len(keys)} signing key(s) at {url}"))


def _introspection(settings: Settings, upstream: Upstream, findings: list[Finding]) -> None:
    dummy = "flask-clerk-mcp-check-" + secrets.token_urlsafe(12)
    response = _call(
        upstream.post_form,
        settings.introspection_endpoint,
        {"token": dummy, "token_type_hint": "access_token"},
    )
    status = response.status_code
    answer = json_object(response) if status == 200 else None
    if answer is not None and answer.get("active") is False:
        findings.append(
            Finding("ok", "credentials", "Clerk accepted the client credentials (introspection)")
        )
        return
    if status in (401, 403):
        message = f"Clerk refused the client credentials at introspection (HTTP {status})"
        fix = _CREDENTIALS_FIX
    elif status == 422:
        message = "the instance still runs Clerk's legacy OAuth provider (HTTP 422)"
        fix = "migrate to the new OAuth provider in the Clerk dashboard (OAuth applications)"
    elif answer is not None:
        message = "introspection called a made-up token active: this is not Clerk's behaviour"
        fix = "check that CLERK_DOMAIN / CLERK_ISSUER_URL points at a Clerk instance"
    else:
        message = f"introspection answered HTTP {status} without a JSON verdict"
        fix = "try again later; if it persists, check Clerk's status page and CLERK_DOMAIN"
    findings.append(Finding("fail", "credentials", message, fix))


def dashboard_settings(settings: Settings) -> list[tuple[str, str]]:
    """(setting, value) pairs to enter in, or check against, Clerk's dashboard for this mode."""
    callback = settings.base_url + settings.redirect_path
    scopes = list(settings.required_scopes)
    if settings.offline_access and "offline_access" not in scopes:
        scopes.append("offline_access")
    rows = [
        ("MCP endpoint (resource)", settings.mcp_resource),
        ("its metadata", settings.base_url + metadata_path(settings.mcp_path)),
    ]
    if settings.mcp_mode == "proxy":
        rows += [
            ("OAuth application: redirect URI (callback URL)", callback),
            ("OAuth application: client type", "confidential (leave 'Public' off)"),
            ("OAuth application: scopes", " ".join(scopes)),
            ("Dynamic client registration", "not needed: this server registers MCP clients"),
        ]
    else:
        rows += [
            ("Dynamic client registration", "on (MCP clients register at Clerk)"),
            ("OAuth application: scopes", " ".join(scopes)),
            ("redirect URI for browser login (if used)", callback),
        ]
    return rows
