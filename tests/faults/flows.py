"""Proxy logins (``/oauth/authorize`` → our consent → Clerk → our callback → ``/oauth/token``)
stopped halfway, so a fault can strike between two of their steps.

A ``Login`` walks in a browser whose every request opens a new connection, so consecutive
steps may be served by different gunicorn workers, as behind a load balancer: a step finds
the state an earlier one left only in the shared store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from tests.support.headless_browser import HeadlessBrowser, query_of
from tests.support.proxy_app import Authorization, ProxyOAuthClient


def browser(user: str = "alice") -> HeadlessBrowser:
    session = requests.Session()
    session.headers["Connection"] = "close"
    return HeadlessBrowser(user, session=session)


@dataclass
class Login:
    """One login of ``client``, walked step by step."""

    client: ProxyOAuthClient
    user: str = "alice"
    authorization: Authorization = field(init=False)
    browser: HeadlessBrowser = field(init=False)
    #: Clerk's redirect to our callback (our transaction is in the store).
    callback: str = ""
    #: Our code for the client (the proxy code is in the store).
    code: str = ""

    def __post_init__(self) -> None:
        self.authorization = self.client.authorization()
        self.browser = browser(self.user)

    def to_callback(self) -> Login:
        """Consent here and sign in at Clerk; stop before our callback."""
        self.callback = self.browser.walk(
            self.authorization.url, until=self.client.base + "/auth/callback"
        )
        return self

    def to_code(self) -> Login:
        """Our callback: Clerk's code redeemed, ours issued to the client's redirect URI."""
        if not self.callback:
            self.to_callback()
        location = self.browser.follow(
            self.browser.get(self.callback), until=self.client.redirect_uri
        )
        params = query_of(location)
        assert params.get("state") == self.authorization.state, params
        assert "code" in params, params
        self.code = params["code"]
        return self

    def finish(self) -> requests.Response:
        """Redeem our code at ``/oauth/token``: the token answer."""
        if not self.code:
            self.to_code()
        return self.client.redeem(self.code, self.authorization.verifier)
