"""What goes on the wire: URL, headers, and a body with exactly the fields the caller set."""

from __future__ import annotations

import json

import pytest

from mistral_gcp import models
from mistral_gcp.errors import RequestValidationError

from helpers import CHAT_MODEL, FIM_MODEL, USER

ALL_CHAT_FIELDS = dict(
    temperature=0.3,
    top_p=0.9,
    max_tokens=64,
    stop=["\n\n"],
    random_seed=7,
    metadata={"team": "search", "n": 1},
    response_format={"type": "text"},
    tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    tool_choice="auto",
    presence_penalty=0.1,
    frequency_penalty=0.2,
    min_tokens=1,
    repetition_penalty=1.1,
    top_k=40,
    logprobs=False,
    top_logprobs=2,
    prompt_logprobs=False,
    top_prompt_logprobs=1,
    n=1,
    prediction={"type": "content", "content": "Monet"},
    parallel_tool_calls=True,
    reasoning_effort="low",
    prompt_mode="reasoning",
    guardrails=[{"block_on_error": False}],
)


def test_every_chat_field_reaches_the_service_as_given(emulator, both):
    client = emulator.client()
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, **ALL_CHAT_FIELDS)
    record = emulator.last_request
    assert record.path.endswith(f"/projects/{emulator.project}/locations/{emulator.region}/publishers/mistralai/models/{CHAT_MODEL}:rawPredict")
    expected = {"model": CHAT_MODEL, "messages": USER, **ALL_CHAT_FIELDS}
    assert record.body == json.loads(json.dumps(expected))
    assert record.headers["accept"] == "application/json"
    assert record.headers["content-type"] == "application/json"
    assert record.headers["authorization"] == f"Bearer {emulator.token}"


def test_only_the_fields_set_are_sent(emulator, both):
    client = emulator.client()
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=[models.UserMessage(content="hi")])
    assert emulator.last_request.body == {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}


def test_explicit_none_is_sent_as_null(emulator, both):
    client = emulator.client()
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, max_tokens=None)
    assert emulator.last_request.body["max_tokens"] is None


def test_messages_as_model_objects_and_chunks(emulator, both):
    client = emulator.client()
    messages = [
        models.SystemMessage(content="Be brief."),
        models.UserMessage(content=[
            models.TextChunk(text="What is in this image?"),
            models.ImageURLChunk(image_url="data:image/png;base64,iVBORw0KGgo="),
        ]),
        models.AssistantMessage(content=None, tool_calls=[models.ToolCall(id="abc123def", type="function", function=models.FunctionCall(name="look", arguments="{}"))]),
        models.ToolMessage(content="a cat", tool_call_id="abc123def", name="look"),
        models.AssistantMessage(content="It is", prefix=True),
    ]
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=messages)
    sent = emulator.last_request.body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant"]
    assert sent[1]["content"][1] == {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    assert sent[2]["tool_calls"][0]["function"] == {"name": "look", "arguments": "{}"}
    assert sent[4] == {"role": "assistant", "content": "It is", "prefix": True}


def test_json_schema_response_format_uses_the_wire_key_schema(emulator, both):
    client = emulator.client()
    fmt = models.ResponseFormat(type="json_schema", json_schema=models.JSONSchema(
        name="painter", schema_definition={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}))
    res = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, response_format=fmt)
    assert emulator.last_request.body["response_format"]["json_schema"]["schema"]["required"] == ["name"]
    assert "name" in json.loads(res.choices[0].message.content)


def test_fim_fields_and_url(emulator, both):
    client = emulator.client()
    res = both.call(client.fim, "complete", model=FIM_MODEL, prompt="def add(a, b):\n", suffix="\nprint(add(1, 2))",
                    temperature=0, top_p=1, max_tokens=32, min_tokens=1, stop=["\n\n"], random_seed=3, metadata={"k": "v"})
    record = emulator.last_request
    assert record.path.endswith(f"/models/{FIM_MODEL}:rawPredict")
    assert record.body == {"model": FIM_MODEL, "prompt": "def add(a, b):\n", "suffix": "\nprint(add(1, 2))", "temperature": 0,
                           "top_p": 1, "max_tokens": 32, "min_tokens": 1, "stop": ["\n\n"], "random_seed": 3, "metadata": {"k": "v"}}
    assert isinstance(res, models.FIMCompletionResponse)
    assert res.choices[0].message.content


def test_streams_use_streamrawpredict_and_event_stream_accept(emulator, both):
    client = emulator.client()
    events = both.stream(client.chat, model=CHAT_MODEL, messages=USER)
    assert events
    record = emulator.last_request
    assert record.path.endswith(":streamRawPredict")
    assert record.headers["accept"] == "text/event-stream"
    assert record.body["stream"] is True
    events = both.stream(client.fim, model=FIM_MODEL, prompt="x = ")
    assert emulator.last_request.path.endswith(f"/models/{FIM_MODEL}:streamRawPredict")


def test_versioned_ids_keep_the_version_in_the_url_and_send_the_bare_name(emulator, both):
    emulator.configure(extra_models=("mistral-custom@2501",))
    client = emulator.client()
    with pytest.warns(UserWarning, match="not in mistral-gcp's catalogue"):
        both.call(client.chat, "complete", model="mistral-custom@2501", messages=USER)
    record = emulator.last_request
    assert record.path.endswith("/models/mistral-custom@2501:rawPredict")
    assert record.body["model"] == "mistral-custom"


def test_retired_models_warn_and_get_vertex_404(emulator, both):
    with pytest.warns(UserWarning, match="retired"):
        with pytest.raises(models.NotFoundError, match="Publisher Model"):
            both.call(emulator.client().chat, "complete", model="mistral-large@2407", messages=USER)


BAD_CALLS = [
    ("no model", dict(messages=USER)),
    ("no messages", dict(model=CHAT_MODEL)),
    ("empty messages", dict(model=CHAT_MODEL, messages=[])),
    ("wrong role", dict(model=CHAT_MODEL, messages=[{"role": "robot", "content": "hi"}])),
    ("no role", dict(model=CHAT_MODEL, messages=[{"content": "hi"}])),
    ("unknown chunk", dict(model=CHAT_MODEL, messages=[{"role": "user", "content": [{"type": "txt", "text": "hi"}]}])),
    ("unknown parameter", dict(model=CHAT_MODEL, messages=USER, safe_prompt=True)),
    ("bad enum", dict(model=CHAT_MODEL, messages=USER, reasoning_effort="extreme")),
    ("bad tool_choice", dict(model=CHAT_MODEL, messages=USER, tool_choice="sometimes")),
    ("NaN temperature", dict(model=CHAT_MODEL, messages=USER, temperature=float("nan"))),
    ("negative max_tokens", dict(model=CHAT_MODEL, messages=USER, max_tokens=-1)),
    ("wrong type", dict(model=CHAT_MODEL, messages=USER, top_p="high")),
    ("metadata not JSON", dict(model=CHAT_MODEL, messages=USER, metadata={"x": object()})),
    ("metadata NaN", dict(model=CHAT_MODEL, messages=USER, metadata={"x": float("nan")})),
    ("path injection in model", dict(model="../../x", messages=USER)),
    ("query injection in model", dict(model="m?alt=sse", messages=USER)),
    ("slash in model", dict(model="a/b", messages=USER)),
    ("json_schema without schema", dict(model=CHAT_MODEL, messages=USER, response_format={"type": "json_schema"})),
    ("stream flag on complete", dict(model=CHAT_MODEL, messages=USER, stream=True)),
]


@pytest.mark.parametrize("label,kwargs", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_invalid_input_is_refused_before_anything_is_sent(emulator, both, label, kwargs):
    client = emulator.client()
    with pytest.raises(RequestValidationError) as info:
        both.call(client.chat, "complete", **kwargs)
    assert emulator.requests == []
    assert "invalid" in str(info.value) or "stream" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_fim_requires_a_prompt(emulator, both):
    with pytest.raises(RequestValidationError, match="prompt"):
        both.call(emulator.client().fim, "complete", model=FIM_MODEL)
    assert emulator.requests == []


def test_a_body_larger_than_vertex_takes_is_refused_before_sending(emulator, both):
    huge = "x" * (31 * 2**20)
    with pytest.raises(RequestValidationError, match="at most 30 MB"):
        both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=[{"role": "user", "content": huge}])
    assert emulator.requests == []
