"""JWT access tokens with every header field and claim varied, *genuinely signed*.

The signature always verifies (a real RSA key, published in the faked JWKS), so only policy
decides. Unlike ``tests/unit/test_local_jwt.py`` (the local verifier alone, a partial
oracle), these go through the whole decorator in both JWT modes and compare its answer with
an oracle written from RFC 9068 / RFC 7519 and DESIGN, not from ``local_jwt``.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import responses
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import example, given
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from flask_clerk_mcp import require_clerk
from tests.unit.conftest import CLIENT_ID, INTROSPECT, ISSUER, USERINFO, build_app

from .conftest import budget, counted
from .strategies import json_values

JWKS = f"{ISSUER}/.well-known/jwks.json"
BASE_URL = "https://mcp.example.com"
RESOURCE = BASE_URL + "/mcp"
KID = "kid_hostile"
REQUIRED = {"openid", "email", "profile"}
LEEWAY = 10
NOW = time.time()

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {
    **RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
    "kid": KID,
    "alg": "RS256",
    "use": "sig",
}

APPS = {
    mode: build_app({"CLERK_TOKEN_VERIFICATION": mode, "CLERK_CACHE_TTL": 0})
    for mode in ("jwt", "jwt+introspection")
}
for _app in APPS.values():
    _app.add_url_rule("/hostile", "hostile", require_clerk(lambda: "ok"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(header: Any, payload: Any) -> str:
    """A compact JWS over exactly these JSON values, with a real RS256 signature."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    signature = KEY.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


def _times(offsets: list[int]) -> st.SearchStrategy[Any]:
    return st.sampled_from([NOW + o for o in offsets] + [int(NOW) + o for o in offsets])


HEADER_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "alg": st.sampled_from(["RS256"] * 6 + ["rs256", "RS384", "PS256", "HS256", "none", "", None])
    | json_values,
    "typ": st.sampled_from(
        ["at+jwt"] * 4
        + [
            "AT+JWT",
            "application/at+jwt",
            "Application/AT+JWT",
            "JWT",
            "at+jwt ",
            "jwt",
            "",
            None,
            ["at+jwt"],
        ]
    )
    | json_values,
    "kid": st.sampled_from(
        [KID] * 6 + ["other", KID + " ", "", None, 1, [KID], KID.upper(), "x" * 300]
    ),
    "crit": st.sampled_from([["exp"], [], ["b64"]]) | json_values,
    "b64": st.booleans(),
    "jku": st.just("https://evil.example/jwks.json"),
    "jwk": st.just({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
    "cty": json_values,
    "x5u": st.just("https://evil.example/cert.pem"),
}
CLAIM_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "iss": st.sampled_from(
        [ISSUER] * 6 + [ISSUER + "/", ISSUER.upper(), ISSUER[:-1], "", None, [ISSUER]]
    )
    | json_values,
    "sub": st.sampled_from(["user_alice"] * 4 + ["", " ", None, 1, ["user_alice"]]),
    "exp": _times([3600, 86400, -3600, -86400])
    | st.sampled_from([0, 2**53, 2**53 + 1, 1e300, True, "9999999999", None, [int(NOW) + 60]]),
    "nbf": _times([-3600, 3600]) | st.sampled_from([0, -1, 2**53 + 1, "0", None, False]),
    "iat": _times([-3600, 3600]) | st.sampled_from([0, -1, 1e300, "0", None]),
    "aud": st.sampled_from(
        [
            CLIENT_ID,
            [CLIENT_ID],
            RESOURCE,
            [RESOURCE],
            BASE_URL,
            [BASE_URL + "/"],
            ["x", RESOURCE],
            [RESOURCE, 1],
            [RESOURCE, ""],
            "other",
            ["other"],
            "*",
            [],
            "",
            None,
            RESOURCE.upper(),
            "https://evil.example/mcp",
        ]
    ),
    "client_id": st.sampled_from([CLIENT_ID] * 3 + ["other", "", None, 1, [CLIENT_ID]]),
    "azp": st.sampled_from([CLIENT_ID, "other", "", None]),
    "scope": st.sampled_from(
        ["openid email profile"] * 4
        + [
            "openid email profile admin",
            "openid email",
            "openid\temail profile",
            "openid\u2003email profile",
            ["openid", "email", "profile"],
            "",
            None,
            1,
        ]
    ),
    "scp": st.sampled_from(
        [["openid", "email", "profile"], ["openid"], "openid email profile", None]
    ),
    "jti": st.sampled_from(["oat_1", 1, None, ""]),
}


def _header_ok(header: Any) -> bool:
    """RFC 9068 §2.1/§4 and DESIGN: RS256 only, typ at+jwt (a media type: case-insensitive,
    ``application/`` optional), no critical extensions, a kid that names our key."""
    if not isinstance(header, dict):
        return False
    typ = header.get("typ")
    return (
        header.get("alg") == "RS256"
        and isinstance(typ, str)
        and typ.lower() in ("at+jwt", "application/at+jwt")
        and "crit" not in header
        and "b64" not in header
        and header.get("kid") == KID
    )


def _date(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if 0 <= value <= 2**53 else None


def _audience_ok(claims: dict[str, Any]) -> bool:
    """``aud`` when present (a non-empty string or list of them) must name our client id or
    one of our two resource URLs; without it, ``client_id`` (else ``azp``) must be ours."""
    if "aud" in claims:
        aud = claims["aud"]
        values = [aud] if isinstance(aud, str) else aud
        if not isinstance(values, list) or not values:
            return False
        if not all(isinstance(a, str) and a for a in values):
            return False
        return bool({CLIENT_ID, RESOURCE, BASE_URL} & set(values))
    party = claims["client_id"] if "client_id" in claims else claims.get("azp")
    return party == CLIENT_ID


def _scopes(claims: dict[str, Any]) -> set[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return {s for s in scope.split(" ") if s}
    listed = claims["scp"] if "scp" in claims else scope
    if isinstance(listed, list):
        return {s for s in listed if isinstance(s, str) and s}
    return set()


def locally_valid(header: Any, claims: Any, token: str) -> bool:
    """Every local rule holds (the signature always does here)."""
    if len(token) > 4096 or len(token.split(".")[0]) > 1024 or not _header_ok(header):
        return False
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
        return False
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        return False
    if "jti" in claims and not isinstance(claims["jti"], str):
        return False  # RFC 7519 §4.1.7: a string (PyJWT enforces it)
    exp = _date(claims.get("exp"))
    if exp is None or exp <= time.time() - LEEWAY:
        return False
    for name in ("nbf", "iat"):
        if name in claims:
            value = _date(claims[name])
            if value is None or value > time.time() + LEEWAY:
                return False
    return _audience_ok(claims)


@budget(500)
@given(
    header=st.fixed_dictionaries({}, optional=HEADER_FIELDS) | json_values,
    claims=st.fixed_dictionaries({}, optional=CLAIM_FIELDS) | json_values,
    mode=st.sampled_from(sorted(APPS)),
)
@example(
    header={"alg": "RS256", "typ": "at+jwt", "kid": KID},
    claims={
        "iss": ISSUER,
        "sub": "user_alice",
        "exp": int(NOW) + 3600,
        "client_id": CLIENT_ID,
        "scope": "openid\temail profile",
    },
    mode="jwt",
)
@counted
def test_signed_jwts_pass_only_when_every_rule_holds(header: Any, claims: Any, mode: str) -> None:
    """Oracle (``locally_valid`` + SP-separated scopes): 401 unless the header is RS256,
    ``at+jwt``, no ``crit``, our ``kid``; ``iss`` exactly ours; ``sub`` a non-empty string;
    ``exp`` a sane number not past; ``nbf``/``iat`` sane and not in the future; the audience
    ours. Then 403 unless every required scope is granted, else 200. In
    ``jwt+introspection`` mode Clerk (which says only ``active: true``) is asked exactly when
    the local rules hold, never about a token refused locally. Never another status."""
    token = signed(header, claims)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as clerk:
        clerk.add(responses.GET, JWKS, json={"keys": [JWK]})
        clerk.add(responses.POST, INTROSPECT, json={"active": True})
        clerk.add(responses.GET, USERINFO, status=500)
        response = (
            APPS[mode].test_client().get("/hostile", headers={"Authorization": f"Bearer {token}"})
        )
        introspections = sum(1 for c in clerk.calls if c.request.url == INTROSPECT)
    if len("Bearer " + token) > 4096:
        assert response.status_code == 400
        return
    valid = locally_valid(header, claims, token)
    assert isinstance(claims, dict) or not valid
    want = (200 if REQUIRED <= _scopes(claims) else 403) if valid else 401
    assert response.status_code == want, (response.get_json(), header, claims)
    assert introspections == (1 if valid and mode == "jwt+introspection" else 0)
