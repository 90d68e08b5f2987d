"""A sans-I/O decoder for server-sent events (the WHATWG ``text/event-stream`` format).

Feed it bytes as they arrive, in pieces of any size; it returns the events completed so far as
``(event_name, data)`` pairs, ``data`` being the ``data:`` lines joined by ``\\n`` (bytes, so the
JSON decoder can take them without a decode step). ``feed_data`` returns just the ``data``, for
streams whose event names carry nothing (Vertex sends none). Lines may end in LF, CRLF or CR,
even when a CRLF is split across two pieces. Comments (``:...``) and ``id``/``retry`` fields are
skipped. Partial lines are kept as a list of pieces so a huge line arriving in small pieces costs
linear, not quadratic, time.

A Vertex stream is one run of ``data: {...}\\n\\n`` events. When the text fed starts such a run
and no event is in progress, the run is cut out with one ``split`` on ``\\n\\ndata: `` (in C, not
a Python loop over lines: ~0.18 µs an event instead of ~0.29). The pieces are taken as events only
if none holds a line end of its own (the count of line ends adds up); the text after the run, and
any text that is not such a run, goes through the general line parser below.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

Event = Tuple[Optional[bytes], bytes]

__all__ = ["Event", "SSEDecoder"]

_DATA = b"data: "
_RUN = b"\n\ndata: "  # the end of one event and the start of the next, in a run of one-line events


class SSEDecoder:
    __slots__ = ("_partial", "_data", "_event", "_after_cr")

    def __init__(self) -> None:
        self._partial: List[bytes] = []
        self._data: Optional[bytes] = None
        self._event: Optional[bytes] = None
        self._after_cr = False

    def feed(self, chunk: bytes) -> List[Event]:
        run, events = self._decode(chunk)
        return [(None, data) for data in run] + events if run else events

    def feed_data(self, chunk: bytes) -> List[bytes]:
        """Like :meth:`feed`, but only each event's ``data``."""
        run, events = self._decode(chunk)
        if events:
            run += [data for _name, data in events]
        return run

    def end(self) -> List[Event]:
        """The input is over: complete a last line and event left without their terminators."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._partial = []
        return self._lines(lines + [b""])

    def _decode(self, chunk: bytes) -> Tuple[List[bytes], List[Event]]:
        """The data of a leading run of one-line ``data:`` events, and the events after it."""
        if not chunk:  # an empty read must not forget a CR left pending by the previous piece
            return [], []
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
            return [], []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        run: List[bytes] = []
        if self._data is None and self._event is None and chunk[:6] == _DATA:
            pieces = chunk.split(_RUN)
            tail = pieces.pop()
            # Each separator holds two line ends; any other is inside a piece, and then this is no run.
            if pieces and chunk.count(b"\n") - tail.count(b"\n") == 2 * len(pieces):
                pieces[0] = pieces[0][6:]
                run = pieces
                chunk = _DATA + tail  # what follows the run (a copy of at most one event), for the line parser
        lines = chunk.split(b"\n")
        last = lines.pop()
        if last:
            self._partial.append(last)
        return run, self._lines(lines)

    def _lines(self, lines: List[bytes]) -> List[Event]:
        events: List[Event] = []
        for line in lines:
            if line[:6] == _DATA:  # the usual line, decided without the general parse below
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
