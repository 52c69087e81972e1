"""A browser without a screen for OAuth logins: a real HTTP client, a cookie jar, and pages read
as HTML. No back door: every step is a request a person's browser would make.

``HeadlessBrowser.walk(url, until=...)`` opens ``url`` and goes on as a person would: follows
redirects, signs in on a sign-in page (the form whose buttons are named ``user``: the emulator's
one-click demo users), answers consent pages (the form offering an ``approve``/``allow`` button,
or ``deny`` when told to refuse), and stops at the first redirect to ``until`` (a client's
redirect URI), returning that Location without following it: nothing needs to listen there.
Each submitted page is kept in ``pages`` so a test can say which pages a login went through.

``OAuthRedirectHandlers`` adapts it to the ``mcp`` SDK's ``OAuthClientProvider``: its
``redirect`` is the provider's redirect handler (the walk runs in a worker thread, as requests
is blocking) and its ``callback`` hands the captured ``code``, ``state`` and ``iss`` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio.to_thread
import requests
from mcp.shared.auth import AuthorizationCodeResult

from .html_forms import Form, forms_of

TIMEOUT = 15.0
MAX_STEPS = 20
APPROVE = ("approve", "allow")
DENY = ("deny",)


class BrowserError(AssertionError):
    """The pages did not go as a login would; the message says where."""


@dataclass(frozen=True)
class VisitedPage:
    """A page whose form the browser submitted, and the button it pressed."""

    url: str
    form: Form
    button: tuple[str, str]

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def same_endpoint(url: str, target: str) -> bool:
    """Whether ``url`` is ``target`` give or take a query (scheme, host, port and path equal)."""
    a, b = urlsplit(url), urlsplit(target)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url``; a repeated one is an error (a response has each once)."""
    params = parse_qs(urlsplit(url).query, keep_blank_values=True)
    repeated = [name for name, values in params.items() if len(values) != 1]
    if repeated:
        raise BrowserError(f"repeated query parameters {repeated} in a redirect")
    return {name: values[0] for name, values in params.items()}


class HeadlessBrowser:
    """One browser: one cookie jar (``http.cookies``), the user it signs in as, its decision."""

    def __init__(
        self,
        user: str = "alice",
        *,
        approve: bool = True,
        session: requests.Session | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.user = user
        self.approve = approve
        self.http = session or requests.Session()
        self.timeout = timeout
        self.pages: list[VisitedPage] = []

    def walk(self, url: str, *, until: str) -> str:
        """Open ``url``; return the Location of the first redirect to ``until``."""
        return self.follow(self.get(url), until=until)

    def get(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=self.timeout)

    def follow(self, response: requests.Response, *, until: str) -> str:
        """Go on from ``response`` (redirects and forms) until a redirect to ``until``."""
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if same_endpoint(location, until):
                    return location
                response = self.get(location)
            elif response.status_code == 200 and "html" in response.headers.get("Content-Type", ""):
                response = self._submit(response)
            else:
                raise BrowserError(
                    f"HTTP {response.status_code} at {response.url}: {response.text[:500]!r}"
                )
        raise BrowserError(f"no redirect to {until} after {MAX_STEPS} steps")

    def _submit(self, page: requests.Response) -> requests.Response:
        forms = forms_of(page.text, page.url)
        form, button = self._choose(forms, page)
        self.pages.append(VisitedPage(page.url, form, button))
        data = form.submission(button)
        if form.method == "get":
            return self.http.get(
                form.action, params=data, allow_redirects=False, timeout=self.timeout
            )
        return self.http.post(form.action, data=data, allow_redirects=False, timeout=self.timeout)

    def _choose(self, forms: list[Form], page: requests.Response) -> tuple[Form, tuple[str, str]]:
        for form in forms:  # a sign-in page: one button per demo user
            if self.user in form.button_values("user"):
                return form, ("user", self.user)
        wanted = APPROVE if self.approve else DENY
        for form in forms:  # a consent page
            for button in form.buttons:
                if button[1].lower() in wanted:
                    return form, button
        raise BrowserError(
            f"no sign-in form for {self.user!r} and no {'/'.join(wanted)} button at {page.url} "
            f"(HTTP {page.status_code}): {page.text[:500]!r}"
        )


class OAuthRedirectHandlers:
    """``redirect_handler`` and ``callback_handler`` for ``OAuthClientProvider``.

    ``redirect`` walks the authorization URL in ``browser`` up to ``redirect_uri``;
    ``callback`` returns what that redirect carried. An error response (``error=...``) fails
    the login with the error, as a client's callback page would show it.
    """

    def __init__(self, browser: HeadlessBrowser, redirect_uri: str) -> None:
        self.browser = browser
        self.redirect_uri = redirect_uri
        self.authorization_urls: list[str] = []
        self.locations: list[str] = []

    async def redirect(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        location = await anyio.to_thread.run_sync(
            lambda: self.browser.walk(authorization_url, until=self.redirect_uri)
        )
        self.locations.append(location)

    async def callback(self) -> AuthorizationCodeResult:
        params = query_of(self.locations[-1])
        if "error" in params:
            raise BrowserError(f"authorization refused: {params}")
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )
