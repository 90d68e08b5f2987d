"""Streams of server-sent events: ``EventStream`` (sync) and ``EventStreamAsync``.

Both are iterables and context managers over one HTTP response. The shared, I/O-free part is
``_StreamState``: it feeds bytes to the SSE decoder, turns each event into a model, and knows
when the stream is over (``data: [DONE]``). The two classes are thin shells that read bytes.

Guarantees:
- a stream that ends, or is cut, before ``[DONE]`` raises ``IncompleteStreamError``: truncation
  is never silent;
- after ``[DONE]`` the rest of the body is drained, so the connection goes back to the pool;
- breaking out early, ``close()``/``aclose()`` or leaving the ``with`` block releases the
  connection at once.
"""

from __future__ import annotations

import sys
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Generic, Iterator, List, Optional, TypeVar

from pydantic import ValidationError

from . import errors
from ._accumulate import completion, delta_text
from ._sse import SSEDecoder
from .models.chat import ChatCompletionResponse
from ._transport_errors import is_transport_error as _is_transport_error
from ._transport_errors import translate_transport_error

T = TypeVar("T")

__all__ = ["EventStream", "EventStreamAsync"]

_DONE = b"[DONE]"
_DRAIN_LIMIT = 64 * 1024


class _StreamState(Generic[T]):
    """Decoding state of one stream: bytes in, models out, and whether ``[DONE]`` was seen."""

    __slots__ = ("decoder", "decode", "done", "count", "seen", "on_done")

    def __init__(self, decode: Callable[[bytes], T], on_done: Optional[Callable[[List[bytes], Any], None]] = None) -> None:
        self.decoder = SSEDecoder()
        self.decode = decode
        self.done = False
        self.count = 0
        # Every event's payload, for the final response: bytes, so the garbage collector ignores them.
        self.seen: List[bytes] = []
        self.on_done = on_done  # told the payloads once, at [DONE] (the client's usage counter)

    def feed(self, chunk: bytes) -> List[T]:
        return [self.model(data) for data in self.payloads(chunk)]

    def payloads(self, chunk: bytes) -> List[bytes]:
        """The ``data`` of the events ``chunk`` completes, up to ``[DONE]``; decode each with :meth:`model`.

        The iterators decode one event at a time, as it is handed out: a whole piece of models
        alive at once would outlive the garbage collector's youngest generation and make it run
        full collections over the whole heap (twice the cost of the decoding itself).
        """
        if self.done:
            return []
        out = self.decoder.feed_data(chunk)
        if _DONE in out:
            self.done = True
            del out[out.index(_DONE):]
        self.seen += out
        if self.done:
            self._ended()
        return out

    def _ended(self) -> None:
        if self.on_done is not None:
            self.on_done(self.seen, self.decode)

    def finish(self) -> List[T]:
        """The body ended. Returns what the last bytes completed, or raises if ``[DONE]`` never came."""
        items = self._models(self.decoder.end(), at_end=True) if not self.done else []
        if not self.done:
            delivered = self.count - len(items)  # events completed only by the end of the body are not handed out
            raise errors.IncompleteStreamError(
                f"the stream ended after {delivered} events without 'data: [DONE]'; the answer is incomplete",
                events_received=delivered,
            )
        return items

    def _models(self, events: List[Any], at_end: bool) -> List[T]:
        out: List[T] = []
        for _name, data in events:
            if data == _DONE:
                self.done = True
                self._ended()
                break
            self.seen.append(data)
            out.append(self.model(data, at_end))
        return out

    def model(self, data: bytes, at_end: bool = False) -> T:
        """One event's model, counted; a chunk that does not validate ends the stream with a typed error."""
        try:
            item = self.decode(data)
        except ValidationError as exc:
            if at_end:  # a line cut short by the end of the body
                raise errors.IncompleteStreamError(
                    f"the stream was cut inside event {self.count + 1}; the answer is incomplete",
                    events_received=self.count,
                ) from exc
            raise errors.IncompleteStreamError(
                f"event {self.count + 1} of the stream is not a valid chunk: "
                f"{errors.body_preview(data.decode('utf-8', 'replace'))}",
                events_received=self.count,
            ) from exc
        self.count += 1
        return item

    def cut(self, exc: BaseException) -> errors.MistralGCPError:
        """The typed error for a transport failure in the middle of the body."""
        translated = translate_transport_error(exc)
        if isinstance(translated, errors.APITimeoutError):
            return translated
        return errors.IncompleteStreamError(
            f"the connection broke after {self.count} events, before 'data: [DONE]': {exc}",
            events_received=self.count,
        )


class EventStream(Generic[T]):
    """A synchronous stream of events. Iterate it; it closes itself at the end.

    >>> with client.chat.stream(model="mistral-small-2503", messages=[...]) as stream:
    ...     for event in stream:
    ...         print(event.data.choices[0].delta.content, end="")
    """

    def __init__(self, response: Any, decode: Callable[[bytes], T], meta: Any = None, on_done: Any = None) -> None:
        self.response = response
        self._state: _StreamState[T] = _StreamState(decode, on_done)
        self._iterator: Optional[Iterator[T]] = None
        self._closed = False
        self._meta = meta
        self._finalize: Optional[Callable[[Dict[str, Any]], Any]] = None  # chat.parse_stream's parser

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._iterator is None:
            self._iterator = _iterate(self.response, self._state)
        return next(self._iterator)

    @property
    def meta(self) -> Any:
        """The call's ``ResponseMeta``: status, headers, request id, time to headers, retries."""
        return self._meta

    @property
    def text_stream(self) -> Iterator[str]:
        """Just the text: the first choice's content deltas, as they arrive.

        >>> for text in stream.text_stream:
        ...     print(text, end="")
        """
        return _texts(self)

    def get_final_response(self) -> Any:
        """The completion the stream adds up to (content, tool calls, finish_reason, usage), as a
        ``ChatCompletionResponse``. Reads what is left of the stream first."""
        for _ in self:
            pass
        return _final(self._state, self._finalize)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.response.close()

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:  # an abandoned stream must not keep its connection checked out
        try:
            if not self._closed:
                self.response.close()
        except Exception:
            pass


class EventStreamAsync(Generic[T]):
    """An asynchronous stream of events: ``async for event in stream``; ``await stream.aclose()``."""

    def __init__(self, response: Any, decode: Callable[[bytes], T], meta: Any = None, on_done: Any = None) -> None:
        self.response = response
        self._state: _StreamState[T] = _StreamState(decode, on_done)
        self._iterator: Optional[AsyncIterator[T]] = None
        self._closed = False
        self._meta = meta
        self._finalize: Optional[Callable[[Dict[str, Any]], Any]] = None

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        # Not ``async def``: handing out the generator's own awaitable saves a coroutine per event.
        if self._iterator is None:
            self._iterator = _aiterate(self.response, self._state)
        return self._iterator.__anext__()

    @property
    def meta(self) -> Any:
        """The call's ``ResponseMeta``: status, headers, request id, time to headers, retries."""
        return self._meta

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Just the text: ``async for text in stream.text_stream``."""
        return _atexts(self)

    async def get_final_response(self) -> Any:
        """The completion the stream adds up to; reads what is left of the stream first."""
        async for _ in self:
            pass
        return _final(self._state, self._finalize)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self.response.aclose()

    async def __aenter__(self) -> EventStreamAsync[T]:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:  # abandoned before the end: give the connection back from the loop
        if self._closed or self._iterator is not None:
            return  # an iterator's own finaliser closes the response
        try:
            # asyncio is not imported for sync-only programs; an async stream implies it is loaded
            sys.modules["asyncio"].get_running_loop().create_task(self.response.aclose())
        except Exception:
            pass


def _texts(events: Iterator[Any]) -> Iterator[str]:
    for event in events:
        for choice in event.data.choices:
            if choice.index == 0 and choice.delta.content:
                yield delta_text(choice.delta.content)


async def _atexts(events: AsyncIterator[Any]) -> AsyncIterator[str]:
    async for event in events:
        for choice in event.data.choices:
            if choice.index == 0 and choice.delta.content:
                yield delta_text(choice.delta.content)


def _final(state: _StreamState[Any], finalize: Optional[Callable[[Dict[str, Any]], Any]]) -> Any:
    if not state.done:
        raise errors.IncompleteStreamError(
            f"the stream was closed after {state.count} events, before 'data: [DONE]'; there is no final response",
            events_received=state.count,
        )
    data = completion([state.decode(payload) for payload in state.seen])
    return (finalize or ChatCompletionResponse.model_validate)(data)


# The iterators below do not reference the stream objects, so a stream dropped mid-way (a
# ``break``) is freed at once by reference counting, and closing the iterator closes the response.


def _iterate(response: Any, state: _StreamState[T]) -> Iterator[T]:
    try:
        chunks = response.iter_bytes()
        try:
            decode, payloads = state.decode, state.payloads
            for chunk in chunks:
                for data in payloads(chunk):
                    try:  # the hot path, inlined: state.model() does the same and explains failures
                        item = decode(data)
                    except ValidationError:
                        item = state.model(data)
                    else:
                        state.count += 1
                    yield item
                if state.done:
                    _drain(chunks)
                    return
        except Exception as exc:
            if _is_transport_error(exc):
                raise state.cut(exc) from exc
            raise
        yield from state.finish()
    finally:
        response.close()


async def _aiterate(response: Any, state: _StreamState[T]) -> AsyncIterator[T]:
    try:
        chunks = response.aiter_bytes()
        try:
            decode, payloads = state.decode, state.payloads
            async for chunk in chunks:
                for data in payloads(chunk):
                    try:  # the hot path, inlined as in _iterate
                        item = decode(data)
                    except ValidationError:
                        item = state.model(data)
                    else:
                        state.count += 1
                    yield item
                if state.done:
                    await _adrain(chunks)
                    return
        except Exception as exc:
            if _is_transport_error(exc):
                raise state.cut(exc) from exc
            raise
        for item in state.finish():
            yield item
    finally:
        await response.aclose()


def _drain(chunks: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` (normally just the end of the chunked body) so the connection is reusable."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > _DRAIN_LIMIT:
            return


async def _adrain(chunks: AsyncIterator[bytes]) -> None:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > _DRAIN_LIMIT:
            return
