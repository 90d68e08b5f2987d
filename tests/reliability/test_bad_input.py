"""Bad input: hostile or mistaken arguments get a clear typed error, and nothing is sent.

One table: each row names the input, the arguments (client settings and call keywords) and the
error class and words the message must contain. Every row runs sync and async against the
emulator, which must have received nothing.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Type

import pytest

from mistral_gcp import MistralGCP, errors

from helpers import CHAT_MODEL, FIM_MODEL, USER

BAD = errors.RequestValidationError
CONFIG = errors.ConfigurationError
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


def _tool_with(value: Any) -> Dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "default": value}}}


# name: (client settings, "chat"/"fim" call keywords, error class, words in the message)
CASES: Dict[str, tuple] = {
    # path injection: nothing may change the URL's path or add a query
    "project ../": ({"project_id": "../other-project"}, {}, CONFIG, "invalid project id"),
    "project with /": ({"project_id": "mine/locations/x"}, {}, CONFIG, "invalid project id"),
    "project with ?": ({"project_id": "mine?alt=json"}, {}, CONFIG, "invalid project id"),
    "project with %2F": ({"project_id": "mine%2F..%2Fother"}, {}, CONFIG, "invalid project id"),
    "model ../": ({}, {"model": "../../../../v1/projects/x"}, BAD, "invalid model id"),
    "model with :method": ({}, {"model": "mistral-small-2503:streamRawPredict"}, BAD, "invalid model id"),
    "model with ?": ({}, {"model": "mistral-small-2503?alt=sse"}, BAD, "invalid model id"),
    "model with #": ({}, {"model": "mistral-small-2503#x"}, BAD, "invalid model id"),
    "model with space": ({}, {"model": "mistral small"}, BAD, "invalid model id"),
    "model with newline": ({}, {"model": "mistral-small-2503\nHost: evil"}, BAD, "invalid model id"),
    "model empty": ({}, {"model": ""}, BAD, "invalid model id"),
    "model not a string": ({}, {"model": 2503}, BAD, "model"),
    # enums and shapes
    "role unknown": ({}, {"messages": [{"role": "robot", "content": "hi"}]}, BAD, "role"),
    "role missing": ({}, {"messages": [{"content": "hi"}]}, BAD, "role"),
    "messages empty": ({}, {"messages": []}, BAD, "messages"),
    "messages missing": ({}, {"messages": None}, BAD, "messages"),
    "message not a dict": ({}, {"messages": ["hi"]}, BAD, "messages"),
    "content chunk type unknown": ({}, {"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}, BAD, "content"),
    "tool_choice unknown": ({}, {"tools": [TOOL], "tool_choice": "sometimes"}, BAD, "tool_choice"),
    "response_format unknown": ({}, {"response_format": {"type": "yaml"}}, BAD, "response_format"),
    "reasoning_effort unknown": ({}, {"reasoning_effort": "extreme"}, BAD, "reasoning_effort"),
    "unknown parameter": ({}, {"temprature": 0.2}, BAD, "temprature: unknown parameter"),
    "stream=True on complete": ({}, {"stream": True}, BAD, ".stream()"),
    # numbers
    "temperature NaN": ({}, {"temperature": math.nan}, BAD, "temperature"),
    "temperature infinite": ({}, {"temperature": math.inf}, BAD, "temperature"),
    "top_p NaN": ({}, {"top_p": math.nan}, BAD, "top_p"),
    "top_p above 1": ({}, {"top_p": 1.5}, BAD, "top_p"),
    "max_tokens negative": ({}, {"max_tokens": -1}, BAD, "max_tokens"),
    "n zero": ({}, {"n": 0}, BAD, "n"),
    # values JSON cannot carry
    "metadata not serialisable": ({}, {"metadata": {"when": object()}}, BAD, "metadata"),
    "metadata NaN": ({}, {"metadata": {"score": math.nan}}, BAD, "metadata"),
    "tool schema NaN": ({}, {"tools": [_tool_with(math.nan)]}, BAD, "tools"),
    "tool schema not serialisable": ({}, {"tools": [_tool_with({1, 2})]}, BAD, "tools"),
    "guardrail not serialisable": ({}, {"guardrails": [{"rule": object()}]}, BAD, "guardrails"),
    # FIM
    "fim prompt missing": ({}, {"fim": True, "prompt": None}, BAD, "prompt"),
    "fim suffix not text": ({}, {"fim": True, "suffix": 3}, BAD, "suffix"),
    "fim unknown parameter": ({}, {"fim": True, "messages": USER}, BAD, "messages: unknown parameter"),
}


def _call(both: Any, client: MistralGCP, kw: Dict[str, Any]) -> Any:
    if kw.pop("fim", False):
        params = {"model": FIM_MODEL, "prompt": "def f(x):", **kw}
        namespace = client.fim
    else:
        params = {"model": CHAT_MODEL, "messages": USER, **kw}
        namespace = client.chat
    params = {k: v for k, v in params.items() if v is not None}
    return both.call(namespace, "complete", **params)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_typed_error_before_anything_is_sent(emulator, both, case):
    settings, kw, error, words = CASES[case]
    client = emulator.client(**settings)
    with pytest.raises(error) as caught:
        _call(both, client, dict(kw))
    message = str(caught.value)
    assert words in message
    assert len(message) < 2_000  # clear, not a dump of the argument
    assert emulator.requests == []


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"region": "europe-west4/../../x"}, "invalid region"),
        ({"region": "us-central1?x=1"}, "invalid region"),
        ({"server_url": "file:///etc/passwd"}, "absolute http(s) URL"),
        ({"server_url": "https://example.com/?q=1"}, "query or fragment"),
        ({"server_url": "https://example.com", "server": "global"}, "not both"),
        ({"server": "moon"}, "unknown server"),
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"access_token": ""}, "access_token is empty"),
        ({"access_token": 42}, "access_token must be"),
    ],
)
def test_bad_client_settings_fail_in_the_constructor(settings, words):
    base: Dict[str, Any] = {"project_id": "p", "access_token": "t"}
    with pytest.raises(errors.ConfigurationError) as caught:
        MistralGCP(**{**base, **settings})
    assert words in str(caught.value)


def test_every_error_above_is_also_a_value_error():
    types: set[Type[BaseException]] = {row[2] for row in CASES.values()}
    assert all(issubclass(t, ValueError) and issubclass(t, errors.MistralGCPError) for t in types)
