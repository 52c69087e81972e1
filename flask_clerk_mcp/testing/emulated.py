"""``EmulatedClerk``: the offline emulator, in this process, standing in for your Clerk instance.

Your app keeps its real settings and its real verifier: calls to ``CLERK_DOMAIN`` (or
``CLERK_ISSUER_URL``) are answered by an emulator created for the test, through
``transport.intercept``, so nothing goes on the network. Tokens are obtained the way a user
gets them, through the emulator's sign-in and PKCE flow, for a user with the subject and
profile claims you choose: what your app then sees is what it would see from Clerk, refusals
included (a token without a scope, one issued to another client, a revoked one).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import requests

from ..emulator import EmulatorConfig, OAuthClient, create_app, emulator_of
from ..emulator.config import DemoUser
from ..emulator.driver import DriverError, sign_in_with_pkce
from ..settings import Settings
from .transport import WSGITransport, intercept

#: Profile claims the emulator can release (by scope, as Clerk does), with their defaults.
PROFILE_DEFAULTS: dict[str, Any] = {
    "email": None,  # default: <subject>@example.com
    "email_verified": True,
    "given_name": "Test",
    "family_name": "User",
    "picture": "https://img.example.com/test-user.png",
    "preferred_username": None,  # default: the subject
    "org_id": None,
    "org_name": None,
    "org_slug": None,
    "public_metadata": {},
    "private_metadata": {},
    "unsafe_metadata": {},
}
_CALLBACK = "http://127.0.0.1/flask-clerk-mcp-testing/callback"


class EmulatedClerk:
    """An in-process Clerk instance for ``settings``' issuer and OAuth application.

    Use as a context manager (``flask_clerk_mcp.testing.emulated_clerk(app)`` builds one for
    an app or a ``ClerkMiddleware``). ``token()`` and ``headers()`` sign a user in and return
    the access token, or the ``Authorization`` header carrying it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        forget_profile: Callable[[str, tuple[str, ...]], None] | None = None,
        **emulator: Any,
    ) -> None:
        if not settings.client_secret:
            raise ValueError(
                "CLERK_CLIENT_SECRET is not set: Clerk's introspection needs it, so the "
                "emulated Clerk would refuse every verification (set any value in tests)"
            )
        self.settings = settings
        self.client_secret = settings.client_secret
        client = OAuthClient(settings.client_id, settings.client_secret, [_CALLBACK])
        config = EmulatorConfig(
            issuer=settings.issuer,
            clients={client.client_id: client},
            users={},
            dcr_enabled=False,
            consent_required=False,
            **emulator,
        )
        self.app = create_app(config)
        self._secrets = {client.client_id: settings.client_secret}
        self._handles: dict[str, str] = {}
        # The app's verifier caches a JWT user's profile per (subject, scopes); a token minted
        # with changed claims for a known subject must not be answered with the old profile.
        self._forget_profile = forget_profile
        self._issued: dict[str, set[tuple[str, ...]]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._intercepting: Any = None

    @property
    def emulator(self) -> Any:
        """The emulated instance (its state, counters, keys), for assertions."""
        return emulator_of(self.app)

    def __enter__(self) -> EmulatedClerk:
        self._intercepting = intercept({self.settings.issuer: WSGITransport(self.app)})
        self._intercepting.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._intercepting is not None:
            self._intercepting.__exit__(exc_type, exc, tb)
            self._intercepting = None

    def token(
        self,
        subject: str = "user_test",
        scopes: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        *,
        client_id: str | None = None,
    ) -> str:
        """An access token for ``subject`` with ``scopes`` (default: ``CLERK_REQUIRED_SCOPES``)
        and profile ``claims`` (names from ``PROFILE_DEFAULTS``; userinfo releases them by
        scope, as Clerk does). ``client_id`` issues it to another OAuth application, whose
        tokens your app should refuse."""
        if self._intercepting is None:
            raise RuntimeError("use the EmulatedClerk as a context manager first")
        granted = tuple(self.settings.required_scopes if scopes is None else scopes)
        client = client_id or self.settings.client_id
        handle = self._user(subject, dict(claims or {}))
        self._issued.setdefault(subject, set()).add(granted)
        try:
            answer = sign_in_with_pkce(
                self.settings.issuer,
                client,
                _CALLBACK,
                client_secret=self._client_secret(client),
                user=handle,
                scopes=granted,
                session=requests.Session(),
            )
        except DriverError as exc:
            raise ValueError(
                f"the emulated Clerk refused to issue this token ({exc}); it grants only the "
                "scopes Clerk knows: use stand_in_verifier for others"
            ) from None
        token: str = answer["access_token"]
        return token

    def headers(
        self,
        subject: str = "user_test",
        scopes: Iterable[str] | None = None,
        claims: Mapping[str, Any] | None = None,
        *,
        client_id: str | None = None,
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer <token()>"}``, for a test client's ``headers=``."""
        token = self.token(subject, scopes, claims, client_id=client_id)
        return {"Authorization": f"Bearer {token}"}

    def revoke(self, token: str) -> None:
        """Revoke ``token`` at the emulated Clerk, as a user signing out elsewhere would."""
        for client_id, secret in self._secrets.items():
            requests.post(
                self.settings.revocation_endpoint,
                data={"token": token},
                auth=(client_id, secret),
                timeout=10,
            )

    def _client_secret(self, client_id: str) -> str:
        if client_id not in self._secrets:
            secret = secrets.token_urlsafe(16)
            self.emulator.state.register_client(OAuthClient(client_id, secret, [_CALLBACK]))
            self._secrets[client_id] = secret
        return self._secrets[client_id]

    def _user(self, subject: str, claims: dict[str, Any]) -> str:
        unknown = sorted(set(claims) - set(PROFILE_DEFAULTS))
        if unknown:
            raise ValueError(
                f"Clerk releases no claim named {', '.join(unknown)} (known: "
                f"{', '.join(PROFILE_DEFAULTS)}); use stand_in_verifier for arbitrary claims"
            )
        values = {**PROFILE_DEFAULTS, **claims}
        previous = self._profiles.get(subject)
        if previous is not None and previous != values and self._forget_profile is not None:
            for scopes in self._issued.get(subject, ()):
                self._forget_profile(subject, scopes)
        self._profiles[subject] = values
        users = self.emulator.config.users
        # One emulated user per subject: a later token's claims update its profile.
        handle = self._handles.setdefault(subject, f"test-user-{len(self._handles)}")
        users[handle] = DemoUser(
            handle=handle,
            user_id=subject,
            email=values["email"] or f"{subject}@example.com",
            first_name=values["given_name"],
            last_name=values["family_name"],
            username=values["preferred_username"] or subject,
            image_url=values["picture"],
            email_verified=values["email_verified"],
            org_id=values["org_id"],
            org_name=values["org_name"],
            org_slug=values["org_slug"],
            public_metadata=dict(values["public_metadata"]),
            private_metadata=dict(values["private_metadata"]),
            unsafe_metadata=dict(values["unsafe_metadata"]),
        )
        return handle
