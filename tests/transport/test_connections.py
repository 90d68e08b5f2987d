"""Connections of the HTTP/1.1 client: kept alive while they can carry another request, closed
when they cannot, never reused once the server closed them, and limited to ``max_connections``
(a request beyond the limit waits for a release, up to its pool timeout).

Each test runs against the blocking and the asyncio client (the ``http`` fixture).
"""

from __future__ import annotations

import pytest

from mistral_gcp._http11 import PoolTimeout, RemoteProtocolError

WAIT = 10.0  # for events that must come; reached only when a test fails


def test_sequential_requests_share_one_connection(serve, http):
    server = serve()
    client = http()
    for i in range(5):
        assert client.send(server.url, b"request %d" % i).content == b"ok"
    assert len(server.connections) == 1
    assert [r.body for r in server.connections[0].requests] == [b"request %d" % i for i in range(5)]


#: answers after which the connection may not carry another request: (bytes, the server closes)
CLOSING_ANSWERS = {
    "connection: close": (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok", False),
    "HTTP/1.0": (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", False),
    "close-delimited": (b"HTTP/1.1 200 OK\r\n\r\nok", True),
}


@pytest.mark.parametrize("answer,server_closes", CLOSING_ANSWERS.values(), ids=CLOSING_ANSWERS.keys())
def test_a_connection_the_answer_closes_is_not_reused(serve, http, answer, server_closes):
    def answer_then_listen(conn):
        if conn.request() is not None:
            conn.send(answer)
        if server_closes:  # the close ends the body
            return
        while conn.request() is not None:  # left open by the server: a reuse would land here
            conn.reply(500, b"reused")

    server = serve(answer_then_listen)
    client = http()
    assert [client.send(server.url).content for _ in range(2)] == [b"ok", b"ok"]
    assert len(server.connections) == 2
    assert server.connections[0].ended.wait(WAIT)  # the client closed it
    assert [len(conn.requests) for conn in server.connections] == [1, 1]


def test_a_response_closed_before_its_end_closes_its_connection(serve, http):
    big = b"x" * 200_000
    server = serve(body=big)
    client = http()
    response = client.send(server.url, stream=True)
    assert response.status_code == 200
    client.close_response(response)  # the rest of the body is never read
    assert server.connections[0].ended.wait(WAIT)
    assert client.send(server.url).content == big
    assert len(server.connections) == 2 and len(server.connections[1].requests) == 1


def test_an_idle_connection_the_server_closed_is_not_reused(serve, http):
    def answer_once_then_close(conn):
        if conn.request() is not None:
            conn.reply(200, b"first", ["connection: keep-alive"])

    server = serve(answer_once_then_close)
    client = http()
    assert client.send(server.url).content == b"first"
    assert server.connections[0].ended.wait(WAIT)  # closed by the server while idle in the pool
    assert client.send(server.url).content == b"first"  # no error: a fresh connection
    assert len(server.connections) == 2


def test_a_request_beyond_max_connections_waits_for_a_release(serve, http):
    server = serve()
    client = http(max_connections=1)
    first = client.send(server.url, b"first", stream=True)  # holds the only connection
    second = client.send_queued(server.url, b"second")
    assert not second.done()
    client.pieces(first)  # read to the end: the connection is released to the waiting request
    assert second.result(WAIT).content == b"ok"
    assert len(server.connections) == 1
    assert [r.body for r in server.connections[0].requests] == [b"first", b"second"]


def test_the_pool_timeout_bounds_the_wait_and_leaves_the_pool_usable(serve, http):
    server = serve()
    client = http(max_connections=1)
    first = client.send(server.url, stream=True)
    with pytest.raises(PoolTimeout):
        client.send(server.url, timeout=0.2)
    client.close_response(first)
    assert client.send(server.url).content == b"ok"
    assert [len(conn.requests) for conn in server.connections] == [1, 1]


def test_at_the_limit_an_idle_connection_to_another_host_makes_room(serve, http):
    one, two = serve(), serve()
    client = http(max_connections=1)
    assert client.send(one.url).content == b"ok"  # its connection stays idle in the pool
    assert client.send(two.url, timeout=WAIT).content == b"ok"  # would time out if it waited
    assert one.connections[0].ended.wait(WAIT)  # closed to make room


def test_an_idle_connection_is_reused_until_its_keepalive_expiry_then_closed(serve, http):
    now = [1000.0]
    server = serve()
    client = http(keepalive_expiry=30.0, clock=lambda: now[0])
    client.send(server.url, b"first")
    now[0] += 29.5
    client.send(server.url, b"within the expiry")
    now[0] += 30.5
    client.send(server.url, b"after it")  # the idle connection may be dead on the way: a new one
    assert [[r.body for r in conn.requests] for conn in server.connections] == [
        [b"first", b"within the expiry"], [b"after it"]]
    assert server.connections[0].ended.wait(WAIT)  # the expired connection was closed, not left open


def test_expired_idle_connections_under_a_busy_one_are_closed_when_it_is_given_back(serve, http):
    # Two connections go idle; only the most recent is ever reused. When the busy one comes
    # back after the other's expiry, the other is closed rather than kept open forever.
    now = [1000.0]
    server = serve()
    client = http(keepalive_expiry=30.0, clock=lambda: now[0])
    held = client.send(server.url, b"held", stream=True)  # connection 1 stays checked out
    client.send(server.url, b"second")  # so this opens connection 2, which goes idle
    assert client.pieces(held) == [b"ok"]  # connection 1 back: the top of the stack
    for _ in range(3):
        now[0] += 20.0  # connection 1 is reused every 20 s; connection 2 only ages
        client.send(server.url, b"steady")
    assert len(server.connections) == 2
    assert server.connections[1].ended.wait(WAIT)
    assert [len(conn.requests) for conn in server.connections] == [4, 1]


def _close_on_the_second_request(partial: bytes = b""):
    """Answer the first request; take the second and close (after ``partial`` bytes of answer)."""
    def script(conn):
        if conn.request() is not None:
            conn.reply(200, b"ok")
        if conn.request() is not None and partial:
            conn.send(partial)

    return script


def test_a_kept_alive_connection_closed_as_the_request_went_out_is_replaced_at_once(serve, http):
    # The keep-alive race: the server closes an idle connection just as the next request is sent.
    # The request goes out again on a new connection, instead of failing.
    def script(conn):
        if conn is conn.server.connections[0]:
            _close_on_the_second_request()(conn)
        else:
            while conn.request() is not None:
                conn.reply(200, b"fresh")

    server = serve(script)
    client = http()
    assert client.send(server.url, b"one").content == b"ok"
    assert client.send(server.url, b"two").content == b"fresh"
    assert [[r.body for r in conn.requests] for conn in server.connections] == [[b"one", b"two"], [b"two"]]


def test_a_failure_after_part_of_the_answer_or_on_a_fresh_connection_is_not_resent(serve, http):
    # Some bytes of answer arrived: the server had the request, so it is the caller's to retry.
    server = serve(_close_on_the_second_request(partial=b"HTTP/1.1 200 OK\r\ncontent-le"))
    client = http()
    assert client.send(server.url, b"one").content == b"ok"
    with pytest.raises(RemoteProtocolError):
        client.send(server.url, b"two")
    assert len(server.connections) == 1
    # A new connection closed without an answer: nothing stale about it, no resend either.
    closing = serve(lambda conn: conn.request())
    with pytest.raises(RemoteProtocolError):
        client.send(closing.url, b"three")
    assert len(closing.connections) == 1
