"""``MistralGCP`` over its own HTTP/1.1 client: errors still carry an ``httpx2.Response`` (status,
decoded body, the request with its token redacted), and a proxy named by the environment sends
calls to remote hosts through httpx2, which implements proxies, while loopback stays direct.
"""

from __future__ import annotations

import gzip
import json

import httpx2
import pytest

from mistral_gcp import MistralGCP, errors
from mistral_gcp._client import _PROXY_ENV, _Owned
from mistral_gcp._http11 import AsyncClient, Client

from helpers import CHAT_MODEL, USER

TOKEN = "ya29.not-a-real-token"
ERROR = {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}


def test_an_error_answer_carries_an_httpx2_response_with_the_token_redacted(serve, both):
    body = json.dumps(ERROR).encode()

    def answer_400(conn):  # compressed and chunked: the error still holds the decoded JSON
        while conn.request() is not None:
            conn.reply(400, gzip.compress(body), ["content-encoding: gzip", "content-type: application/json"], chunked=True)

    server = serve(answer_400)
    client = MistralGCP(project_id="p", access_token=TOKEN, server_url=server.url, allow_http=True, retry_config=None)
    with pytest.raises(errors.BadRequestError) as info:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    error = info.value
    raw = error.raw_response
    assert isinstance(raw, httpx2.Response)
    assert raw.status_code == error.status_code == 400
    assert raw.content == body and raw.json() == ERROR and raw.headers["content-type"] == "application/json"
    assert raw.request.method == "POST" and raw.request.url == server.url + server.requests()[0].target
    assert raw.request.headers["authorization"] == "[redacted]"
    assert error.status == "INVALID_ARGUMENT" and "invalid argument" in str(error)
    assert TOKEN not in repr(error) and TOKEN not in str(error)
    assert server.requests()[0].header("authorization") == [f"Bearer {TOKEN}"]  # sent, then redacted


REMOTE = "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4"
LOOPBACK = ["http://127.0.0.1:8080/v1", "http://localhost:8080/v1", "http://[::1]:8080/v1"]


@pytest.mark.parametrize("proxy", [None, "HTTPS_PROXY", "all_proxy"])
def test_a_proxy_from_the_environment_sends_remote_calls_through_httpx2(monkeypatch, both, proxy):
    for name in _PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
    if proxy:
        monkeypatch.setenv(proxy, "http://proxy.invalid:3128")
    owned = _Owned(4)

    def pick():
        return [type(owned.for_url(url, both.is_async)) for url in [REMOTE, *LOOPBACK]]

    async def pick_in_a_loop():
        try:
            return pick()
        finally:
            await owned.aclose()

    try:
        remote, *loopback = both.run(pick, pick_in_a_loop)
    finally:
        owned.close()
    ours = AsyncClient if both.is_async else Client
    httpx_client = httpx2.AsyncClient if both.is_async else httpx2.Client
    assert remote is (httpx_client if proxy else ours)
    assert loopback == [ours] * len(LOOPBACK)
