"""The HTTP client protocols: what a ``client=`` / ``async_client=`` must provide.

Any ``httpx.Client``/``httpx2.Client`` (and the async twins) fits, as does a wrapper that
implements ``build_request`` and ``send``. The SDK builds every request through the given
client's own ``build_request`` (so its default headers, cookies and timeout apply) and never
closes a client it did not create.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["AsyncHttpClient", "HttpClient"]


@runtime_checkable
class HttpClient(Protocol):
    def send(self, request: Any, *, stream: bool = False, auth: Any = ..., follow_redirects: Any = ...) -> Any:
        pass

    def build_request(self, method: str, url: Any, *, content: Any = None, data: Any = None, files: Any = None,
                      json: Any = None, params: Any = None, headers: Any = None, cookies: Any = None,
                      timeout: Any = ..., extensions: Any = None) -> Any:
        pass

    def close(self) -> None:
        pass


@runtime_checkable
class AsyncHttpClient(Protocol):
    async def send(self, request: Any, *, stream: bool = False, auth: Any = ..., follow_redirects: Any = ...) -> Any:
        pass

    def build_request(self, method: str, url: Any, *, content: Any = None, data: Any = None, files: Any = None,
                      json: Any = None, params: Any = None, headers: Any = None, cookies: Any = None,
                      timeout: Any = ..., extensions: Any = None) -> Any:
        pass

    async def aclose(self) -> None:
        pass
