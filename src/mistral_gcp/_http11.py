"""The SDK's own HTTP/1.1 client: what owned clients use to talk to Vertex.

Why not httpx2 for this: per request, httpx2 and httpcore2 cost several times the work of the
exchange itself (request and response objects, h11's state machine, anyio's streams). At 64
concurrent calls that caps a client at ~1,500 calls/s on a core where a plain asyncio protocol
does ~6,000, and importing them costs ~15 MB and ~60 ms. Our traffic is narrow — POST a JSON
body to one origin, read a JSON or ``text/event-stream`` answer — so a small client serves it.

Theory of operation:

- ``ResponseParser`` is the protocol, sans I/O: bytes in, events out — a ``Head`` (status,
  headers), body bytes, ``END``. It reads ``Content-Length``, ``chunked`` and close-delimited
  bodies, skips ``1xx`` answers, and joins the body bytes one ``feed`` completes into a single
  piece (an SSE stream arrives as one HTTP chunk per event; handing them on one by one would
  cost a Python round trip each).
- ``Client`` (blocking sockets) and ``AsyncClient`` (an ``asyncio.Protocol``) are the two shells:
  they write the request, feed what arrives to a parser, and wait. Both keep idle connections
  per origin (host and port), up to ``max_connections`` in all; a connection goes back to the
  pool only when its response was read to the end and the server did not ask to close it. An idle
  connection the server closed is noticed before reuse (a readable idle socket is a closed one).
- Their surface is the part of httpx's that the SDK uses: ``build_request``, ``send(stream=)``,
  ``Response.read``/``iter_bytes``/``close`` and async twins, ``status_code``, ``headers``,
  ``content``, ``text``. Failures are raised as this module's ``TransportError`` subclasses,
  named like httpx's, which ``_transport_errors`` translates at the one boundary.

Not here, on purpose: proxies, redirects, cookies, HTTP/2, compression negotiation. A client
whose environment names a proxy for the server gets httpx2 (see ``_client``); so do downloads.
"""

from __future__ import annotations

import functools
import re
import select
import socket
import threading
import time
import zlib
from collections import deque
from typing import Any, AsyncIterator, Deque, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

__all__ = [
    "AsyncClient", "Client", "ConnectError", "ConnectTimeout", "Headers", "PoolTimeout", "ReadError",
    "ReadTimeout", "RemoteProtocolError", "Request", "Response", "ResponseParser", "TimeoutException",
    "TransportError", "WriteError", "WriteTimeout",
]

MAX_HEAD = 64 * 1024  # a response head larger than this is refused, not buffered without bound
READ_SIZE = 64 * 1024
_CHUNK_SIZE_DIGITS = re.compile(rb"[0-9A-Fa-f]{1,16}")  # int(x, 16) alone would take "0x1f", "+1f", "1_f"
_HIGH_WATER = 1024 * 1024  # async: stop reading the socket while this much body waits unread


# ----------------------------------------------------------------------------- errors
# Named like httpx's classes: ``_transport_errors`` recognises transport failures by these names.


class TransportError(Exception):
    pass


class TimeoutException(TransportError):
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class WriteTimeout(TimeoutException):
    pass


class PoolTimeout(TimeoutException):
    pass


class NetworkError(TransportError):
    pass


class ConnectError(NetworkError):
    pass


class ReadError(NetworkError):
    pass


class WriteError(NetworkError):
    pass


class RemoteProtocolError(TransportError):
    pass


class LocalProtocolError(TransportError):
    pass


# ----------------------------------------------------------------------------- messages


class Headers:
    """Response headers: a read-only, case-insensitive mapping (repeated names joined by ``, ``)."""

    __slots__ = ("raw", "_map")

    def __init__(self, raw: List[Tuple[str, str]]) -> None:
        self.raw = raw  # (name, value) as received, in order
        folded: Dict[str, str] = {}
        for name, value in raw:
            key = name.lower()
            folded[key] = f"{folded[key]}, {value}" if key in folded else value
        self._map = folded

    def get(self, name: str, default: Any = None) -> Any:
        return self._map.get(name.lower(), default)

    def get_list(self, name: str) -> List[str]:
        key = name.lower()
        return [value for n, value in self.raw if n.lower() == key]

    def multi_items(self) -> List[Tuple[str, str]]:
        return [(name.lower(), value) for name, value in self.raw]

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def keys(self) -> Any:
        return self._map.keys()

    def values(self) -> Any:
        return self._map.values()

    def items(self) -> Any:
        return self._map.items()

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


class Request:
    """One request: method, URL, headers (a dict with lower-case names), body, timeout (s)."""

    __slots__ = ("method", "url", "headers", "content", "timeout", "origin", "target")

    def __init__(self, method: str, url: str, headers: Dict[str, str], content: bytes, timeout: Optional[float]) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.timeout = timeout
        self.origin, self.target = _split(url)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class Head:
    __slots__ = ("status", "reason", "version", "headers", "keep_alive")

    def __init__(self, status: int, reason: str, version: str, headers: Headers, keep_alive: bool) -> None:
        self.status, self.reason, self.version, self.headers, self.keep_alive = status, reason, version, headers, keep_alive


END = object()  # the body is complete
NEW = object()  # the pool's answer: open a new connection


@functools.lru_cache(maxsize=256)  # a client sends to a few URLs, over and over: urlsplit costs ~2 µs a call
def _split(url: str) -> Tuple[Tuple[str, str, int], str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise LocalProtocolError(f"cannot send to {url!r}: only http:// and https:// URLs with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return (scheme, parts.hostname, port), target


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _check_header(name: str, value: str) -> None:
    if not name or any(c in name for c in " \t\r\n:\0") or any(c in value for c in "\r\n\0"):
        raise LocalProtocolError(f"invalid header {name!r}: names are tokens, values have no line breaks")


_FRAMING = frozenset(("host", "content-length", "transfer-encoding", "connection"))  # this client frames the message itself


def encode_head(request: Request) -> bytes:
    scheme, host, port = request.origin
    default = 443 if scheme == "https" else 80
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    lines = [f"{request.method} {request.target} HTTP/1.1", f"host: {host}" if port == default else f"host: {host}:{port}"]
    for name, value in request.headers.items():
        if name in _FRAMING:
            continue
        if not name or ":" in name or " " in name or "\t" in name:
            _check_header(name, value)
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(request.content)}")
    text = "\r\n".join(lines)
    # Line breaks and NUL are checked on the whole head at once (three C calls, not a scan per
    # header): the only CR and LF may be the separators just added.
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks or "\0" in text:
        for name, value in request.headers.items():
            _check_header(name, value)
        raise LocalProtocolError(f"invalid request target {request.target[:80]!r}: no line breaks")
    try:
        return (text + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError("header values must be latin-1 text") from None


# ----------------------------------------------------------------------------- the protocol

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """Bytes of one response in, events out (``Head``, body ``bytes``, ``END``), in ``self.events``.

    ``feed`` never keeps more than an unfinished line (a head, a chunk-size line) between calls:
    body bytes are handed out as soon as they arrive.
    """

    __slots__ = ("events", "_rest", "_state", "_remaining", "_no_body", "_decoder", "head", "extra", "fed")

    def __init__(self, no_body: bool = False) -> None:
        self.events: Deque[Any] = deque()
        self._rest = b""
        self._state = _HEAD
        self._remaining = 0
        self._no_body = no_body  # the answer to a HEAD request
        self._decoder: Any = None
        self.head: Optional[Head] = None
        self.extra = False  # bytes came after the response: the connection cannot be reused
        self.fed = False  # some byte of the answer arrived

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> None:
        self.fed = True
        if self._rest:
            data, self._rest = self._rest + data, b""
        state = self._state
        pos, size = 0, len(data)
        body: List[bytes] = []
        while pos < size:
            if state == _CHUNK_SIZE:
                end = data.find(b"\n", pos)
                if end < 0:
                    if size - pos > MAX_HEAD:
                        raise RemoteProtocolError("chunk size line too long")
                    break
                line = data[pos:end].split(b";", 1)[0].strip(b" \t\r")
                pos = end + 1
                if not _CHUNK_SIZE_DIGITS.fullmatch(line):
                    raise RemoteProtocolError(f"bad chunk size {line[:40]!r}")
                self._remaining = int(line, 16)
                state = _CHUNK_DATA if self._remaining else _TRAILER
            elif state == _CHUNK_DATA or state == _LENGTH:
                end = pos + self._remaining
                body.append(data[pos:end])
                taken = min(end, size) - pos
                self._remaining -= taken
                pos += taken
                if not self._remaining:
                    state = _CHUNK_END if state == _CHUNK_DATA else self._finish(body)
            elif state == _CHUNK_END:
                end = data.find(b"\n", pos)
                if end < 0:
                    if size - pos > 2:
                        raise RemoteProtocolError("chunk data longer than its size")
                    break
                if data[pos:end].strip():
                    raise RemoteProtocolError("chunk data longer than its size")
                pos = end + 1
                state = _CHUNK_SIZE
            elif state == _UNTIL_CLOSE:
                body.append(data[pos:] if pos else data)
                pos = size
            elif state == _HEAD:
                start = pos
                state, pos = self._parse_head(data, pos)
                if pos == start:  # the head is not complete (after a 1xx head, the next may be)
                    break
                if state == _DONE:
                    self.events.append(END)
            elif state == _TRAILER:
                end = data.find(b"\n", pos)
                if end < 0:
                    if size - pos > MAX_HEAD:
                        raise RemoteProtocolError("chunked trailer too large")
                    break
                blank = not data[pos:end].strip()
                pos = end + 1
                if blank:
                    state = self._finish(body)
            else:  # _DONE
                self.extra = True
                pos = size
        self._state = state
        if pos < size:
            self._rest = data[pos:]
            if state == _HEAD and len(self._rest) > MAX_HEAD:
                raise RemoteProtocolError(f"response head larger than {MAX_HEAD // 1024} KB")
        if body and state != _DONE:
            self._emit(body)

    def _finish(self, body: List[bytes]) -> int:
        self._emit(body)
        body.clear()
        self.events.append(END)
        return _DONE

    def _emit(self, body: List[bytes]) -> None:
        data = body[0] if len(body) == 1 else b"".join(body)
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                raise RemoteProtocolError(f"corrupt gzip/deflate body: {exc}") from None
        if data:
            self.events.append(data)

    def eof(self) -> None:
        """The connection closed. Ends a close-delimited body; anywhere else, the answer was cut."""
        state = self._state
        if state == _UNTIL_CLOSE:
            if self._decoder is not None:
                tail = self._decoder.flush()
                if tail:
                    self.events.append(tail)
            self._state = _DONE
            self.events.append(END)
        elif state == _HEAD and not self._rest:
            raise RemoteProtocolError("the server closed the connection without sending a response")
        elif state != _DONE:
            raise RemoteProtocolError("the server closed the connection before the end of the response")

    def _parse_head(self, data: bytes, pos: int) -> Tuple[int, int]:
        span = _head_end(data, pos)
        if span is None:
            return _HEAD, pos
        end, after = span
        # Lines end at LF only: str.splitlines() would also cut at bytes like 0x85 (NEL) or 0x1c,
        # which are text in a field value (0x85 is in UTF-8 "Å").
        text = data[pos:end].decode("latin-1")
        if text.count("\n") == text.count("\r\n"):  # the usual head: every line ends in CRLF
            lines = text.split("\r\n")
        else:
            lines = [line[:-1] if line[-1:] == "\r" else line for line in text.split("\n")]
        while lines and not lines[0]:  # tolerate blank lines before the status line
            del lines[0]
        status_line = lines[0] if lines else ""
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit() and len(code) == 3):
            raise RemoteProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(code)
        raw: List[Tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and raw:  # obsolete line folding
                raw[-1] = (raw[-1][0], raw[-1][1] + " " + line.strip(" \t"))
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise RemoteProtocolError(f"malformed header line {line[:80]!r}")
            raw.append((name, value.strip(" \t")))  # only SP and HTAB are whitespace here, not 0x85 or 0xa0
        if 100 <= status < 200 and status != 101:
            return _HEAD, after  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        headers = Headers(raw)
        connection = (headers.get("connection") or "").lower()
        keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        self.head = Head(status, reason, version, headers, keep_alive)
        self.events.append(self.head)
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        elif encoding != "identity":
            raise RemoteProtocolError(f"unsupported content-encoding {encoding!r}")
        if self._no_body or status in (204, 304) or status == 101:
            return _DONE, after
        if "chunked" in (headers.get("transfer-encoding") or "").lower():
            return _CHUNK_SIZE, after
        length = headers.get("content-length")
        if length is not None:
            values = {v.strip() for v in length.split(",")}
            value = values.pop() if len(values) == 1 else ""
            if not (value.isascii() and value.isdigit()):  # "²".isdigit() is true too
                raise RemoteProtocolError(f"bad content-length {length[:40]!r}")
            self._remaining = int(value)
            return (_LENGTH if self._remaining else _DONE), after
        self.head.keep_alive = False
        return _UNTIL_CLOSE, after


def _head_end(data: bytes, pos: int) -> Optional[Tuple[int, int]]:
    """Where the blank line that ends a head starts and ends, or None if it has not arrived.

    A blank line is ``\r?\n\r?\n``; the first one counts. Each form holds ``\n\r\n`` or
    ``\n\n``, so two ``find`` calls (memchr speed, ~0.1 µs) locate it where a regular expression
    stepped through every byte (~3 µs for a 300-byte answer). The second search stops at the
    first hit of the first, so a body after a CRLF head is never scanned.
    """
    crlf = data.find(b"\n\r\n", pos)
    lf = data.find(b"\n\n", pos, crlf + 1 if crlf >= 0 else len(data))  # + 1: "\n\n\r\n" ends at the first pair
    if lf >= 0:
        first, after = lf, lf + 2
    elif crlf >= 0:
        first, after = crlf, crlf + 3
    else:
        return None
    return (first - 1 if first > pos and data[first - 1] == 13 else first), after  # 13: CR


# ----------------------------------------------------------------------------- responses


class Response:
    """An answer whose body is read with ``read()``/``iter_bytes()`` or their async twins."""

    __slots__ = ("status_code", "reason_phrase", "http_version", "headers", "request", "_content", "_source", "_taken")

    def __init__(self, head: Head, request: Request, source: Any) -> None:
        self.status_code = head.status
        self.reason_phrase = head.reason
        self.http_version = head.version
        self.headers = head.headers
        self.request = request
        self._content: Optional[bytes] = None
        self._source = source  # the exchange on the connection, until the body is read or the response closed
        self._taken = False

    @property
    def is_closed(self) -> bool:
        return self._source is None

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise ResponseNotRead()
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers.get("content-type")), "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    def read(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_bytes())
        return self._content

    async def aread(self) -> bytes:
        if self._content is None:
            self._content = b"".join([piece async for piece in self.aiter_bytes()])
        return self._content

    def iter_bytes(self) -> Iterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        source = self._take()
        try:
            next_body = source.next_body
            while True:
                piece = next_body()
                if piece is END:
                    return
                yield piece
        finally:
            self.close()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        source = self._take()
        try:
            pop, next_body = source.pop, source.next_body
            while True:
                piece = pop()
                if piece is None:
                    piece = await next_body()
                if piece is END:
                    return
                yield piece
        finally:
            self.close()

    def _take(self) -> Any:
        if self._source is None:
            raise StreamClosed("the response is closed")
        if self._taken:
            raise StreamConsumed("the body is being read, or was read, already")
        self._taken = True
        return self._source

    def close(self) -> None:
        """Release the connection: back to the pool if the body was read to the end, else closed."""
        source, self._source = self._source, None
        if source is not None:
            source.finish()

    async def aclose(self) -> None:
        self.close()

    def as_httpx(self) -> Any:
        """The same answer as an ``httpx2.Response`` (what errors carry, as with any httpx client)."""
        from ._client import _httpx

        httpx = _httpx()
        request = httpx.Request(self.request.method, self.request.url, headers=self.request.headers)
        content = self._content if self._content is not None else b""
        headers = [(n, v) for n, v in self.headers.raw if n.lower() not in ("content-encoding", "transfer-encoding")]
        return httpx.Response(self.status_code, headers=headers, content=content, request=request)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class StreamConsumed(RuntimeError):
    pass


class StreamClosed(RuntimeError):
    pass


class ResponseNotRead(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the body has not been read: call read() first")


def _charset(content_type: Optional[str]) -> str:
    if content_type:
        for param in content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
                try:
                    "".encode(charset)
                    return charset
                except LookupError:
                    break
    return "utf-8"


# ----------------------------------------------------------------------------- timeouts and pool


class Timeouts:
    __slots__ = ("connect", "read", "write", "pool")

    def __init__(self, connect: Optional[float], read: Optional[float], write: Optional[float], pool: Optional[float]) -> None:
        self.connect, self.read, self.write, self.pool = connect, read, write, pool


class _Pool:
    """Bookkeeping shared by both shells: idle connections per origin and the count of open ones.

    An idle connection is reused for ``keepalive_expiry`` seconds at most (None: no limit). A
    firewall or NAT on the way may forget an idle connection without telling either end; a
    request sent on it would wait out the whole read timeout. Servers that close idle connections
    say so (a FIN, seen by ``usable()``); those that do not are covered by the expiry.
    """

    def __init__(self, max_connections: int, timeouts: Timeouts, keepalive_expiry: Optional[float],
                 clock: Any = time.monotonic) -> None:
        self.max_connections = max_connections
        self.timeouts = timeouts
        self.keepalive_expiry = keepalive_expiry
        self.clock = clock
        self.idle: Dict[Tuple[str, str, int], List[Any]] = {}  # per origin, oldest first
        self.open = 0
        self.closed = False

    def timeouts_for(self, request: Request) -> Timeouts:
        t = request.timeout
        return self.timeouts if t is None else Timeouts(t, t, t, t)

    def claim(self, origin: Tuple[str, str, int]) -> Any:
        """An idle connection to reuse; else ``NEW`` when one may be opened (it is counted now);
        else None: the caller waits for a release."""
        if self.closed:  # as httpx: a programming error, not a transport failure to retry
            raise RuntimeError("cannot send a request: the client has been closed")
        conn = self.pop_idle(origin)
        if conn is not None:
            return conn
        if self.open < self.max_connections or self.evict_other_idle():
            self.open += 1
            return NEW
        return None

    def pop_idle(self, origin: Tuple[str, str, int]) -> Any:
        """A reusable idle connection to ``origin`` (the most recently used), or None. Closed,
        stale and expired ones are dropped."""
        stack = self.idle.get(origin)
        if not stack:
            return None
        fresh_since = self._fresh_since()
        while stack:
            conn = stack.pop()
            if conn.idle_since >= fresh_since and conn.usable():
                return conn
            self._drop(conn)
        return None

    def park(self, conn: Any) -> None:
        """An idle connection back on its origin's stack; expired ones at the bottom are closed."""
        now = self.clock()
        conn.idle_since = now
        stack = self.idle.setdefault(conn.origin, [])
        if stack and self.keepalive_expiry is not None:
            fresh_since = now - self.keepalive_expiry
            while stack and stack[0].idle_since < fresh_since:
                self._drop(stack.pop(0))
        stack.append(conn)

    def _fresh_since(self) -> float:
        return float("-inf") if self.keepalive_expiry is None else self.clock() - self.keepalive_expiry

    def evict_other_idle(self) -> bool:
        """At the limit with no idle connection to this origin: close one idle to another origin."""
        for stack in self.idle.values():
            if stack:
                self._drop(stack.pop(0))
                return True
        return False

    def _drop(self, conn: Any) -> None:
        conn.close_transport()
        self.open -= 1

    def take_all_idle(self) -> List[Any]:
        conns = [c for stack in self.idle.values() for c in stack]
        self.idle.clear()
        self.open -= len(conns)
        return conns


def _parse_timeouts(connect: Optional[float], read: Optional[float]) -> Timeouts:
    return Timeouts(connect, read, read, read)


# ----------------------------------------------------------------------------- the blocking shell


class _SyncConn:
    __slots__ = ("sock", "origin", "parser", "error", "idle_since", "uses", "_broken")

    def __init__(self, sock: socket.socket, origin: Tuple[str, str, int]) -> None:
        self.sock = sock
        self.origin = origin
        self.parser: Optional[ResponseParser] = None
        self.error = None  # failures are raised at once; the async twin has to keep them
        self.uses = 0  # exchanges begun on this connection
        self._broken = False

    def usable(self) -> bool:
        """An idle connection with something to read was closed (or spoken to) by the server."""
        if self._broken:
            return False
        try:
            poll = select.poll()
            poll.register(self.sock, select.POLLIN)
            return not poll.poll(0)
        except (OSError, ValueError):
            return False

    def close_transport(self) -> None:
        self._broken = True
        try:
            self.sock.close()
        except OSError:
            pass

    def exchange(self, request: Request, timeouts: Timeouts) -> Head:
        self.parser = parser = ResponseParser(no_body=request.method == "HEAD")
        self.uses += 1
        sock = self.sock
        head = encode_head(request)
        body = request.content
        sock.settimeout(timeouts.write)
        try:
            if len(body) <= READ_SIZE:
                sock.sendall(head + body)
            else:
                sock.sendall(head)
                sock.sendall(memoryview(body))
        except socket.timeout:
            raise WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            # The server may have answered (413, 400) and closed before reading the whole body.
            try:
                if self._receive(timeouts, parser) is not None and parser.head is not None:
                    return parser.events.popleft()
            except TransportError:
                pass
            raise WriteError(f"sending the request failed: {exc}") from None
        head_event = self._receive(timeouts, parser)
        assert isinstance(head_event, Head)
        return head_event

    def _receive(self, timeouts: Timeouts, parser: ResponseParser) -> Any:
        events = parser.events
        if events:
            return events.popleft()
        sock = self.sock
        sock.settimeout(timeouts.read)
        while not events:
            try:
                data = sock.recv(READ_SIZE)
            except socket.timeout:
                raise ReadTimeout("timed out waiting for the response") from None
            except OSError as exc:
                raise ReadError(f"reading the response failed: {exc}") from None
            if data:
                parser.feed(data)
            else:
                parser.eof()
        return events.popleft()


def _closed_while_idle(conn: Any, exc: BaseException) -> bool:
    """Whether a failed exchange met a kept-alive connection that the server had closed just as
    the request went out (the race ``usable()`` cannot see): the connection was used before, and
    it failed — not timed out — before a single byte of answer arrived. A server closes a
    kept-alive connection when it holds no request, so the request is sent again on another
    connection at once, as browsers do, instead of failing or waiting out a retry backoff. A fresh
    connection's failure is never taken for this, so the resends end; any other failure is the
    caller's (the SDK's retry policy) to handle."""
    parser = conn.parser
    return (conn.uses > 1 and isinstance(exc, (NetworkError, RemoteProtocolError))
            and parser is not None and not parser.fed)


class _Exchange:
    """A response body being read from a connection; gives the connection back when done: to the
    pool if the response was read to its end and may be followed by another, else closed."""

    __slots__ = ("conn", "client", "timeouts", "finished")

    def __init__(self, conn: Any, client: Any, timeouts: Timeouts) -> None:
        self.conn, self.client, self.timeouts, self.finished = conn, client, timeouts, False

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        conn = self.conn
        parser = conn.parser
        reusable = (parser is not None and parser.done and not parser.events and not parser.extra
                    and conn.error is None and parser.head is not None and parser.head.keep_alive)
        conn.parser = None
        self.client._release(conn, reusable)


class _SyncExchange(_Exchange):
    __slots__ = ()

    def next_body(self) -> Any:
        conn = self.conn
        try:
            piece = conn._receive(self.timeouts, conn.parser)  # type: ignore[arg-type]
        except BaseException:
            self.finish()
            raise
        if piece is END:
            self.finish()
        return piece


#: Idle connections are reused for this long at most: Go's net/http default. Below the idle
#: timeouts of cloud NATs and load balancers that drop connections silently (240 s and up).
KEEPALIVE_EXPIRY_S = 90.0


class _Base:
    def __init__(self, *, timeout: Optional[float] = 600.0, connect_timeout: Optional[float] = 10.0,
                 max_connections: int = 100, ssl_context: Any = None,
                 keepalive_expiry: Optional[float] = KEEPALIVE_EXPIRY_S, clock: Any = time.monotonic) -> None:
        self._pool = _Pool(max_connections, _parse_timeouts(connect_timeout, timeout), keepalive_expiry, clock)
        self._ssl_context = ssl_context  # a callable that returns the verifying context (built on first https use)

    @property
    def is_closed(self) -> bool:
        return self._pool.closed

    def build_request(self, method: str, url: str, *, headers: Optional[Dict[str, str]] = None,
                      content: bytes = b"", timeout: Optional[float] = None) -> Request:
        fixed = {name.lower(): value if type(value) is str else _text(value) for name, value in headers.items()} if headers else {}
        if isinstance(content, str):
            content = content.encode("utf-8")
        return Request(method, url, fixed, content, timeout)

    def _resend_or_raise(self, conn: Any, exc: BaseException) -> None:
        """After a failed exchange: the connection is closed; the failure is raised again unless
        the connection was a kept-alive one the server had just closed (the send loop goes on)."""
        stale = _closed_while_idle(conn, exc)
        self._release(conn, False)  # type: ignore[attr-defined]
        if not stale:
            raise exc

    def _tls(self) -> Any:
        if self._ssl_context is None:
            import ssl

            return ssl.create_default_context()
        return self._ssl_context()


class Client(_Base):
    """Blocking HTTP/1.1 client, safe to share between threads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Condition()

    def send(self, request: Request, stream: bool = False) -> Response:
        timeouts = self._pool.timeouts_for(request)
        while True:
            conn = self._acquire(request.origin, timeouts)
            try:
                head = conn.exchange(request, timeouts)
                break
            except BaseException as exc:
                self._resend_or_raise(conn, exc)
        response = Response(head, request, _SyncExchange(conn, self, timeouts))
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response

    def _acquire(self, origin: Tuple[str, str, int], timeouts: Timeouts) -> _SyncConn:
        pool = self._pool
        with self._lock:
            deadline: Optional[float] = None
            while True:
                conn = pool.claim(origin)
                if conn is NEW:
                    break
                if conn is not None:
                    return conn
                now = time.monotonic()
                if deadline is None and timeouts.pool is not None:
                    deadline = now + timeouts.pool
                if deadline is not None and now >= deadline:
                    raise PoolTimeout(f"no connection free in the pool of {pool.max_connections}")
                self._lock.wait(None if deadline is None else deadline - now)
        try:
            return _SyncConn(self._connect(origin, timeouts), origin)
        except BaseException:
            with self._lock:
                pool.open -= 1
                self._lock.notify()
            raise

    def _connect(self, origin: Tuple[str, str, int], timeouts: Timeouts) -> socket.socket:
        scheme, host, port = origin
        try:
            sock = socket.create_connection((host, port), timeout=timeouts.connect)
        except socket.timeout:
            raise ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            try:
                sock = self._tls().wrap_socket(sock, server_hostname=host)
            except socket.timeout:
                sock.close()
                raise ConnectTimeout(f"timed out in the TLS handshake with {host}:{port}") from None
            except OSError as exc:
                sock.close()
                raise ConnectError(f"TLS with {host}:{port} failed: {exc}") from None
        return sock

    def _release(self, conn: _SyncConn, reusable: bool) -> None:
        with self._lock:
            pool = self._pool
            if reusable and not pool.closed:
                pool.park(conn)
            else:
                pool._drop(conn)
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._pool.closed = True
            idle = self._pool.take_all_idle()
            self._lock.notify_all()
        for conn in idle:
            conn.close_transport()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


# ----------------------------------------------------------------------------- the asyncio shell


class _AsyncConn:
    """The protocol object asyncio calls back: feeds what arrives to the current parser and wakes
    the reader. Reading pauses while more than ``_HIGH_WATER`` bytes of body wait unread."""

    __slots__ = ("loop", "transport", "origin", "parser", "waiter", "error", "closed", "buffered", "idle_since",
                 "uses", "_paused", "_write_paused", "_drain")

    def __init__(self, loop: Any, origin: Tuple[str, str, int]) -> None:
        self.loop = loop
        self.transport: Any = None
        self.origin = origin
        self.parser: Optional[ResponseParser] = None
        self.waiter: Any = None
        self.error: Optional[BaseException] = None
        self.closed = False
        self.buffered = 0  # body bytes parsed and not yet taken by the reader
        self.uses = 0  # exchanges begun on this connection
        self._paused = False
        self._write_paused = False
        self._drain: Any = None

    # -- asyncio's protocol interface
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # spoken to while idle: not a connection we can trust
            self.close_transport()
            return
        before = len(parser.events)
        try:
            parser.feed(data)
        except TransportError as exc:
            self.error = exc
            self.close_transport()
        events = parser.events
        for index in range(before, len(events)):
            event = events[index]
            if type(event) is bytes:
                self.buffered += len(event)
        if self.buffered > _HIGH_WATER and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._ended(None)
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.closed = True
        if self.error is None:
            self._ended(exc)
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _ended(self, exc: Optional[BaseException]) -> None:
        parser = self.parser
        if parser is None or parser.done:
            self.closed = True
            return
        try:
            parser.eof()
        except TransportError as error:
            self.error = ReadError(f"{error}: {exc}") if exc is not None else error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- used by the client
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def close_transport(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def write(self, data: bytes, timeouts: Timeouts) -> None:
        self.transport.write(data)
        if self._write_paused and not self.closed:
            self._drain = self.loop.create_future()
            await self._wait(self._drain, timeouts.write, WriteTimeout, "timed out sending the request")

    def pop(self) -> Any:
        """The next event if one is ready, else None."""
        events = self.parser.events  # type: ignore[union-attr]
        if not events:
            return None
        event = events.popleft()
        if type(event) is bytes:
            self.buffered -= len(event)
            if self._paused and self.buffered <= _HIGH_WATER // 4:
                self._paused = False
                self.transport.resume_reading()
        return event

    async def next_event(self, timeout: Optional[float]) -> Any:
        while True:
            event = self.pop()
            if event is not None:
                return event
            if self.error is not None:
                raise self.error
            if self.closed:
                raise ReadError("the connection closed")
            self.waiter = self.loop.create_future()
            await self._wait(self.waiter, timeout, ReadTimeout, "timed out waiting for the response")

    async def _wait(self, future: Any, timeout: Optional[float], error: type, message: str) -> None:
        if timeout is None:
            await future
            return
        timer = self.loop.call_later(timeout, _expire, future, error, message)
        try:
            await future
        finally:
            timer.cancel()


def _expire(future: Any, error: type, message: str) -> None:
    if not future.done():
        future.set_exception(error(message))


class _AsyncExchange(_Exchange):
    __slots__ = ("pop",)

    def __init__(self, conn: _AsyncConn, client: "AsyncClient", timeouts: Timeouts) -> None:
        super().__init__(conn, client, timeouts)
        self.pop = conn.pop

    async def next_body(self) -> Any:
        return await self.conn.next_event(self.timeouts.read)


class AsyncClient(_Base):
    """HTTP/1.1 over asyncio; one instance belongs to one event loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._waiters: Deque[Any] = deque()
        self._loop: Any = None

    async def send(self, request: Request, stream: bool = False) -> Response:
        timeouts = self._pool.timeouts_for(request)
        while True:
            conn = await self._acquire(request.origin, timeouts)
            try:
                head = await self._exchange(conn, request, timeouts)
                break
            except BaseException as exc:
                self._resend_or_raise(conn, exc)
        response = Response(head, request, _AsyncExchange(conn, self, timeouts))
        if not stream:
            try:
                await response.aread()
            except BaseException:
                response.close()
                raise
        return response

    async def _exchange(self, conn: _AsyncConn, request: Request, timeouts: Timeouts) -> Head:
        conn.parser = ResponseParser(no_body=request.method == "HEAD")
        conn.error = None
        conn.uses += 1
        head = encode_head(request)
        body = request.content
        if len(body) <= READ_SIZE:
            await conn.write(head + body, timeouts)
        else:
            conn.transport.write(head)
            await conn.write(body, timeouts)
        event = await conn.next_event(timeouts.read)
        assert isinstance(event, Head)
        return event

    async def _acquire(self, origin: Tuple[str, str, int], timeouts: Timeouts) -> _AsyncConn:
        pool = self._pool
        loop = self._loop
        if loop is None:
            import asyncio

            loop = self._loop = asyncio.get_running_loop()
        while True:
            conn = pool.claim(origin)
            if conn is NEW:
                break
            if conn is not None:
                return conn
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                if timeouts.pool is None:
                    await waiter
                else:
                    timer = loop.call_later(timeouts.pool, _expire, waiter, PoolTimeout,
                                            f"no connection free in the pool of {pool.max_connections}")
                    try:
                        await waiter
                    finally:
                        timer.cancel()
            except BaseException:
                self._notify()  # a release meant for this waiter must not be lost with it
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        try:
            return await self._connect(loop, origin, timeouts)
        except BaseException:
            pool.open -= 1
            self._notify()
            raise

    async def _connect(self, loop: Any, origin: Tuple[str, str, int], timeouts: Timeouts) -> _AsyncConn:
        import asyncio

        scheme, host, port = origin
        conn = _AsyncConn(loop, origin)
        tls = self._tls() if scheme == "https" else None
        try:
            connecting = loop.create_connection(lambda: conn, host, port, ssl=tls,
                                                server_hostname=host if tls is not None else None)
            if timeouts.connect is None:
                transport, _ = await connecting
            else:
                transport, _ = await asyncio.wait_for(connecting, timeouts.connect)
        except asyncio.TimeoutError:
            raise ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            kind = "TLS with" if tls is not None and _is_ssl_error(exc) else "cannot connect to"
            raise ConnectError(f"{kind} {host}:{port}: {exc}") from None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        return conn

    def _release(self, conn: _AsyncConn, reusable: bool) -> None:
        pool = self._pool
        if reusable and not pool.closed and conn.usable():
            pool.park(conn)
        else:
            pool._drop(conn)
        self._notify()

    def _notify(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        pool = self._pool
        pool.closed = True
        for conn in pool.take_all_idle():
            conn.close_transport()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def _is_ssl_error(exc: BaseException) -> bool:
    return type(exc).__module__ == "ssl" or "SSL" in type(exc).__name__
