"""One exchange of the HTTP/1.1 client, as the server sees it and as the caller gets it: the
request head the client writes, large bodies both ways (intact, in order, with flow control when
the caller reads slowly), and headers that would split the head refused before a byte is sent.

Each loopback test runs against the blocking and the asyncio client (the ``http`` fixture).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from mistral_gcp._http11 import LocalProtocolError, Request, encode_head

WAIT = 10.0  # for events that must come; reached only when a test fails


def test_the_request_head_on_the_wire(serve, http):
    server = serve()
    client = http()
    headers = {
        "X-Custom": "value", "Authorization": "Bearer t0ken",
        # framing is the client's business: these are replaced, not sent twice
        "Host": "evil.example", "Content-Length": "999", "Transfer-Encoding": "chunked", "Connection": "close",
    }
    assert client.send(server.url + "/v1/models/m:rawPredict?alt=json", b'{"a": 1}', headers=headers).content == b"ok"
    request = server.requests()[0]
    assert (request.method, request.target) == ("POST", "/v1/models/m:rawPredict?alt=json")
    assert request.header("host") == [f"127.0.0.1:{server.port}"]
    assert request.header("content-length") == ["8"]
    assert request.header("x-custom") == ["value"] and request.header("authorization") == ["Bearer t0ken"]
    assert request.header("transfer-encoding") == [] and request.header("connection") == []
    assert request.body == b'{"a": 1}'
    assert client.send(server.url, method="GET").status_code == 200  # no body: content-length 0, path "/"
    get = server.requests()[1]
    assert (get.method, get.target, get.header("content-length"), get.body) == ("GET", "/", ["0"], b"")


@pytest.mark.parametrize("url,host", [
    ("http://example.com/v1", "example.com"),
    ("https://example.com/v1", "example.com"),
    ("http://example.com:80/v1", "example.com"),
    ("https://example.com:443/v1", "example.com"),
    ("http://example.com:443/v1", "example.com:443"),
    ("https://example.com:8443/v1", "example.com:8443"),
    ("http://[::1]:8080/v1", "[::1]:8080"),
    ("https://[::1]/v1", "[::1]"),
])
def test_the_host_header_omits_the_scheme_default_port(url, host):
    head = encode_head(Request("POST", url, {}, b"{}", None)).decode("latin-1")
    assert head.startswith("POST /v1 HTTP/1.1\r\n") and head.endswith("\r\n\r\n")
    assert f"\r\nhost: {host}\r\n" in head and head.count("host:") == 1
    assert "\r\ncontent-length: 2\r\n" in head


BAD_HEADERS = {
    "CRLF in a value": {"x-note": "a\r\nx-injected: 1"},
    "LF in a value": {"x-note": "a\nx-injected: 1"},
    "CR in a value": {"x-note": "a\rx-injected: 1"},
    "NUL in a value": {"x-note": "a\0x-injected"},
    "CRLF in a name": {"x-note\r\nx-injected": "1"},
    "space in a name": {"x-injected note": "1"},
    "colon in a name": {"x-injected:": "1"},
    "not latin-1": {"x-injected": "\u2603"},
}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_a_header_that_would_break_the_head_is_refused_before_anything_is_sent(serve, http, headers):
    server = serve()
    client = http()
    with pytest.raises(LocalProtocolError):
        client.send(server.url, b"refused", headers=headers)
    assert client.send(server.url, b"after").content == b"ok"  # the client is still fine
    client.close()
    server.wait_all_ended()
    assert [r.body for r in server.requests()] == [b"after"]
    assert all(b"injected" not in conn.raw and b"refused" not in conn.raw for conn in server.connections)


def test_a_request_body_larger_than_a_megabyte_arrives_intact(serve, http):
    body = random.Random(1).randbytes(3 * 1024 * 1024 + 17)

    def answer_with_digest(conn):
        while (request := conn.request()) is not None:
            conn.reply(200, b"%d %s" % (len(request.body), hashlib.sha256(request.body).hexdigest().encode()))

    server = serve(answer_with_digest)
    client = http()
    expected = b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
    assert client.send(server.url, body).content == expected
    assert client.send(server.url, body[:1000]).content.startswith(b"1000 ")  # and the connection is reusable
    assert len(server.connections) == 1


def test_a_large_response_read_slowly_arrives_intact_and_in_order(serve, http):
    body = random.Random(2).randbytes(6 * 1024 * 1024)
    server = serve(body=body)
    client = http()
    response = client.send(server.url, stream=True)
    if client.is_async:
        # Nothing reads the body yet: the client buffers up to its high-water mark, then stops
        # reading the socket (the server's writes block) until the reader catches up.
        assert client.loop.paused.wait(WAIT)
    pieces = client.pieces(response)
    assert b"".join(pieces) == body and len(pieces) > 1
    if client.is_async:
        assert client.loop.resumes >= 1
    assert client.send(server.url, stream=True).status_code == 200  # read to the end: the connection was reused
    assert len(server.connections) == 1
