"""``/__emulator/…``: controls for tests and benchmarks, under a path Clerk never uses.

Unauthenticated on purpose: the emulator binds loopback and exists to be driven by the test
that started it. Counters, latency and faults are described in ``controls.py``; clients added
here behave exactly like pre-registered ones.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .config import AUTH_METHODS, TOKEN_FORMATS, OAuthClient
from .controls import ENDPOINTS, Fault
from .http_responses import json_answer, oauth_error
from .instance import current
from .register import client_document

bp = Blueprint("emulator_operator", __name__, url_prefix="/__emulator")


def _json_body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _bad(description: str) -> Response:
    return oauth_error("invalid_request", description)


@bp.get("/counters")
def counters() -> Response:
    counts = dict.fromkeys(ENDPOINTS, 0)
    counts.update(current().controls.counters())
    return json_answer(counts)


@bp.post("/reset-counters")
def reset_counters() -> Response:
    current().controls.reset_counters()
    return Response(status=204)


@bp.route("/latency", methods=["GET", "POST"])
def latency() -> Response:
    controls = current().controls
    if request.method == "POST":
        body = _json_body()
        ms = body.get("ms") if body else None
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            return _bad('send {"ms": <non-negative integer>}')
        controls.set_latency(ms)
    return json_answer({"ms": controls.latency_ms})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    controls = current().controls
    if request.method == "DELETE":
        controls.clear_faults()
    elif request.method == "POST":
        body = _json_body()
        if body is None:
            return _bad("send a JSON object")
        count = body.get("count", 1)
        hang = body.get("hang_seconds", 5.0)
        if not isinstance(count, int) or not isinstance(hang, int | float):
            return _bad("count must be an integer and hang_seconds a number")
        try:
            controls.add_fault(
                str(body.get("endpoint")),
                Fault(mode=str(body.get("mode")), hang_seconds=float(hang)),
                count,
            )
        except ValueError as error:
            return _bad(str(error))
        return json_answer({"pending": controls.pending_faults()}, 201)
    return json_answer({"pending": controls.pending_faults()})


def _keys_document() -> Response:
    keys = current().keys
    return json_answer({"current": keys.kid, "published": keys.published_kids()})


@bp.get("/keys")
def keys() -> Response:
    """The signing key's ``kid`` and every ``kid`` the JWKS publishes."""
    return _keys_document()


@bp.post("/keys/rotate")
def rotate_keys() -> Response:
    """Sign with a new key from now on. ``{"keep_previous": false}`` also unpublishes the old
    key at once (tokens it signed meet an unknown ``kid``); by default it stays published."""
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        return _bad("send a JSON object, or nothing")
    keep = body.get("keep_previous", True)
    if not isinstance(keep, bool):
        return _bad("keep_previous must be true or false")
    current().keys.rotate(keep_previous=keep)
    return _keys_document()


@bp.delete("/keys/retired")
def drop_retired_keys() -> Response:
    """Unpublish every retired key: the end of the "for a while" after a rotation."""
    current().keys.drop_retired()
    return _keys_document()


@bp.route("/token-format", methods=["GET", "POST"])
def token_format() -> Response:
    """Which access tokens the instance issues: ``{"format": "jwt"}`` or ``"opaque"``."""
    state = current().state
    if request.method == "POST":
        body = _json_body()
        value = body.get("format") if body else None
        if value not in TOKEN_FORMATS:
            return _bad('send {"format": "jwt"} or {"format": "opaque"}')
        state.set_access_token_format(str(value))
    return json_answer({"format": state.access_token_format})


#: Bounds of ``/__emulator/access-token-ttl``: a year in the past to ten years ahead.
TTL_RANGE = (-365 * 86400, 10 * 365 * 86400)


@bp.route("/access-token-ttl", methods=["GET", "POST"])
def access_token_ttl() -> Response:
    """Seconds access tokens issued from now on live: ``{"seconds": N}``. Zero or less mints
    tokens that are already expired (``exp`` in the past), so a test holds an expired token
    without waiting for one to age."""
    config = current().config
    if request.method == "POST":
        body = _json_body()
        seconds = body.get("seconds") if body else None
        low, high = TTL_RANGE
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not low <= seconds <= high:
            return _bad(f'send {{"seconds": <integer from {low} to {high}>}}')
        config.access_token_ttl = seconds
    return json_answer({"seconds": config.access_token_ttl})


@bp.post("/clients")
def register_client() -> Response:
    """Add or replace a pre-registered client: ``client_id``, ``client_secret`` (omit for a
    public client, with ``token_endpoint_auth_method: "none"``), ``redirect_uris``,
    optional ``client_name`` and ``scope``."""
    body = _json_body()
    if body is None:
        return _bad("send a JSON object")
    client_id = body.get("client_id")
    uris = body.get("redirect_uris")
    method = body.get("token_endpoint_auth_method", "client_secret_basic")
    if not isinstance(client_id, str) or not client_id:
        return _bad("client_id is required")
    if not isinstance(uris, list) or not all(isinstance(u, str) and u for u in uris):
        return _bad("redirect_uris must be a list of strings")
    if method not in AUTH_METHODS:
        return _bad("unsupported token_endpoint_auth_method")
    scope = body.get("scope")
    try:
        client = OAuthClient(
            client_id=client_id,
            client_secret=body.get("client_secret"),
            redirect_uris=uris,
            client_name=str(body.get("client_name") or client_id),
            token_endpoint_auth_method=method,
            scopes=tuple(scope.split()) if isinstance(scope, str) else None,
        )
    except ValueError as error:
        return _bad(str(error))
    current().state.register_client(client)
    return json_answer(client_document(client), 201)


@bp.post("/clients/<client_id>/redirect_uris")
def add_redirect_uri(client_id: str) -> Response:
    """Allow one more redirect URI (``{"redirect_uri": …}``) for an existing client."""
    body = _json_body()
    uri = body.get("redirect_uri") if body else None
    if not isinstance(uri, str) or not uri:
        return _bad("redirect_uri is required")
    try:
        client = current().state.add_redirect_uri(client_id, uri)
    except KeyError:
        return oauth_error("invalid_client", "no such client", 404)
    document = client_document(client)
    document.pop("client_secret", None)
    return json_answer(document)
