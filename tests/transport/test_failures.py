"""Failures of the HTTP/1.1 client: a server that never answers is a ``ReadTimeout``, one that
refuses the connection a ``ConnectError``, one that breaks off mid-answer a ``RemoteProtocolError``
(and the connection is not reused); through ``MistralGCP`` these are the SDK's
``APITimeoutError`` and ``APIConnectionError``.

The timeouts are short (0.2 s) and the servers deterministic: a test asserts what was raised,
never how long something took beyond a generous bound.
"""

from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest

from mistral_gcp import MistralGCP, errors
from mistral_gcp._http11 import ConnectError, ReadTimeout, RemoteProtocolError

from helpers import CHAT_MODEL, USER


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A loopback port bound but not listening: connecting to it is refused (and no other
    process can take the port while the test runs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def read_then_hold(conn):
    conn.request()
    conn.hold()


def sdk(url: str, **options) -> MistralGCP:
    return MistralGCP(project_id="p", access_token="t0ken", server_url=url, allow_http=True, retry_config=None, **options)


def test_a_server_that_never_answers_is_a_read_timeout(serve, http):
    server = serve(read_then_hold)
    client = http()
    began = time.monotonic()
    with pytest.raises(ReadTimeout):
        client.send(server.url, b"hello", timeout=0.2)
    assert time.monotonic() - began < 5  # 0.2 s, not the client's default of minutes
    assert server.requests()[0].body == b"hello"


def test_a_refused_connection_is_a_connect_error(refusing_url, http):
    with pytest.raises(ConnectError):
        http().send(refusing_url, timeout=5)


CUT_ANSWERS = {
    "no answer at all": b"",
    "half a head": b"HTTP/1.1 200 OK\r\ncontent-le",
    "half a body": b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf",
    "a broken chunk": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nhalf",
    "not http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
}


@pytest.mark.parametrize("answer", CUT_ANSWERS.values(), ids=CUT_ANSWERS.keys())
def test_an_answer_cut_short_is_a_transport_error_and_the_next_request_is_fine(serve, http, answer):
    def cut_first_answer(conn):
        if conn.request() is not None:
            if conn is conn.server.connections[0]:
                conn.send(answer)  # and close
            else:
                conn.reply()

    server = serve(cut_first_answer)
    client = http()
    with pytest.raises(RemoteProtocolError):
        client.send(server.url, timeout=5)
    assert client.send(server.url, timeout=5).content == b"ok"
    assert len(server.connections) == 2


def test_through_the_sdk_a_server_that_never_answers_is_an_api_timeout(serve, both):
    server = serve(read_then_hold)
    with pytest.raises(errors.APITimeoutError):
        both.call(sdk(server.url, timeout_ms=200).chat, "complete", model=CHAT_MODEL, messages=USER)
    assert len(server.requests()) == 1  # retry_config=None: one attempt


def test_through_the_sdk_a_refused_connection_is_an_api_connection_error(refusing_url, both):
    with pytest.raises(errors.APIConnectionError) as info:
        both.call(sdk(refusing_url).chat, "complete", model=CHAT_MODEL, messages=USER)
    assert not isinstance(info.value, errors.APITimeoutError)
    assert isinstance(info.value.__cause__, ConnectError)
