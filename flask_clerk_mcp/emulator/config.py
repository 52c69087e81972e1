"""What one emulated Clerk instance knows at start: its clients, its users, its knobs.

Plain dataclasses, so a test can build exactly the instance it needs
(``EmulatorConfig(consent_required=False, clock=fake_clock)``) and the command line can build
one from flags. The running state (tokens, codes, clients registered later) lives in
``state.py``; this module only describes the starting point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Every scope the instance knows, in Clerk's documented order. ``user:org:read`` is known
#: although Clerk offers it only when Organizations are enabled: the emulator always has them.
KNOWN_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "public_metadata",
    "private_metadata",
    "offline_access",
    "user:org:read",
)

#: What ``/oauth/authorize`` grants when no ``scope`` is sent (Clerk's FAPI spec).
DEFAULT_SCOPE = "profile email"

#: Token endpoint authentication methods a client may be registered with.
AUTH_METHODS: tuple[str, ...] = ("client_secret_basic", "client_secret_post", "none")

GRANT_TYPES: tuple[str, ...] = ("authorization_code", "refresh_token")

#: Access token formats: ``jwt`` (RS256, ``typ: at+jwt``), as Clerk's new OAuth applications
#: issue, or ``opaque`` (``oat_…``), as its older ones do.
TOKEN_FORMATS: tuple[str, ...] = ("jwt", "opaque")


def check_token_format(value: str) -> str:
    """``value`` if it is a known access token format, else ``ValueError``."""
    if value not in TOKEN_FORMATS:
        known = ", ".join(TOKEN_FORMATS)
        raise ValueError(f"unknown access token format {value!r}; one of {known}")
    return value


@dataclass
class OAuthClient:
    """One OAuth application of the instance, pre-registered or registered dynamically.

    A client without a secret is public (``token_endpoint_auth_method="none"``): it must use
    PKCE and cannot call introspection or revocation, which need HTTP Basic credentials.
    ``scopes`` of ``None`` means every known scope may be requested.
    """

    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    client_name: str = "Emulator demo app"
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name
    scopes: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] = GRANT_TYPES
    dynamic: bool = False
    issued_at: int = 0

    def __post_init__(self) -> None:
        if self.token_endpoint_auth_method not in AUTH_METHODS:
            raise ValueError(
                f"unknown token_endpoint_auth_method {self.token_endpoint_auth_method!r}"
            )
        if self.is_public and self.client_secret:
            raise ValueError(f"public client {self.client_id!r} cannot have a secret")
        if not self.is_public and not self.client_secret:
            raise ValueError(f"confidential client {self.client_id!r} needs a client_secret")
        self.redirect_uris = list(self.redirect_uris)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name

    def __repr__(self) -> str:  # never show the secret
        return (
            f"OAuthClient(client_id={self.client_id!r}, redirect_uris={self.redirect_uris!r}, "
            f"token_endpoint_auth_method={self.token_endpoint_auth_method!r})"
        )


@dataclass(frozen=True)
class DemoUser:
    """A user who can sign in. ``handle`` is what the sign-in page's buttons carry."""

    handle: str
    user_id: str
    email: str
    first_name: str
    last_name: str
    username: str
    image_url: str
    email_verified: bool = True
    org_id: str | None = None
    org_name: str | None = None
    org_slug: str | None = None
    public_metadata: dict[str, object] = field(default_factory=dict)
    private_metadata: dict[str, object] = field(default_factory=dict)
    unsafe_metadata: dict[str, object] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


DEMO_CLIENT_ID = "emu_client_demo"
DEMO_CLIENT_SECRET = "emu_secret_demo"  # noqa: S105 - a published demo credential
DEMO_REDIRECT_URIS: tuple[str, ...] = (
    "http://127.0.0.1:5000/auth/callback",
    "http://localhost:5000/auth/callback",
    "http://127.0.0.1:8000/auth/callback",
    "http://localhost:8000/auth/callback",
)


def default_clients() -> dict[str, OAuthClient]:
    """The one confidential demo client the example app is configured with."""
    client = OAuthClient(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=list(DEMO_REDIRECT_URIS),
    )
    return {client.client_id: client}


ALICE = DemoUser(
    handle="alice",
    user_id="user_2alice000000000000000000000",
    email="alice@example.com",
    first_name="Alice",
    last_name="Liddell",
    username="alice",
    image_url="https://img.example.com/emulator/alice.png",
    org_id="org_2acme0000000000000000000000",
    org_name="Acme Corp",
    org_slug="acme",
    public_metadata={"role": "admin"},
    private_metadata={"plan": "pro"},
)
BOB = DemoUser(
    handle="bob",
    user_id="user_2bob00000000000000000000000",
    email="bob@example.com",
    first_name="Bob",
    last_name="Builder",
    username="bob",
    image_url="https://img.example.com/emulator/bob.png",
    email_verified=False,
)


def default_users() -> dict[str, DemoUser]:
    """Alice (verified email, member of an organization) and Bob (unverified, no org)."""
    return {user.handle: user for user in (ALICE, BOB)}


@dataclass
class EmulatorConfig:
    """The starting point of one emulated instance.

    ``issuer`` may stay empty: the app then uses the URL it is reached at, and
    ``EmulatorServer`` fills it in once it knows its port. ``clock`` returns epoch seconds;
    tests swap it to expire codes and tokens without sleeping.
    """

    issuer: str = ""
    #: ``"jwt"`` (Clerk's default for new OAuth applications) or ``"opaque"`` (older ones).
    access_token_format: str = "jwt"  # noqa: S105 - a format name
    #: Whether ``/oauth/token/revoke`` revokes a JWT access token (it is then inactive at
    #: introspection and refused by userinfo). Clerk documents ``400 unsupported_token_type``
    #: for them instead, which ``False`` reproduces; see the package docstring.
    jwt_access_tokens_revocable: bool = True
    clients: dict[str, OAuthClient] = field(default_factory=default_clients)
    users: dict[str, DemoUser] = field(default_factory=default_users)
    access_token_ttl: int = 86400
    #: ``None``: refresh tokens never expire (Clerk's docs say so; its spec says 10 years).
    refresh_token_ttl: int | None = None
    authorization_code_ttl: int = 600
    #: How long a started sign-in may sit on the sign-in or consent page.
    pending_authorization_ttl: int = 900
    id_token_ttl: int = 86400
    dcr_enabled: bool = True
    #: Custom scopes made in the dashboard (Scopes tab), known beside Clerk's built-in ones:
    #: requestable, granted and advertised like them (e.g. ``("notes:write",)``).
    custom_scopes: tuple[str, ...] = ()
    #: Scopes a dynamically registered client gets when it names none.
    dcr_default_scopes: tuple[str, ...] = ("openid", "profile", "email", "offline_access")
    #: ``True`` refuses every registration field outside Clerk's published schema, even
    #: standard RFC 7591 ones such as ``grant_types``; see the package docstring.
    dcr_strict_schema: bool = False
    latency_ms: int = 0
    consent_required: bool = True
    #: RFC 9207: add ``iss`` to authorization responses (and advertise it). Off, as Clerk
    #: does not advertise it.
    authorization_response_iss: bool = False
    instance_id: str = "ins_2emulator0000000000000000000"
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        check_token_format(self.access_token_format)
        self.custom_scopes = tuple(self.custom_scopes)
        for scope in self.custom_scopes:
            if not scope or any(ch in scope for ch in ' "\\') or not scope.isprintable():
                raise ValueError(f"custom scope {scope!r} is not a valid scope token")

    @property
    def known_scopes(self) -> tuple[str, ...]:
        """Clerk's built-in scopes, then the instance's custom ones."""
        return KNOWN_SCOPES + tuple(s for s in self.custom_scopes if s not in KNOWN_SCOPES)

    def __repr__(self) -> str:
        return (
            f"EmulatorConfig(issuer={self.issuer!r}, clients={sorted(self.clients)!r}, "
            f"users={sorted(self.users)!r}, dcr_enabled={self.dcr_enabled!r}, "
            f"access_token_format={self.access_token_format!r})"
        )
