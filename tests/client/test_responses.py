"""Responses: typed models that keep unknown fields; streams that end at [DONE] and free their connection."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from mistral_gcp import MistralGCP, models
from mistral_gcp.models.chat import CompletionResponseStreamChoice, DeltaMessage
from mistral_gcp.streaming import EventStream, EventStreamAsync

from helpers import CHAT_MODEL, USER, serve_fixed


def test_completion_is_typed_and_keeps_unknown_fields(emulator, both):
    emulator.script("painter", {
        "id": "abc", "object": "chat.completion", "model": CHAT_MODEL, "created": 1,
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cached_tokens": 1},
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Monet.", "citations": []},
                     "finish_reason": "brand_new_reason"}],
        "service_tier": "standard",
    })
    res = both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER)
    assert isinstance(res, models.ChatCompletionResponse)
    assert isinstance(res.usage, models.UsageInfo) and res.usage.total_tokens == 5
    assert res.choices[0].message.content == "Monet."
    assert res.choices[0].finish_reason == "brand_new_reason"
    assert res.model_extra == {"service_tier": "standard"}
    assert res.usage.model_extra == {"cached_tokens": 1}
    assert res.model_dump()["service_tier"] == "standard"


def test_stream_yields_completion_events_until_done(emulator, both):
    events = both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER, max_tokens=12)
    assert all(isinstance(e, models.CompletionEvent) and isinstance(e.data, models.CompletionChunk) for e in events)
    assert events[0].data.choices[0].delta.role == "assistant"
    text = "".join(e.data.choices[0].delta.content or "" for e in events if e.data.choices)
    assert text == both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER, max_tokens=12).choices[0].message.content
    assert events[-1].data.usage is not None
    assert emulator.requests[0].chunks == len(events)


def test_stream_tolerates_usage_only_chunks_without_choices(emulator, both):
    chunks = [
        {"id": "1", "model": CHAT_MODEL, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {"id": "1", "model": CHAT_MODEL, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
    ]
    emulator.script("painter", chunks)
    events = both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER)
    assert [len(e.data.choices) for e in events] == [1, 0]
    assert events[1].data.usage.total_tokens == 2


def test_stream_chunks_keep_unknown_fields_at_every_level(emulator, both):
    emulator.script("painter", [{
        "id": "1", "model": CHAT_MODEL, "service_tier": "standard",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi", "reasoning": "r"}, "stop_detail": "d"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cached_tokens": 1},
    }])
    [event] = both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER)
    chunk = event.data
    choice = chunk.choices[0]
    assert isinstance(choice, CompletionResponseStreamChoice) and isinstance(choice.delta, DeltaMessage)
    assert chunk.model_extra == {"service_tier": "standard"}
    assert choice.model_extra == {"stop_detail": "d"}
    assert choice.delta.model_extra == {"reasoning": "r"} and choice.delta.content == "Hi"
    assert chunk.usage.model_extra == {"cached_tokens": 1}
    assert event.model_extra == {}


def _fixed_stream(both, body: bytes):
    """The events a chat stream yields for this SSE body, served as is."""
    with serve_fixed(200, body, "text/event-stream") as url:
        client = MistralGCP(project_id="p", access_token="t", server_url=url, retry_config=None)
        return both.stream(client.chat, model=CHAT_MODEL, messages=USER)


def test_stream_payloads_padded_or_on_several_data_lines_decode(both):
    events = _fixed_stream(both, (
        b'data:   {"id": "1", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}  \t\r\n\r\n'
        b'data: {"id": "1",\ndata:  "choices": [{"index": 0, "delta": {"content": "lo"}}]}\n\n'
        b": keep-alive\n\n"
        b'data:{"id":"1","choices":[]}\n\n'
        b"data: [DONE]\n\n"
    ))
    assert [[c.delta.content for c in e.data.choices] for e in events] == [["Hel"], ["lo"], []]


@pytest.mark.parametrize("payload", [
    b'{"id": "2"',  # cut short
    b'{"id": "2"}}',  # one brace too many
    b'{"id": "2"} {"id": "3"}',  # two objects
    b"",
    b"[DONE",
])
def test_a_stream_payload_that_is_not_one_json_chunk_ends_the_stream_with_a_typed_error(both, payload):
    good = b'data: {"id": "1", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
    with pytest.raises(models.IncompleteStreamError, match="event 2 of the stream is not a valid chunk") as info:
        _fixed_stream(both, good + b"data: " + payload + b"\n\n" + good + b"data: [DONE]\n\n")
    assert info.value.events_received == 1


def _single_connection_clients():
    limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx2.Timeout(5.0, pool=0.5)
    return httpx2.Client(limits=limits, timeout=timeout), httpx2.AsyncClient(limits=limits, timeout=timeout)


def test_streams_reuse_one_connection_whether_read_fully_broken_or_closed(emulator, both):
    sync_http, async_http = _single_connection_clients()
    client = emulator.client(client=sync_http, async_client=async_http)
    kw = dict(model=CHAT_MODEL, messages=USER, max_tokens=40)

    def sync_run():
        for _ in range(3):  # fully read
            list(client.chat.stream(**kw))
        for event in client.chat.stream(**kw):  # broken out of early
            break
        stream = client.chat.stream(**kw)  # closed without reading
        stream.close()
        with client.chat.stream(**kw) as stream:  # left through the context manager
            next(iter(stream))
        return client.chat.complete(**kw)

    async def async_run():
        for _ in range(3):
            stream = await client.chat.stream_async(**kw)
            [e async for e in stream]
        stream = await client.chat.stream_async(**kw)
        async for event in stream:
            break
        await stream.aclose()
        stream = await client.chat.stream_async(**kw)  # closed without reading
        await stream.aclose()
        async with await client.chat.stream_async(**kw) as stream:
            await stream.__anext__()
        result = await client.chat.complete_async(**kw)
        await async_http.aclose()
        return result

    # With a pool of one connection and a 0.5 s pool timeout, any connection not given back would fail the next call.
    assert both.run(sync_run, async_run).choices
    assert len(emulator.requests) == 7
    # Fully-read streams hand their connection back: the first three share one.
    assert len({r.client_port for r in emulator.requests[:3]}) == 1


def test_stream_objects_are_iterators_and_context_managers(emulator):
    client = emulator.client()
    stream = client.chat.stream(model=CHAT_MODEL, messages=USER)
    assert isinstance(stream, EventStream)
    assert iter(stream) is stream
    with stream:
        first = next(stream)
    assert first.data.choices[0].delta.role == "assistant"

    async def go():
        s = await emulator.async_client().chat.stream_async(model=CHAT_MODEL, messages=USER)
        assert isinstance(s, EventStreamAsync)
        async with s:
            return [e async for e in s]

    assert asyncio.run(go())


def test_a_stream_keeps_its_client_alive(emulator, both):
    import gc

    emulator.inject(chunk_delay_ms=2, times=None, method="streamRawPredict")  # the body arrives over time

    def sync_run():
        with emulator.client().chat.stream(model=CHAT_MODEL, messages=USER, max_tokens=60) as stream:
            gc.collect()  # the temporary client is unreferenced but for the stream
            return list(stream)

    async def async_run():
        stream = await emulator.client().chat.stream_async(model=CHAT_MODEL, messages=USER, max_tokens=60)
        gc.collect()
        async with stream:
            return [event async for event in stream]

    events = both.run(sync_run, async_run)
    assert events[-1].data.choices[0].finish_reason
