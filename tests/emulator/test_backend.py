"""What the emulated Mistral backend promises for chat and FIM bodies.

Pure-function tests: no server; `mistral_gcp.emulator.backend` is called directly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from mistral_gcp.emulator import backend
from mistral_gcp.emulator.backend import BodyError, count_tokens

MODEL = "mistral-small-2503"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}},
}


def chat(text: str = "Tell me about the bridges of Paris", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def fim(prompt: str = "def add(a, b):\n", suffix: str = "\n\nprint(add(1, 2))", **extra: Any) -> dict[str, Any]:
    return {"model": "codestral-2", "prompt": prompt, "suffix": suffix, **extra}


def content(body: dict[str, Any], index: int = 0, **kw: Any) -> str:
    return backend.complete(body, backend.operation_of(body), **kw)["choices"][index]["message"]["content"]


def rejection(body: Any, operation: str = "chat", **kw: Any) -> BodyError:
    with pytest.raises(BodyError) as caught:
        backend.validate(body, operation, **kw)
    json.dumps(caught.value.payload)  # every payload must be sendable as JSON
    return caught.value


def detail(body: Any, operation: str = "chat", **kw: Any) -> list[dict[str, Any]]:
    error = rejection(body, operation, **kw)
    assert error.status == 422
    assert error.payload["object"] == "error" and error.payload["type"] == "invalid_request_error"
    return error.payload["message"]["detail"]


# ----------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(("body", "operation"), [
    ({"document": {}, "prompt": "x", "messages": []}, "ocr"),
    ({"prompt": "x"}, "fim"),
    ({"messages": []}, "chat"),
    ({}, "chat"),
])
def test_operation_is_chosen_by_the_body_shape(body: dict[str, Any], operation: str) -> None:
    assert backend.operation_of(body) == operation


# ----------------------------------------------------------------------------- validation


def test_valid_bodies_are_returned_unchanged() -> None:
    full = chat(temperature=0.3, top_p=0.9, max_tokens=10, min_tokens=1, stream=False, stop=["\n"],
                random_seed=4, metadata={"a": 1}, response_format={"type": "text"}, tools=[WEATHER],
                tool_choice="auto", presence_penalty=0.1, frequency_penalty=0.1, repetition_penalty=1.1,
                top_k=5, logprobs=False, top_logprobs=0, prompt_logprobs=False, top_prompt_logprobs=0,
                n=2, prediction={"type": "content", "content": "x"}, parallel_tool_calls=True,
                reasoning_effort="low", prompt_mode="reasoning", guardrails=[{"name": "g"}])
    assert backend.validate(full, "chat") is full
    fim_body = fim(temperature=0, top_p=1, max_tokens=5, min_tokens=0, stream=True, stop="x",
                   random_seed=1, metadata={})
    assert backend.validate(fim_body, "fim") is fim_body


def test_every_kind_of_message_and_chunk_is_accepted() -> None:
    body = {"model": MODEL, "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "document_url", "document_url": "https://x/y.pdf", "document_name": "y"},
            {"type": "reference", "reference_ids": [1, 2]},
            {"text": "a chunk without its type"},
        ]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]}],
         "tool_calls": [{"id": "abc123XYZ", "type": "function",
                         "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "abc123XYZ", "name": "get_weather"},
        {"role": "assistant", "content": "The weather is", "prefix": True},
    ]}
    assert backend.validate(body, "chat") is body


@pytest.mark.parametrize("field", ["safe_prompt", "prompt_cache_key", "service_tier", "bogus"])
def test_fields_vertex_does_not_know_are_extra_forbidden(field: str) -> None:
    assert detail(chat(**{field: True})) == [{
        "type": "extra_forbidden", "loc": ["body", field], "msg": "Extra inputs are not permitted",
        "input": True}]


def test_safe_prompt_gets_the_mistral_422_envelope() -> None:
    error = rejection(chat(safe_prompt=True))
    assert error.status == 422
    assert error.payload == {
        "object": "error",
        "message": {"detail": [{"type": "extra_forbidden", "loc": ["body", "safe_prompt"],
                                "msg": "Extra inputs are not permitted", "input": True}]},
        "type": "invalid_request_error", "param": None, "code": None}


@pytest.mark.parametrize(("body", "operation", "loc"), [
    ({"model": MODEL}, "chat", ["body", "messages"]),
    ({"messages": [{"role": "user", "content": "hi"}]}, "chat", ["body", "model"]),
    ({"model": "codestral-2", "suffix": "x"}, "fim", ["body", "prompt"]),
    ({"model": "mistral-ocr-2505"}, "ocr", ["body", "document"]),
    ({"document": {"type": "document_url", "document_url": "data:,"}}, "ocr", ["body", "model"]),
])
def test_missing_required_fields(body: dict[str, Any], operation: str, loc: list[Any]) -> None:
    assert [(d["type"], d["loc"]) for d in detail(body, operation)] == [("missing", loc)]


def test_model_may_be_left_out_when_not_required() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert backend.validate(body, "chat", require_model=False) is body
    assert backend.validate({"prompt": "x"}, "fim", require_model=False)


@pytest.mark.parametrize(("extra", "kind", "loc"), [
    ({"temperature": "hot"}, "float_parsing", ["body", "temperature"]),
    ({"messages": "hello"}, "list_type", ["body", "messages"]),
    ({"messages": []}, "too_short", ["body", "messages"]),
    ({"temperature": -0.5}, "greater_than_equal", ["body", "temperature"]),
    ({"top_p": 1.5}, "less_than_equal", ["body", "top_p"]),
    ({"max_tokens": -1}, "greater_than_equal", ["body", "max_tokens"]),
    ({"n": 0}, "greater_than_equal", ["body", "n"]),
    ({"reasoning_effort": "extreme"}, "literal_error", ["body", "reasoning_effort"]),
    ({"response_format": {"type": "xml"}}, "literal_error", ["body", "response_format", "type"]),
    ({"response_format": {"type": "json_schema"}}, "value_error", ["body", "response_format"]),
    ({"messages": [{"role": "bot", "content": "x"}]}, "union_tag_invalid", ["body", "messages", 0]),
    ({"messages": [{"content": "x"}]}, "union_tag_not_found", ["body", "messages", 0]),
    ({"messages": [{"role": "user", "content": "x", "name": "me"}]}, "extra_forbidden",
     ["body", "messages", 0, "user", "name"]),
])
def test_bad_values_name_their_place(extra: dict[str, Any], kind: str, loc: list[Any]) -> None:
    found = detail(chat(**extra))
    assert (kind, loc) in [(d["type"], d["loc"]) for d in found]


def test_a_bad_tool_choice_is_rejected_by_both_union_members() -> None:
    found = detail(chat(tool_choice="sometimes", tools=[WEATHER]))
    assert {d["type"] for d in found} == {"literal_error", "model_type"}
    assert all(d["loc"][:2] == ["body", "tool_choice"] and d["input"] == "sometimes" for d in found)


def test_an_unknown_chunk_type_is_rejected() -> None:
    found = detail(chat(messages=[{"role": "user", "content": [{"type": "audio", "data": "x"}]}]))
    assert any(d["loc"][-1] == 0 and d["input"] == {"type": "audio", "data": "x"} for d in found)


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    assert [d["loc"] for d in detail([1, 2])] == [["body"]]


@pytest.mark.parametrize("last", [
    {"role": "assistant", "content": "done"},
    {"role": "system", "content": "be nice"},
    {"role": "assistant", "content": "done", "prefix": False},
])
def test_the_last_message_must_be_user_tool_or_a_prefix(last: dict[str, Any]) -> None:
    error = rejection(chat(messages=[{"role": "user", "content": "hi"}, last]))
    assert error.status == 400
    assert error.payload["type"] == "invalid_request_message_order"
    assert error.payload["message"].endswith("but got " + last["role"])


def test_a_forced_tool_must_be_among_the_tools() -> None:
    error = rejection(chat(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}))
    assert error.status == 400 and "nope" in error.payload["message"]


# ----------------------------------------------------------------------------- answers


def test_the_response_has_the_chat_completion_shape() -> None:
    answer = backend.complete(chat(), "chat", created=1_700_000_000)
    assert re.fullmatch(r"[0-9a-f]{32}", answer["id"])
    assert answer["object"] == "chat.completion"
    assert answer["model"] == MODEL and answer["created"] == 1_700_000_000
    (choice,) = answer["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["tool_calls"] is None
    assert choice["message"]["prefix"] is False
    assert 12 <= answer["usage"]["completion_tokens"] <= 60


def test_the_url_model_fills_in_for_a_missing_body_model() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert backend.complete(body, "chat", model="mistral-medium-3")["model"] == "mistral-medium-3"
    assert backend.complete(chat(), "chat", model="other")["model"] == MODEL


def test_the_same_body_gives_the_same_answer() -> None:
    body = chat(random_seed=7)
    first = backend.complete(body, "chat", created=1)
    assert backend.complete(json.loads(json.dumps(body)), "chat", created=1) == first


def test_seed_and_prompt_change_the_answer() -> None:
    base = content(chat(random_seed=1))
    assert content(chat(random_seed=2)) != base
    assert content(chat("Tell me about the canals of Venice", random_seed=1)) != base


def test_temperature_zero_ignores_the_seed() -> None:
    assert content(chat(temperature=0, random_seed=1)) == content(chat(temperature=0, random_seed=99))
    assert content(chat(temperature=0.7, random_seed=1)) != content(chat(temperature=0.7, random_seed=99))


def test_the_answer_mentions_the_prompt() -> None:
    words = {"bridges", "Paris"}
    assert any(w in content(chat(random_seed=s)) for s in range(5) for w in words)
    assert "Venice" in content(chat("Venice"))


def test_usage_counts_prompt_and_completion_tokens() -> None:
    messages = [{"role": "system", "content": "Answer in French."},
                {"role": "user", "content": [{"type": "text", "text": "Where is Lyon?"}]}]
    answer = backend.complete({"model": MODEL, "messages": messages}, "chat")
    usage = answer["usage"]
    assert usage["prompt_tokens"] == count_tokens("Answer in French.\nWhere is Lyon?")
    assert usage["completion_tokens"] == count_tokens(answer["choices"][0]["message"]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize("limit", [0, 1, 5, 11])
def test_max_tokens_cuts_the_answer_and_says_length(limit: int) -> None:
    full = content(chat(random_seed=3))
    answer = backend.complete(chat(random_seed=3, max_tokens=limit), "chat")
    text = answer["choices"][0]["message"]["content"]
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == count_tokens(text) == limit
    assert full.startswith(text)


def test_a_generous_max_tokens_changes_nothing() -> None:
    answer = backend.complete(chat(max_tokens=1000), "chat")
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["content"] == content(chat())


def test_min_tokens_lengthens_the_answer() -> None:
    answer = backend.complete(chat(min_tokens=300), "chat")
    assert answer["usage"]["completion_tokens"] >= 300
    exact = backend.complete(chat(min_tokens=500, max_tokens=500), "chat")
    assert exact["usage"]["completion_tokens"] == 500


@pytest.mark.parametrize("stop", ["the", ["zzz", " the"], [".", "the"]])
def test_stop_cuts_before_the_first_stop_sequence(stop: str | list[str]) -> None:
    full = content(chat(random_seed=5))
    answer = backend.complete(chat(random_seed=5, stop=stop), "chat")
    text = answer["choices"][0]["message"]["content"]
    sequences = [stop] if isinstance(stop, str) else stop
    first = min(full.find(s) for s in sequences if s in full)
    assert text == full[:first]
    assert not any(s in text for s in sequences)
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["completion_tokens"] == count_tokens(text)


def test_n_gives_that_many_different_choices() -> None:
    answer = backend.complete(chat(n=3), "chat")
    texts = [c["message"]["content"] for c in answer["choices"]]
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert texts[0] == content(chat())  # the first choice is the single answer
    assert answer["usage"]["completion_tokens"] == sum(map(count_tokens, texts))


def test_a_scripted_text_is_the_answer_and_still_obeys_limits() -> None:
    script = "Bonjour tout le monde. Fin."
    assert content(chat(), text=script) == script
    assert content(chat(stop="."), text=script) == "Bonjour tout le monde"
    answer = backend.complete(chat(max_tokens=2), "chat", text=script)
    assert answer["choices"][0]["message"]["content"] == "Bonjour tout"
    assert answer["usage"]["completion_tokens"] == 2


def test_an_assistant_prefix_starts_the_answer() -> None:
    body = chat(messages=[{"role": "user", "content": "Write a poem"},
                          {"role": "assistant", "content": "Roses are red,", "prefix": True}])
    assert content(body).startswith("Roses are red, ")


@pytest.mark.parametrize("text", ["", " ", "hello", "hello  world.\n", "a,b;c", "  lead", "x" * 25,
                                  "naïve café — ok?", "line\n\n  next\t"])
def test_tokens_cover_the_text_exactly(text: str) -> None:
    from mistral_gcp.emulator.backend_text import tokens

    assert "".join(tokens(text)) == text
    assert count_tokens(text) == len(tokens(text))


def test_count_tokens_counts_words_and_punctuation() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("internationalization") == 2  # words longer than ten characters split


# ----------------------------------------------------------------------------- FIM


def test_fim_fills_the_gap_with_code_at_the_right_indentation() -> None:
    answer = backend.complete(fim(), "fim")
    text = answer["choices"][0]["message"]["content"]
    assert answer["object"] == "chat.completion"
    assert text.startswith("    ") and not text.endswith("\n")
    assert all(line.startswith("    ") for line in text.split("\n") if line)
    assert answer["usage"]["prompt_tokens"] == count_tokens("def add(a, b):\n") + count_tokens(
        "\n\nprint(add(1, 2))")


def test_fim_depends_on_prompt_suffix_and_seed() -> None:
    base = content(fim())
    assert content(fim()) == base
    assert content(fim(suffix="\nreturn total")) != base
    assert content(fim(random_seed=9)) != base
    assert count_tokens(content(fim(max_tokens=4))) == 4


# ----------------------------------------------------------------------------- tools


def tool_calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = backend.complete(body, "chat")
    (choice,) = answer["choices"]
    if choice["message"]["tool_calls"]:
        assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == ""
    return choice["message"]["tool_calls"] or []


def check_call(call: dict[str, Any], tool: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call["id"])
    assert call["type"] == "function"
    assert call["function"]["name"] == tool["function"]["name"]
    jsonschema.validate(json.loads(call["function"]["arguments"]), tool["function"]["parameters"])


@pytest.mark.parametrize("choice", ["any", "required"])
def test_a_required_tool_call_has_valid_arguments(choice: str) -> None:
    for seed in range(20):
        (call,) = tool_calls(chat("What should I pack?", tools=[WEATHER, TIME], tool_choice=choice,
                                  random_seed=seed))
        check_call(call, WEATHER)


def test_a_named_tool_is_the_one_called() -> None:
    forced = {"type": "function", "function": {"name": "get_time"}}
    (call,) = tool_calls(chat("Weather please", tools=[WEATHER, TIME], tool_choice=forced))
    check_call(call, TIME)


def test_auto_calls_a_tool_only_when_the_user_names_it() -> None:
    (call,) = tool_calls(chat("Use get_weather for Paris", tools=[WEATHER, TIME]))
    check_call(call, WEATHER)
    (call,) = tool_calls(chat("what does get time say?", tools=[WEATHER, TIME], tool_choice="auto"))
    check_call(call, TIME)
    assert tool_calls(chat("Tell me a story", tools=[WEATHER, TIME])) == []


def test_none_never_calls_a_tool() -> None:
    assert tool_calls(chat("Use get_weather", tools=[WEATHER], tool_choice="none")) == []


def test_several_named_tools_are_called_in_parallel_unless_disabled() -> None:
    text = "Call get_weather and get_time"
    calls = tool_calls(chat(text, tools=[WEATHER, TIME], tool_choice="any"))
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2
    assert len(tool_calls(chat(text, tools=[WEATHER, TIME], parallel_tool_calls=False))) == 1


def test_after_a_tool_result_the_answer_is_text_that_uses_it() -> None:
    messages = [
        {"role": "user", "content": "Use get_weather for Paris"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a1b2c3d4e", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "name": "get_weather", "tool_call_id": "a1b2c3d4e", "content": "Sunny, 21 C"},
    ]
    answer = backend.complete({"model": MODEL, "messages": messages, "tools": [WEATHER]}, "chat")
    assert answer["choices"][0]["message"]["tool_calls"] is None
    assert "Sunny, 21 C" in answer["choices"][0]["message"]["content"]


def test_tool_call_usage_counts_the_call() -> None:
    answer = backend.complete(chat(tools=[WEATHER], tool_choice="any"), "chat")
    call = answer["choices"][0]["message"]["tool_calls"][0]["function"]
    assert answer["usage"]["completion_tokens"] == count_tokens(call["name"] + call["arguments"])


# ----------------------------------------------------------------------------- JSON output


def test_json_object_mode_answers_with_an_object() -> None:
    for seed in range(10):
        value = json.loads(content(chat(response_format={"type": "json_object"}, random_seed=seed)))
        assert isinstance(value, dict) and value


def test_json_schema_mode_answers_with_a_valid_instance() -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int
        rivers: list[str]

    fmt = {"type": "json_schema",
           "json_schema": {"name": "city", "schema": City.model_json_schema(), "strict": True}}
    for seed in range(10):
        City.model_validate_json(content(chat(response_format=fmt, random_seed=seed)))


# ----------------------------------------------------------------------------- streams


def chunks_of(body: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    return list(backend.stream_chunks(body, backend.operation_of(body), created=5, **kw))


@pytest.mark.parametrize("body", [chat(), chat(max_tokens=7), chat(stop=" the"), fim(),
                                  chat(response_format={"type": "json_object"})])
def test_a_stream_spells_out_the_same_answer(body: dict[str, Any]) -> None:
    chunks = chunks_of(body)
    whole = backend.complete(body, backend.operation_of(body), created=5)
    assert chunks[0]["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]
    assert all(c["id"] == whole["id"] and c["created"] == 5 and c["model"] == whole["model"]
               and c["object"] == "chat.completion.chunk" for c in chunks)
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:]]
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    assert len(pieces) == whole["usage"]["completion_tokens"]  # one token per chunk
    assert all(c["choices"][0]["finish_reason"] is None and "usage" not in c for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == whole["usage"]


def test_an_empty_answer_still_ends_with_finish_reason_and_usage() -> None:
    chunks = chunks_of(chat(max_tokens=0))
    assert len(chunks) == 2
    assert chunks[1]["choices"][0] == {"index": 0, "delta": {"content": ""}, "finish_reason": "length"}
    assert chunks[1]["usage"]["completion_tokens"] == 0


def test_a_stream_of_several_choices_interleaves_them() -> None:
    body = chat(n=2, max_tokens=6)
    chunks = chunks_of(body)
    whole = backend.complete(body, "chat")
    assert [c["choices"][0]["index"] for c in chunks[:2]] == [0, 1]
    assert [c["choices"][0]["index"] for c in chunks[2:6]] == [0, 1, 0, 1]
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks[2:] if c["choices"][0]["index"] == index]
        assert "".join(m["delta"]["content"] for m in mine) == whole["choices"][index]["message"]["content"]
        assert [m["finish_reason"] for m in mine][-1] == "length"
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]


def test_a_tool_call_streams_in_one_chunk() -> None:
    body = chat(tools=[WEATHER], tool_choice="any")
    chunks = chunks_of(body)
    whole = backend.complete(body, "chat", created=5)
    assert len(chunks) == 2
    last = chunks[1]
    assert last["choices"][0]["delta"]["tool_calls"] == whole["choices"][0]["message"]["tool_calls"]
    assert last["choices"][0]["finish_reason"] == "tool_calls" and last["usage"] == whole["usage"]


@pytest.mark.parametrize("body", [chat(), chat(n=3, max_tokens=4), chat(tools=[WEATHER], tool_choice="any"),
                                  chat("Dis « bonjour » ☃", max_tokens=0)])
def test_stream_bytes_is_the_sse_encoding_of_the_chunks(body: dict[str, Any]) -> None:
    expected = b"".join(b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n"
                        for c in chunks_of(body)) + b"data: [DONE]\n\n"
    assert b"".join(backend.stream_bytes(body, "chat", created=5)) == expected


def test_a_scripted_stream_has_one_chunk_per_token() -> None:
    script = "word " * 999 + "end"
    chunks = chunks_of(chat(), text=script)
    assert len(chunks) == 1 + 1000
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[1:]) == script


def test_operations_without_a_completion_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        backend.validate(chat(), "embeddings")
    with pytest.raises(ValueError):
        backend.complete({"model": "m", "document": {}}, "ocr")
