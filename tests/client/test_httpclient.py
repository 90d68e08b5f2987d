"""User-supplied HTTP clients: classic httpx and httpx2, plain or wrapped, sync and async."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
import pytest

from mistral_gcp import MistralGCP
from mistral_gcp.httpclient import AsyncHttpClient, HttpClient

from helpers import CHAT_MODEL, USER

LIBRARIES = [httpx, httpx2]


@pytest.mark.parametrize("lib", LIBRARIES, ids=["httpx", "httpx2"])
def test_a_plain_client_with_default_headers(emulator, both, lib):
    headers = {"x-custom-header": "someValue"}

    def sync_run():
        http = lib.Client(headers=headers)
        with emulator.client(client=http) as client:
            client.chat.complete(model=CHAT_MODEL, messages=USER)
            list(client.chat.stream(model=CHAT_MODEL, messages=USER))
        still_open = not http.is_closed
        http.close()
        return still_open

    async def async_run():
        http = lib.AsyncClient(headers=headers)
        async with emulator.client(async_client=http) as client:
            await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
            [e async for e in await client.chat.stream_async(model=CHAT_MODEL, messages=USER)]
        still_open = not http.is_closed
        await http.aclose()
        return still_open

    still_open = both.run(sync_run, async_run)
    assert [r.headers["x-custom-header"] for r in emulator.requests] == ["someValue"] * 2
    assert still_open  # a client passed in is never closed by the SDK


def _wrapper_classes(lib: Any):
    class CustomClient(AsyncHttpClient):
        def __init__(self, client: Any) -> None:
            self.client = client
            self.timeouts: list = []

        async def send(self, request, *, stream=False, auth=lib.USE_CLIENT_DEFAULT, follow_redirects=lib.USE_CLIENT_DEFAULT):
            request.headers["Client-Level-Header"] = "added by client"
            self.timeouts.append(request.extensions.get("timeout"))
            return await self.client.send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)

        def build_request(self, method, url, *, content=None, data=None, files=None, json=None, params=None,
                          headers=None, cookies=None, timeout=lib.USE_CLIENT_DEFAULT, extensions=None):
            return self.client.build_request(method, url, content=content, data=data, files=files, json=json,
                                             params=params, headers=headers, cookies=cookies, timeout=timeout,
                                             extensions=extensions)

    class CustomSyncClient(HttpClient):
        def __init__(self, client: Any) -> None:
            self.client = client
            self.timeouts: list = []

        def send(self, request, *, stream=False, auth=lib.USE_CLIENT_DEFAULT, follow_redirects=lib.USE_CLIENT_DEFAULT):
            request.headers["Client-Level-Header"] = "added by client"
            self.timeouts.append(request.extensions.get("timeout"))
            return self.client.send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)

        def build_request(self, method, url, **kw):
            return self.client.build_request(method, url, **kw)

    return CustomClient, CustomSyncClient


@pytest.mark.parametrize("lib", LIBRARIES, ids=["httpx", "httpx2"])
def test_a_wrapping_client_as_in_the_seed(emulator, both, lib):
    CustomClient, CustomSyncClient = _wrapper_classes(lib)

    def sync_run():
        used = CustomSyncClient(lib.Client(timeout=7.0))
        client = emulator.client(client=used)
        client.chat.complete(model=CHAT_MODEL, messages=USER)
        list(client.chat.stream(model=CHAT_MODEL, messages=USER))
        client.chat.complete(model=CHAT_MODEL, messages=USER, timeout_ms=1500)
        used.client.close()
        return used

    async def async_run():
        used = CustomClient(lib.AsyncClient(timeout=7.0))
        client = emulator.client(async_client=used)
        await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
        [e async for e in await client.chat.stream_async(model=CHAT_MODEL, messages=USER)]
        await client.chat.complete_async(model=CHAT_MODEL, messages=USER, timeout_ms=1500)
        await used.client.aclose()
        return used

    used = both.run(sync_run, async_run)
    assert [r.headers["client-level-header"] for r in emulator.requests] == ["added by client"] * 3
    # the given client's own timeout is kept unless timeout_ms is set
    assert [t["read"] for t in used.timeouts] == [7.0, 7.0, 1.5]


def test_timeout_ms_on_the_client_applies_to_given_clients_too(emulator, both):
    CustomClient, CustomSyncClient = _wrapper_classes(httpx2)
    def sync_run():
        used = CustomSyncClient(httpx2.Client())
        emulator.client(client=used, timeout_ms=2500).chat.complete(model=CHAT_MODEL, messages=USER)
        used.client.close()
        return used

    async def async_run():
        used = CustomClient(httpx2.AsyncClient())
        await emulator.client(async_client=used, timeout_ms=2500).chat.complete_async(model=CHAT_MODEL, messages=USER)
        await used.client.aclose()
        return used

    assert both.run(sync_run, async_run).timeouts[-1]["connect"] == 2.5
