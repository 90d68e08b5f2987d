"""google-auth's transport interface over an httpx(2) client, so token refreshes need no ``requests``.

google-auth calls ``request(url, method, body, headers, timeout)`` and reads ``status``,
``headers`` and ``data``; transport failures must surface as its ``TransportError`` so that its
own retry rules apply.

One exception: the metadata-server *ping* that ``google.auth.default()`` sends to decide
whether it runs on GCE. google-auth retries a ping that fails to connect three times with
1 s and 2 s pauses (and a 3 s timeout each), so on a laptop with no credentials the
"no credentials found" error would take 3 to 12 seconds. A metadata server is link-local and
answers in well under a millisecond, so we give the ping a short connect timeout and report a
failure to connect as "no metadata server here" (a response that is not one), which google-auth
takes at once. On a real GCE VM google-auth still confirms residency from the machine's DMI
product name, and the next call of ours tries again anyway.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import google.auth.exceptions
import google.auth.transport

from ._transport_errors import is_transport_error

__all__ = ["HttpxRequest", "HttpxResponse", "PING_CONNECT_TIMEOUT_S"]

_DEFAULT_TIMEOUT = 30.0
#: How long the metadata-server ping may take to connect (google-auth allows 3 s, three times).
PING_CONNECT_TIMEOUT_S = 0.5

logger = logging.getLogger("mistral_gcp")


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


class _NoMetadataServer(google.auth.transport.Response):
    """What a failed ping reports: not a metadata server (no ``Metadata-Flavor`` header)."""

    status = 503
    headers: Mapping[str, str] = {}
    data = b""


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
    ) -> google.auth.transport.Response:
        seconds = timeout or _DEFAULT_TIMEOUT
        ping = _is_metadata_ping(method, url, headers)
        try:
            response = self._client.request(
                method,
                url,
                content=body,
                headers=headers,
                # (connect, read, write, pool): httpx's tuple form
                timeout=(PING_CONNECT_TIMEOUT_S, seconds, seconds, seconds) if ping else seconds,
            )
        except Exception as exc:
            if not is_transport_error(exc):
                raise
            if ping:
                logger.debug("no GCE metadata server at %s (%s: %s)", url, type(exc).__name__, exc)
                return _NoMetadataServer()
            raise google.auth.exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc
        return HttpxResponse(response)


def _is_metadata_ping(method: str, url: str, headers: Optional[Mapping[str, str]]) -> bool:
    """google-auth's GCE check: ``GET http://<metadata ip>/`` with ``Metadata-Flavor: Google``."""
    if method != "GET" or not headers:
        return False
    flavor = next((v for k, v in headers.items() if k.lower() == "metadata-flavor"), None)
    return flavor == "Google" and urlsplit(url).path in ("", "/")
