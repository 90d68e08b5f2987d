"""Fuzzing: the SSE decoder, the stream state and the response/error parsing, with hypothesis.

What must hold, however the input is shaped or split:

- the SSE decoder gives the same events for a byte stream fed whole or in any pieces (empty pieces,
  a CRLF split in two, one byte at a time), for well-formed streams (LF/CR/CRLF mixes, comments,
  unknown fields, multi-line data) and for arbitrary garbage alike, and never raises;
- a stream body cut at any byte yields either every event (the cut came after ``[DONE]``) or a
  prefix of them followed by ``IncompleteStreamError``: truncation is never silent;
- any status and body a server (or a proxy in front of it) can send ends, through the client's
  real request path, as a correct result or a typed SDK error: never another exception.

The HTTP side uses httpx's ``MockTransport`` handed to the client as its ``client=``/
``async_client=``: the client's real shells run, without sockets, so hundreds of examples take
a second. Example counts are bounded and deadlines off, so the suite is fast and not flaky.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Iterable, List, Optional, Tuple

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mistral_gcp import MistralGCP, errors, models
from mistral_gcp._operations import CHAT, CHAT_STREAM, FIM
from mistral_gcp._sse import SSEDecoder
from mistral_gcp.errors import STATUS_ERRORS, error_for_response, explain
from mistral_gcp.streaming import _StreamState

from helpers import CHAT_MODEL, USER

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=120)

# ---------------------------------------------------------------- strategies

ENDINGS = st.sampled_from([b"\n", b"\r", b"\r\n"])
#: a field value: any bytes but the line terminators
VALUE = st.binary(max_size=24).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
NOISE = st.one_of(
    VALUE.map(lambda v: b":" + v),  # a comment
    VALUE.map(lambda v: b"id: " + v),
    st.integers(0, 10**6).map(lambda n: b"retry: %d" % n),
    VALUE.map(lambda v: b"x-unknown-field: " + v),
)
#: (event name or None, data lines, noise lines): one event as the server meant it
EVENT = st.tuples(st.none() | VALUE, st.lists(VALUE, min_size=1, max_size=4), st.lists(NOISE, max_size=3))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def _encode(events: List[Tuple[Optional[bytes], List[bytes], List[bytes]]], endings: List[bytes]) -> bytes:
    """Events as SSE bytes, each line with the next ending from ``endings`` (cycled)."""
    lines: List[bytes] = []
    for name, data, noise in events:
        if name is not None:
            lines.append(b"event: " + name)
        for i, value in enumerate(data):
            lines.extend(noise[i : i + 1])
            lines.append(b"data: " + value)
        lines.append(b"")
    out, previous = [], b""
    for i, line in enumerate(lines):
        ending = endings[i % len(endings)]
        if previous == b"\r" and not line and ending == b"\n":
            ending = b"\r\n"  # CR then an empty LF line would read as one CRLF: the format's own ambiguity
        out.append(line + ending)
        previous = ending
    return b"".join(out)


def _split(data: bytes, cuts: Iterable[int]) -> List[bytes]:
    """``data`` cut at the given offsets (repeats make empty pieces)."""
    points = sorted(min(c, len(data)) for c in cuts)
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


def _cuts(data: Any, body: bytes) -> List[int]:
    """Cut points inside ``body``, drawn from hypothesis' ``data`` (often repeated: empty pieces)."""
    return data.draw(st.lists(st.integers(0, len(body)), max_size=12))


def _decode(pieces: Iterable[bytes]) -> List[Tuple[Optional[bytes], bytes]]:
    decoder = SSEDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)]
    return events + decoder.end()


# ---------------------------------------------------------------- the SSE decoder


@FUZZ
@given(st.lists(EVENT, max_size=6), st.lists(ENDINGS, min_size=1, max_size=5), st.data())
def test_well_formed_streams_decode_to_their_events_however_split(events, endings, data):
    body = _encode(events, endings)
    expected = [(name, b"\n".join(lines)) for name, lines, _noise in events]
    assert _decode([body]) == expected
    assert _decode(_split(body, _cuts(data, body))) == expected


@FUZZ
@given(st.binary(max_size=400), st.data())
def test_any_bytes_decode_the_same_whole_or_in_pieces(garbage, data):
    assert _decode(_split(garbage, _cuts(data, garbage))) == _decode([garbage])


@FEW
@given(st.sampled_from([b"\r\n", b"\r", b"\n"]), st.integers(1, 7))
def test_line_endings_split_one_byte_at_a_time(ending, events):
    body = b"".join(b"data: %d" % i + ending + b"data: x" + ending + b":c" + ending + ending for i in range(events))
    expected = [(None, b"%d\nx" % i) for i in range(events)]
    assert _decode([body[i : i + 1] for i in range(len(body))]) == expected
    assert _decode([p for i in range(len(body)) for p in (body[i : i + 1], b"")]) == expected  # empty reads too


def test_a_huge_line_in_small_pieces_decodes_in_linear_time():
    line = b"x" * (8 * 1024 * 1024)
    body = b"data: " + line + b"\n\n"
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]  # 8,400 pieces: quadratic would not end
    assert _decode(pieces) == [(None, line)]


#: an event that is one ``data:`` line, as Vertex sends every event (the decoder's fast path)
ONE_LINE = VALUE.map(lambda v: (None, [v], []))


@FUZZ
@given(st.lists(st.one_of(ONE_LINE, ONE_LINE, ONE_LINE, EVENT), max_size=10), st.lists(ENDINGS, min_size=1, max_size=3), st.data())
def test_runs_of_one_line_events_decode_like_any_other_events(events, endings, data):
    body = _encode(events, endings)
    expected = [(name, b"\n".join(lines)) for name, lines, _noise in events]
    assert _decode([body]) == expected  # whole: runs are cut out in one go
    assert _decode([body[i : i + 1] for i in range(len(body))]) == expected  # a byte at a time: line by line
    decoder, pieces = SSEDecoder(), _split(body, _cuts(data, body))
    payloads = [d for piece in pieces for d in decoder.feed_data(piece)] + [d for _name, d in decoder.end()]
    assert payloads == [d for _name, d in expected]


# ---------------------------------------------------------------- the stream state

CHUNK = st.builds(
    lambda text, finish: {
        "id": "cmpl-1",
        "object": "chat.completion.chunk",
        "model": CHAT_MODEL,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    },
    st.text(max_size=12),
    st.none() | st.sampled_from(["stop", "length"]),
)


def _stream_body(chunks: List[dict], crlf: bool) -> bytes:
    ending = b"\r\n" if crlf else b"\n"
    frames = [b"data: " + json.dumps(c).encode() + ending + ending for c in chunks]
    return b"".join(frames) + b"data: [DONE]" + ending + ending


def _consume(pieces: Iterable[bytes]) -> Tuple[List[Any], Optional[BaseException]]:
    """What a stream yields for these pieces, and the error it ends with (if any)."""
    state = _StreamState(CHAT_STREAM.decode)
    out: List[Any] = []
    try:
        for piece in pieces:
            out.extend(state.feed(piece))
            if state.done:
                break
        out.extend(state.finish())
    except errors.MistralGCPError as exc:
        return out, exc
    return out, None


@FUZZ
@given(st.lists(CHUNK, max_size=6), st.booleans(), st.data())
def test_stream_events_are_the_same_however_the_body_is_split(chunks, crlf, data):
    body = _stream_body(chunks, crlf)
    whole, error = _consume([body])
    assert error is None
    assert [e.data.model_dump(exclude_unset=True) for e in whole] == chunks
    split, error = _consume(_split(body, _cuts(data, body)))
    assert error is None and split == whole


@FUZZ
@given(st.lists(CHUNK, min_size=1, max_size=5), st.booleans(), st.data())
def test_a_stream_cut_at_any_byte_is_complete_or_raises(chunks, crlf, data):
    body = _stream_body(chunks, crlf)
    full, _ = _consume([body])
    cut = data.draw(st.integers(0, len(body)))
    got, error = _consume([body[:cut]])
    if error is None:  # only possible once the whole [DONE] line arrived
        assert b"data: [DONE]" in body[:cut] and got == full
    else:
        assert isinstance(error, errors.IncompleteStreamError)
        assert got == full[: len(got)] and error.events_received == len(got)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=60), JSON.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"))))
def test_garbage_streams_end_in_events_or_a_typed_error(pieces):
    got, error = _consume(pieces)
    assert error is None or isinstance(error, errors.IncompleteStreamError)
    assert all(isinstance(e, models.CompletionEvent) for e in got)


# ---------------------------------------------------------------- responses and errors, through the client


class FakeResponse:
    """What ``error_for_response`` reads from a response: a status, headers and the text."""

    def __init__(self, status_code: int, text: str, headers: Optional[dict] = None) -> None:
        self.status_code = status_code
        self.text = text
        self.headers = headers or {}


STATUSES = st.sampled_from([200, 201, 299, 400, 401, 403, 404, 408, 409, 413, 418, 422, 429, 500, 502, 503, 504, 599])
VALID = {
    "id": "r1",
    "object": "chat.completion",
    "model": CHAT_MODEL,
    "created": 1,
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
}
PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.just(PROXY_PAGE),
    st.integers(0, len(json.dumps(VALID))).map(lambda n: json.dumps(VALID).encode()[:n]),  # truncated
    st.tuples(st.sampled_from(sorted(VALID)), JSON).map(lambda kv: json.dumps({**VALID, kv[0]: kv[1]}).encode()),
    st.dictionaries(st.text(min_size=1, max_size=8), JSON, max_size=3).map(
        lambda extra: json.dumps({**extra, **VALID}).encode()  # unknown fields
    ),
    st.builds(lambda m, s: json.dumps({"error": {"code": 1, "message": m, "status": s}}).encode(), JSON, JSON),
)
CONTENT_TYPES = st.sampled_from(["application/json", "text/html; charset=utf-8", "text/plain", ""])


def _mock_client(status: int, body: bytes, ctype: str, *, pieces: Optional[List[bytes]] = None) -> MistralGCP:
    def handler(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": ctype} if ctype else {}
        if pieces is not None:
            return httpx2.Response(status, headers=headers, content=_Pieces(pieces))
        return httpx2.Response(status, headers=headers, content=body)

    transport = httpx2.MockTransport(handler)
    return MistralGCP(
        project_id="p",
        access_token="ya29.fuzz",
        server_url="http://127.0.0.1:9",
        retry_config=None,
        client=httpx2.Client(transport=transport),
        async_client=httpx2.AsyncClient(transport=transport),
    )


class _Pieces:
    """A response body delivered in the given pieces, to sync and async readers."""

    def __init__(self, pieces: List[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self):
        return iter(self.pieces)

    async def __aiter__(self):
        for piece in self.pieces:
            yield piece


def _check_outcome(status: int, outcome: Any) -> None:
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, errors.MistralGCPError), repr(outcome)
        assert str(outcome)
    if status < 300:
        assert isinstance(outcome, (models.ChatCompletionResponse, errors.ResponseValidationError))
        return
    assert isinstance(outcome, errors.SDKError) and outcome.status_code == status
    expected = STATUS_ERRORS.get(status) or (errors.ServerError if status >= 500 else errors.SDKError)
    if expected is errors.HTTPValidationError:
        expected = errors.SDKError  # a 422 whose body is not Mistral's validation detail stays generic
    assert isinstance(outcome, expected)


@pytest.mark.parametrize("mode", ["sync", "async"])
@FUZZ
@given(status=STATUSES, body=BODIES, ctype=CONTENT_TYPES)
def test_any_response_is_a_result_or_a_typed_error(mode, status, body, ctype):
    client = _mock_client(status, body, ctype)
    try:
        if mode == "sync":
            outcome: Any = client.chat.complete(model=CHAT_MODEL, messages=USER)
        else:
            outcome = asyncio.run(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
    except Exception as exc:
        outcome = exc
    _check_outcome(status, outcome)
    if isinstance(outcome, models.ChatCompletionResponse):
        assert set(json.loads(body)) <= set(outcome.model_dump())  # unknown fields are kept, none dropped


@FUZZ
@given(st.lists(st.binary(max_size=80) | st.sampled_from([b"data: [DONE]\n\n", b"data: {}\n\n", b"\r\n", PROXY_PAGE])))
def test_any_stream_body_through_the_client_ends_in_events_or_a_typed_error(pieces):
    client = _mock_client(200, b"", "text/event-stream", pieces=pieces)
    got: List[Any] = []
    try:
        with client.chat.stream(model=CHAT_MODEL, messages=USER) as events:
            got.extend(events)
    except Exception as exc:
        assert isinstance(exc, errors.IncompleteStreamError), repr(exc)
    assert all(isinstance(e, models.CompletionEvent) for e in got)


@FUZZ
@given(status=st.integers(400, 599), body=BODIES, ctype=CONTENT_TYPES, request_id=st.none() | st.text(max_size=8))
def test_error_for_response_types_any_error_body(status, body, ctype, request_id):
    text = body.decode("utf-8", "replace")
    headers = {"content-type": ctype, **({"x-request-id": request_id} if request_id else {})}
    error = error_for_response(FakeResponse(status, text, headers))
    _check_outcome(status, error)
    assert error.body == text and error.request_id == (request_id or None)


@FUZZ
@given(JSON)
def test_explain_reads_any_json_without_failing(payload):
    status, message, reason = explain(payload)
    assert all(part is None or isinstance(part, str) for part in (status, message, reason))


@FUZZ
@given(BODIES)
def test_decoders_raise_nothing_but_validation_errors(body):
    for operation in (CHAT, FIM):
        try:
            operation.decode(body)
        except ValueError:  # pydantic's ValidationError; the client turns it into ResponseValidationError
            pass
