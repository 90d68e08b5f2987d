"""Loopback fixtures for the HTTP/1.1 client's tests: a scripted raw-socket server, and one driver
for both shells so that each test body runs against ``Client`` and ``AsyncClient``.

``serve(handler)`` starts a ``RawServer``: every accepted connection gets its own thread running
``handler(conn)``, which reads requests with ``conn.request()`` and answers with ``conn.reply()``
or raw ``conn.send()`` bytes — so a test can answer in ways no real server would. Tests wait on
events (``conn.ended``, ``server.stopping``), never on the clock.

``http(**options)`` makes a ``Shell``: the same blocking calls whichever client is under test. The
async client runs on an event loop in a helper thread (its own loop, as it would be in an
application), and each call waits for its coroutine there.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence

import pytest

from mistral_gcp._http11 import AsyncClient, Client, Response

WAIT = 10.0  # the longest any test waits for an event that must come (only reached if a test fails)


# ---------------------------------------------------------------- the server


class Received(NamedTuple):
    method: str
    target: str
    headers: List[tuple]  # (lower-case name, value), in order
    body: bytes

    def header(self, name: str) -> List[str]:
        return [value for n, value in self.headers if n == name]


class ServerConn:
    """The server's side of one accepted connection."""

    def __init__(self, sock: socket.socket, server: "RawServer") -> None:
        self.sock = sock
        self.server = server
        self.raw = bytearray()  # every byte the client sent on this connection
        self.requests: List[Received] = []
        self.ended = threading.Event()  # the handler returned and the socket is closed
        self._buffer = bytearray()

    def request(self) -> Optional[Received]:
        """The next request (head and ``content-length`` body); None once the client closed."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                return None
        end = self._buffer.index(b"\r\n\r\n")
        lines = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        method, target, _version = lines[0].split(" ", 2)
        headers = [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
        length = int(dict(headers).get("content-length", 0))
        while len(self._buffer) < length:
            if not self._fill():
                return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        received = Received(method, target, headers, body)
        self.requests.append(received)
        return received

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(256 * 1024)
        except OSError:
            return False
        self.raw += data
        self._buffer += data
        return bool(data)

    def reply(self, status: int = 200, body: bytes = b"ok", headers: Sequence[str] = (), *, chunked: bool = False) -> None:
        """An HTTP/1.1 answer framed by ``content-length`` (or ``chunked``, in two chunks)."""
        if chunked:
            half = len(body) // 2
            framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p) + b"0\r\n\r\n"
            head = [f"HTTP/1.1 {status} X", "transfer-encoding: chunked", *headers]
        else:
            framed = body
            head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", *headers]
        self.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + framed)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def hold(self) -> None:
        """Keep the connection open, saying nothing, until the test ends."""
        self.server.stopping.wait(WAIT)

    def shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


Handler = Callable[[ServerConn], None]


def keep_answering(conn: ServerConn, body: bytes = b"ok") -> None:
    """The default script: answer every request ``200`` with ``body``, keeping the connection open."""
    while conn.request() is not None:
        conn.reply(200, body)


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: List[ServerConn] = []  # in the order they were accepted
        self.stopping = threading.Event()
        self._threads: List[threading.Thread] = []
        self._start(self._accept, handler)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, handler: Handler) -> None:
        while True:
            sock, _ = self._listener.accept()
            if self.stopping.is_set():  # the wake-up call from close()
                sock.close()
                return
            conn = ServerConn(sock, self)
            self.connections.append(conn)
            self._start(self._serve, handler, conn)

    @staticmethod
    def _serve(handler: Handler, conn: ServerConn) -> None:
        try:
            handler(conn)
        except OSError:
            pass  # the client went away in the middle of an answer: some tests do that on purpose
        finally:
            conn.sock.close()
            conn.ended.set()

    def requests(self) -> List[Received]:
        return [request for conn in self.connections for request in conn.requests]

    def wait_all_ended(self) -> None:
        for conn in self.connections:
            assert conn.ended.wait(WAIT), "the client did not close its connection"

    def close(self) -> None:
        self.stopping.set()
        socket.create_connection(("127.0.0.1", self.port)).close()  # wakes the accept() call
        self._threads[0].join(WAIT)  # the accept loop has returned: only then may its socket close
        self._listener.close()
        for conn in self.connections:
            conn.shutdown()
        for thread in self._threads:
            thread.join(WAIT)


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    """``serve(handler)``: a ``RawServer``, stopped at the end of the test; ``serve(body=...)``:
    one that answers every request ``200`` with that body (``ok`` by default)."""
    servers: List[RawServer] = []

    def start(handler: Optional[Handler] = None, *, body: bytes = b"ok") -> RawServer:
        servers.append(RawServer(handler or (lambda conn: keep_answering(conn, body))))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# ---------------------------------------------------------------- the two shells behind one interface


class _FlowLoop(asyncio.SelectorEventLoop):
    """An event loop that notes its transports' ``pause_reading``/``resume_reading`` calls: the
    visible side of the async client's flow control."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = threading.Event()
        self.resumes = 0

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        transport, protocol = await super().create_connection(*args, **kwargs)
        pause, resume = transport.pause_reading, transport.resume_reading

        def pause_reading() -> None:
            self.paused.set()
            pause()

        def resume_reading() -> None:
            self.resumes += 1
            resume()

        transport.pause_reading, transport.resume_reading = pause_reading, resume_reading
        return transport, protocol


class Shell:
    """``Client`` or ``AsyncClient`` behind the same blocking calls."""

    def __init__(self, mode: str, **options: Any) -> None:
        self.is_async = mode == "async"
        self._pool = ThreadPoolExecutor(max_workers=4)  # background sends of the blocking client
        self._closed = False
        if self.is_async:
            self.loop = _FlowLoop()
            self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
            self._thread.start()
            self.client: Any = AsyncClient(**options)
        else:
            self.client = Client(**options)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT)

    def _request(self, url: str, content: bytes, method: str, headers: Optional[Dict[str, str]], timeout: Optional[float]) -> Any:
        return self.client.build_request(method, url, headers=headers, content=content, timeout=timeout)

    def send(self, url: str, content: bytes = b"", *, method: str = "POST", headers: Optional[Dict[str, str]] = None,
             timeout: Optional[float] = None, stream: bool = False) -> Response:
        request = self._request(url, content, method, headers, timeout)
        if self.is_async:
            return self._run(self.client.send(request, stream=stream))
        return self.client.send(request, stream=stream)

    def pieces(self, response: Response) -> List[bytes]:
        """The body as the client hands it out, piece by piece (async: awaiting between pieces)."""
        if not self.is_async:
            return list(response.iter_bytes())

        async def slowly() -> List[bytes]:
            pieces = []
            async for piece in response.aiter_bytes():
                pieces.append(piece)
                await asyncio.sleep(0)
            return pieces

        return self._run(slowly())

    def close_response(self, response: Response) -> None:
        if self.is_async:
            self._run(response.aclose())
        else:
            response.close()

    def send_queued(self, url: str, content: bytes = b"") -> "Future[Response]":
        """Start a send that must wait for a free connection; return its future once it waits."""
        request = self._request(url, content, "POST", None, None)
        if self.is_async:
            future = asyncio.run_coroutine_threadsafe(self.client.send(request), self.loop)
            # The loop runs tasks in the order they were scheduled, and the send parks in the
            # pool's queue within its first step: once this later task has run, it is waiting.
            self._run(asyncio.sleep(0))
            return future
        # The blocking client waits on its condition variable; a spy on ``wait`` tells when.
        # (For synchronisation only: no test asserts on the client's internals.)
        condition = self.client._lock
        waiting = threading.Event()
        wait = condition.wait

        def spy(timeout: Optional[float] = None) -> bool:
            waiting.set()
            return wait(timeout)

        condition.wait = spy
        try:
            future = self._pool.submit(self.client.send, request)
            assert waiting.wait(WAIT), "the second send did not wait for the pool"
        finally:
            del condition.wait
        return future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.is_async:
            self._run(self.client.aclose())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(WAIT)
            self.loop.close()
        else:
            self.client.close()
        self._pool.shutdown(wait=True)


@pytest.fixture(params=["sync", "async"])
def http(request: pytest.FixtureRequest) -> Iterator[Callable[..., Shell]]:
    """``http(**client_options)``: a ``Shell`` over the client of this run's kind, closed at the end."""
    shells: List[Shell] = []

    def make(**options: Any) -> Shell:
        shells.append(Shell(request.param, **options))
        return shells[-1]

    yield make
    for shell in shells:
        shell.close()
