"""google-auth's transport interface over an httpx(2) client, so token refreshes need no ``requests``.

google-auth calls ``request(url, method, body, headers, timeout)`` and reads ``status``,
``headers`` and ``data``; transport failures must surface as its ``TransportError`` so that its
own retry rules apply.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import google.auth.exceptions
import google.auth.transport

from ._transport_errors import is_transport_error

_DEFAULT_TIMEOUT = 30.0


class HttpxResponse(google.auth.transport.Response):
    def __init__(self, response: Any) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google.auth.transport.Request):
    def __init__(self, client: Any) -> None:
        self._client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        **kwargs: Any,
    ) -> HttpxResponse:
        try:
            response = self._client.request(
                method, url, content=body, headers=headers, timeout=timeout or _DEFAULT_TIMEOUT
            )
        except Exception as exc:
            if is_transport_error(exc):
                raise google.auth.exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc
            raise
        return HttpxResponse(response)
