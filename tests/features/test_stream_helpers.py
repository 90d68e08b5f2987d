"""Stream helpers: text_stream, and the final response a stream adds up to (after or instead of iterating)."""

from __future__ import annotations

import pytest

from mistral_gcp import models

from helpers import CHAT_MODEL, FIM_MODEL, USER


def _with_stream(both, client, use, method="stream", namespace="chat", **kw):
    """Open a stream the sync or async way and hand it to ``use(stream)`` (a coroutine for async)."""
    ns = getattr(client, namespace)

    def sync():
        with getattr(ns, method)(**kw) as stream:
            return use(stream)

    async def run_async():
        stream = await getattr(ns, method + "_async")(**kw)
        async with stream:
            return await use(stream)

    return both.run(sync, run_async)


def _text_then_final(stream):
    if hasattr(stream, "__aiter__"):
        async def go():
            return [t async for t in stream.text_stream], await stream.get_final_response()
        return go()
    return list(stream.text_stream), stream.get_final_response()


def _final_only(stream):
    return stream.get_final_response()


def test_text_stream_and_final_response_match_the_non_streaming_answer(emulator, both):
    client = emulator.client()
    texts, final = _with_stream(both, client, _text_then_final, model=CHAT_MODEL, messages=USER, max_tokens=12)
    complete = client.chat.complete(model=CHAT_MODEL, messages=USER, max_tokens=12)
    assert all(isinstance(t, str) and t for t in texts) and len(texts) == 12
    assert "".join(texts) == complete.choices[0].message.content
    assert isinstance(final, models.ChatCompletionResponse)
    assert final.choices[0].message.content == complete.choices[0].message.content
    assert final.choices[0].finish_reason == complete.choices[0].finish_reason == "length"
    assert final.usage == complete.usage
    assert (final.id, final.model) == (complete.id, complete.model)


def test_final_response_instead_of_iterating(emulator, both):
    client = emulator.client()
    final = _with_stream(both, client, _final_only, model=CHAT_MODEL, messages=USER)
    assert final.choices[0].message.content == client.chat.complete(model=CHAT_MODEL, messages=USER).choices[0].message.content


def test_final_response_after_a_partial_read_reads_the_rest(emulator):
    client = emulator.client()
    with client.chat.stream(model=CHAT_MODEL, messages=USER) as stream:
        events = iter(stream)
        read = [next(events), next(events)]  # the role, then the first words
        final = stream.get_final_response()
    assert read[1].data.choices[0].delta.content
    assert final.choices[0].message.content.startswith(read[1].data.choices[0].delta.content)
    assert final.choices[0].message.content == client.chat.complete(model=CHAT_MODEL, messages=USER).choices[0].message.content


def test_fim_streams_have_the_helpers_too(emulator, both):
    texts, final = _with_stream(both, emulator.client(), _text_then_final, namespace="fim",
                                model=FIM_MODEL, prompt="def add(a, b):", suffix="\n")
    assert "".join(texts) == final.choices[0].message.content != ""


def test_tool_calls_are_assembled_from_their_deltas(emulator, both):
    def delta(**fields):
        return {"id": "s1", "model": CHAT_MODEL, "choices": [{"index": 0, "delta": fields}]}

    emulator.script("painter", [
        delta(role="assistant", content=""),
        delta(tool_calls=[{"id": "a", "type": "function", "index": 0, "function": {"name": "lookup", "arguments": '{"na'}}]),
        delta(tool_calls=[{"index": 0, "function": {"name": "", "arguments": 'me": "Monet"}'}},
                          {"id": "b", "index": 1, "function": {"name": "born", "arguments": "{}"}}]),
        {"id": "s1", "model": CHAT_MODEL, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}},
    ])
    final = _with_stream(both, emulator.client(), _final_only, model=CHAT_MODEL, messages=USER)
    message = final.choices[0].message
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("a", "lookup", '{"name": "Monet"}'), ("b", "born", "{}")]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.total_tokens == 10


def test_no_final_response_from_a_stream_that_ended_without_done(emulator, both):
    emulator.inject(no_done=True, method="streamRawPredict")
    with pytest.raises(models.IncompleteStreamError, match="without 'data: \\[DONE\\]'"):
        _with_stream(both, emulator.client(), _final_only, model=CHAT_MODEL, messages=USER)
