"""Send ``requests`` calls for one origin to a WSGI app in this process: no socket, no network.

``WSGITransport`` is a requests transport adapter over werkzeug's test client; ``intercept``
routes every requests call whose URL starts with a given origin to it, whichever session makes
the call (the verifier's pooled per-thread sessions included), and leaves every other URL alone.
The response is built by requests' own ``HTTPAdapter.build_response``, so cookies, encodings
and redirects behave as over a socket.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.client import responses as reasons
from typing import TYPE_CHECKING, Any
from unittest import mock

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse
from werkzeug.test import Client

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _OriginalResponse:
    """What requests reads cookies from (``.msg``), as ``http.client`` would give it."""

    def __init__(self, headers: HTTPHeaderDict) -> None:
        self.msg = headers

    def isclosed(self) -> bool:
        return True

    def close(self) -> None:
        return None


class WSGITransport(BaseAdapter):
    """A requests adapter that answers from ``app`` in-process."""

    def __init__(self, app: WSGIApplication) -> None:
        super().__init__()
        self.client = Client(app, use_cookies=False)  # the requests session keeps the cookies

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        """Run ``request`` through the app; werkzeug sets the body's length itself."""
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        body = request.body
        answer = self.client.open(
            request.url or "/",
            method=request.method or "GET",
            headers=headers,
            data=body.encode() if isinstance(body, str) else body,
        )
        raw_headers = HTTPHeaderDict()
        for name, value in answer.headers.items():
            raw_headers.add(name, value)
        raw = HTTPResponse(
            body=io.BytesIO(answer.get_data()),
            headers=raw_headers,
            status=answer.status_code,
            reason=reasons.get(answer.status_code, ""),
            preload_content=False,
            decode_content=False,
            original_response=_OriginalResponse(raw_headers),  # type: ignore[arg-type]
        )
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


@contextmanager
def intercept(routes: Mapping[str, BaseAdapter]) -> Iterator[None]:
    """Within the block, a requests call whose URL starts with one of ``routes``' prefixes is
    answered by that adapter; everything else goes out as usual."""
    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        url = request.url or ""
        for prefix, adapter in routes.items():
            if url == prefix or url.startswith(prefix + "/"):
                return adapter.send(request, **kwargs)
        return original(self, request, **kwargs)

    with mock.patch.object(HTTPAdapter, "send", send):
        yield
