"""A sans-I/O decoder for server-sent events (the WHATWG ``text/event-stream`` format).

Feed it bytes as they arrive, in pieces of any size; it returns the events completed so far as
``(event_name, data)`` pairs, ``data`` being the ``data:`` lines joined by ``\\n`` (bytes, so the
JSON decoder can take them without a decode step). Lines may end in LF, CRLF or CR, even when a
CRLF is split across two pieces. Comments (``:...``) and ``id``/``retry`` fields are skipped.
Partial lines are kept as a list of pieces so a huge line arriving in small pieces costs linear,
not quadratic, time.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

Event = Tuple[Optional[bytes], bytes]

__all__ = ["Event", "SSEDecoder"]


class SSEDecoder:
    __slots__ = ("_partial", "_data", "_event", "_after_cr")

    def __init__(self) -> None:
        self._partial: List[bytes] = []
        self._data: Optional[bytes] = None
        self._event: Optional[bytes] = None
        self._after_cr = False

    def feed(self, chunk: bytes) -> List[Event]:
        if not chunk:  # an empty read must not forget a CR left pending by the previous piece
            return []
        if self._after_cr:  # the previous piece ended in CR: an LF here completes that CRLF
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        lines = chunk.split(b"\n")
        last = lines.pop()
        if last:
            self._partial.append(last)
        return self._lines(lines)

    def end(self) -> List[Event]:
        """The input is over: complete a last line and event left without their terminators."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._partial = []
        return self._lines(lines + [b""])

    def _lines(self, lines: List[bytes]) -> List[Event]:
        events: List[Event] = []
        for line in lines:
            if line[:6] == b"data: ":  # the usual line, decided without the general parse below
                value = line[6:]
                self._data = value if self._data is None else self._data + b"\n" + value
                continue
            if not line:
                if self._data is not None:
                    events.append((self._event, self._data))
                self._data = None
                self._event = None
                continue
            name, sep, value = line.partition(b":")
            if not name and sep:
                continue  # a comment
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data = value if self._data is None else self._data + b"\n" + value
            elif name == b"event":
                self._event = value
        return events
