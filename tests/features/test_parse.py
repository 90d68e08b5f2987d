"""Structured outputs: a type in, a strict json_schema on the wire, a validated object back."""

from __future__ import annotations

import json
from typing import List

import pytest
from pydantic import BaseModel

from mistral_gcp import models

from helpers import CHAT_MODEL

ASK = [{"role": "user", "content": "Name a painter"}]


class Painter(BaseModel):
    name: str
    born: int
    movements: List[str]


def test_parse_sends_a_strict_json_schema_and_returns_the_parsed_object(emulator, both):
    res = both.call(emulator.client().chat, "parse", model=CHAT_MODEL, messages=ASK, response_format=Painter)
    fmt = emulator.last_request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Painter" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"name", "born", "movements"}
    assert isinstance(res, models.ParsedChatCompletionResponse) and isinstance(res, models.ChatCompletionResponse)
    parsed = res.choices[0].message.parsed
    assert isinstance(parsed, Painter) and res.parsed is parsed
    assert parsed == Painter.model_validate_json(res.choices[0].message.content)
    assert "parsed" not in res.model_dump()["choices"][0]["message"]  # the dump is still the wire response


def test_parse_accepts_any_type_pydantic_validates(emulator, both):
    res = both.call(emulator.client().chat, "parse", model=CHAT_MODEL, messages=ASK, response_format=List[int])
    assert emulator.last_request.body["response_format"]["json_schema"]["schema"]["type"] == "array"
    assert res.parsed == json.loads(res.choices[0].message.content)
    assert all(isinstance(x, int) for x in res.parsed)


def test_every_choice_is_parsed(emulator, both):
    res = both.call(emulator.client().chat, "parse", model=CHAT_MODEL, messages=ASK, response_format=Painter, n=2)
    assert [type(c.message.parsed) for c in res.choices] == [Painter, Painter]


def test_a_reply_that_does_not_validate_raises_with_the_raw_content(emulator, both):
    emulator.script("painter", '{"name": "Monet", "born": "eighteen-forty"}')
    with pytest.raises(models.OutputParseError) as caught:
        both.call(emulator.client().chat, "parse", model=CHAT_MODEL, messages=ASK, response_format=Painter)
    error = caught.value
    assert error.content == '{"name": "Monet", "born": "eighteen-forty"}'
    assert {e["loc"][0] for e in error.errors} == {"born", "movements"}
    assert isinstance(error.response, models.ChatCompletionResponse)
    assert isinstance(error, models.MistralGCPError)


def test_parse_stream_yields_partial_json_and_ends_with_the_parsed_object(emulator, both):
    client = emulator.client()
    kwargs = dict(model=CHAT_MODEL, messages=ASK, response_format=Painter)

    def sync():
        with client.chat.parse_stream(**kwargs) as stream:
            return list(stream.text_stream), stream.get_final_response()

    async def run_async():
        stream = await client.chat.parse_stream_async(**kwargs)
        async with stream:
            return [t async for t in stream.text_stream], await stream.get_final_response()

    pieces, final = both.run(sync, run_async)
    assert len(pieces) > 3  # the JSON arrives in pieces
    assert emulator.last_request.body["response_format"]["json_schema"]["name"] == "Painter"
    assert isinstance(final, models.ParsedChatCompletionResponse)
    assert final.choices[0].message.content == "".join(pieces)
    assert final.parsed == Painter.model_validate_json("".join(pieces))


def test_parse_stream_that_does_not_validate_raises_at_the_end(emulator):
    emulator.script("painter", "not JSON at all")
    client = emulator.client()
    with client.chat.parse_stream(model=CHAT_MODEL, messages=ASK, response_format=Painter) as stream:
        assert "".join(stream.text_stream) == "not JSON at all"
        with pytest.raises(models.OutputParseError) as caught:
            stream.get_final_response()
    assert caught.value.content == "not JSON at all"


def test_parse_needs_a_type(emulator):
    with pytest.raises(TypeError, match="a type"):
        emulator.client().chat.parse(model=CHAT_MODEL, messages=ASK, response_format={"type": "json_object"})
    assert emulator.requests == []
