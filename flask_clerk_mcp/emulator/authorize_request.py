"""Validation of an ``/oauth/authorize`` request, in the order that decides how to refuse.

Two kinds of refusal exist (RFC 6749 §4.1.2.1). While the client or the redirect URI is in
doubt the user sees an error page and is never redirected, or the endpoint would be an open
redirector. Once both are known good, every other problem goes back to the client as
``error=…`` on its redirect URI. ``parse_authorize_request`` returns either a finished request
or a refusal describing which kind it is; the view turns that into a response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import DEFAULT_SCOPE, KNOWN_SCOPES, OAuthClient

#: RFC 7636 §4.2: a code challenge is 43 to 128 unreserved characters (S256 gives 43).
CODE_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
RESPONSE_MODES = ("query", "form_post")
PROMPTS = ("none", "login", "consent")
MIN_STATE_LENGTH = 8


@dataclass(frozen=True)
class ShowErrorPage:
    """Refuse without redirecting: the client or its redirect URI cannot be trusted."""

    title: str
    detail: str


@dataclass(frozen=True)
class RedirectError:
    """Refuse by sending ``error`` back to the (verified) redirect URI."""

    redirect_uri: str
    response_mode: str
    state: str | None
    error: str
    description: str


@dataclass(frozen=True)
class AuthorizeRequest:
    client: OAuthClient
    redirect_uri: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    nonce: str | None
    force_consent: bool
    resource: str | None = None


Outcome = ShowErrorPage | RedirectError | AuthorizeRequest


def _single(params: Mapping[str, Sequence[str]], name: str) -> tuple[str | None, bool]:
    """The value of a parameter sent at most once (RFC 6749 §3.1); ``ok`` False if repeated."""
    values = params.get(name) or []
    if len(values) > 1:
        return None, False
    return (values[0] if values else None), True


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[0] if values else None


def parse_scopes(
    raw: str, allowed: Sequence[str] | None, known: Sequence[str] = KNOWN_SCOPES
) -> tuple[tuple[str, ...] | None, str]:
    """Split a ``scope`` string; ``(None, reason)`` when a scope is unknown (not in ``known``,
    the instance's scopes) or not allowed."""
    scopes: list[str] = []
    for scope in raw.split(" "):
        if not scope:
            continue
        if scope not in known:
            return None, f"unknown scope {scope!r}"
        if allowed is not None and scope not in allowed:
            return None, f"scope {scope!r} is not allowed for this client"
        if scope not in scopes:
            scopes.append(scope)
    if not scopes:
        return None, "scope is empty"
    return tuple(scopes), ""


def resource_problem(values: Sequence[str]) -> str | None:
    """Why RFC 8707 ``resource`` values cannot be granted (``invalid_target``), or ``None``.

    An absolute URI without a fragment (RFC 8707 §2). One at most: the emulator, like Clerk
    ("Clerk issues tokens for a single resource"), binds a token to a single audience.
    """
    if len(values) > 1:
        return "this instance issues tokens for a single resource"
    for value in values:
        parts = urlsplit(value)
        if not parts.scheme or not parts.netloc or "#" in value:
            return "resource must be an absolute URI without a fragment"
    return None


def parse_authorize_request(
    params: Mapping[str, Sequence[str]],
    lookup_client: Callable[[str], OAuthClient | None],
    known_scopes: Sequence[str] = KNOWN_SCOPES,
) -> Outcome:
    """Check one authorization request; ``params`` maps each name to every value sent."""
    client_id, ok = _single(params, "client_id")
    if not ok:
        return ShowErrorPage("Invalid request", "client_id was sent more than once.")
    if not client_id:
        return ShowErrorPage("Invalid request", "client_id is required.")
    client = lookup_client(client_id)
    if client is None:
        return ShowErrorPage("Unknown application", "No OAuth application has this client_id.")

    redirect_uri, ok = _single(params, "redirect_uri")
    if not ok or not redirect_uri:
        return ShowErrorPage("Invalid request", "Exactly one redirect_uri is required.")
    if redirect_uri not in client.redirect_uris:
        return ShowErrorPage(
            "Invalid redirect URI",
            "The redirect_uri is not registered for this application (exact match required).",
        )

    state, _ = _single(params, "state")
    response_mode, ok = _single(params, "response_mode")
    if not ok or (response_mode is not None and response_mode not in RESPONSE_MODES):
        return RedirectError(
            redirect_uri,
            "query",
            state,
            "invalid_request",
            "response_mode must be query or form_post",
        )
    mode = response_mode or "query"

    def refuse(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, mode, state, error, description)

    resources = list(params.get("resource") or [])
    problem = resource_problem(resources)
    if problem is not None:
        return refuse("invalid_target", problem)

    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        return refuse("invalid_request", f"{repeated[0]} was sent more than once")

    response_type = _first(params, "response_type")
    if not response_type:
        return refuse("invalid_request", "response_type is required")
    if response_type != "code":
        return refuse("unsupported_response_type", "only response_type=code is supported")

    if state is not None and len(state) < MIN_STATE_LENGTH:
        return refuse("invalid_request", f"state must be at least {MIN_STATE_LENGTH} characters")

    challenge = _first(params, "code_challenge")
    method = _first(params, "code_challenge_method")
    if challenge is not None or method is not None:
        if method != "S256":
            return refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            )
        if challenge is None or not CODE_CHALLENGE_RE.match(challenge):
            return refuse("invalid_request", "code_challenge is missing or malformed")
    if client.is_public and challenge is None:
        return refuse("invalid_request", "code_challenge is required for public clients")
    if state is None and challenge is None:
        return refuse("invalid_request", "state is required unless PKCE parameters are provided")

    raw_scope = _first(params, "scope")
    scopes, reason = parse_scopes(
        DEFAULT_SCOPE if raw_scope is None else raw_scope, client.scopes, known_scopes
    )
    if scopes is None:
        return refuse("invalid_scope", reason)

    prompt = (_first(params, "prompt") or "").split()
    if any(value not in PROMPTS for value in prompt) or ("none" in prompt and len(prompt) > 1):
        return refuse("invalid_request", "prompt must be none, login or consent")
    if "none" in prompt:
        # The emulator keeps no sign-in session, so nobody is ever already signed in.
        return refuse("login_required", "the user must sign in")

    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        response_mode=mode,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        nonce=_first(params, "nonce"),
        force_consent="consent" in prompt,
        resource=resources[0] if resources else None,
    )
