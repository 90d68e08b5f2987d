"""The tool runner: schemas from signatures and docstrings, calls executed, results fed back, errors told to the model."""

from __future__ import annotations

import asyncio
import json
from typing import List, Literal

import pytest
from pydantic import BaseModel

from mistral_gcp import models
from mistral_gcp._tools import Toolbox, parse_docstring

from helpers import CHAT_MODEL


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Current weather for a city.

    Args:
        city: The city's name,
            in English.
        unit: Temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


class Order(BaseModel):
    item: str
    quantity: int


def place_order(order: Order, express: bool = False) -> Order:
    """Place an order.

    :param order: What to order.
    :param express: Ship it fast.
    """
    assert isinstance(order, Order)  # the runner validated the model's JSON into the declared type
    return order


def _ask(text: str) -> list:
    return [{"role": "user", "content": text}]


def _run(both, client, **kw):
    return both.call(client.chat, "run_tools", model=CHAT_MODEL, **kw)


def test_tool_schemas_come_from_signatures_and_docstrings():
    weather, order = Toolbox([get_weather, place_order]).schemas
    assert weather["function"]["description"] == "Current weather for a city."
    params = weather["function"]["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "description": "The city's name, in English."}
    assert params["properties"]["unit"]["enum"] == ["C", "F"] and params["properties"]["unit"]["default"] == "C"
    order_params = order["function"]["parameters"]
    assert order_params["properties"]["order"]["description"] == "What to order."
    assert order_params["$defs"]["Order"]["required"] == ["item", "quantity"]


def test_docstring_styles():
    assert parse_docstring("Sum.\n\nArgs:\n    a (int): first\n    b: second\n        continued\n\nReturns:\n    the sum") == (
        "Sum.", {"a": "first", "b": "second continued"})
    assert parse_docstring("Sum two\nnumbers.\n\n:param int a: first\n:param b: second\n:returns: the sum") == (
        "Sum two numbers.", {"a": "first", "b": "second"})


def test_the_runner_executes_calls_and_returns_the_final_answer_with_the_transcript(emulator, both):
    calls = []

    def get_weather_spy(city: str, unit: Literal["C", "F"] = "C") -> dict:
        calls.append((city, unit))
        return get_weather(city, unit)

    get_weather_spy.__name__ = "get_weather"
    res = _run(both, emulator.client(), messages=_ask("What does get_weather say for Paris?"), tools=[get_weather_spy])
    assert isinstance(res, models.ToolRunResponse) and isinstance(res, models.ChatCompletionResponse)
    assert [m.role for m in res.transcript] == ["user", "assistant", "tool", "assistant"]
    assert len(calls) == 1 and calls[0][1] in ("C", "F")
    call = res.transcript[1].tool_calls[0]
    tool_message = res.transcript[2]
    assert (tool_message.tool_call_id, tool_message.name) == (call.id, "get_weather")
    assert json.loads(tool_message.content) == get_weather(*calls[0])
    assert res.choices[0].message.content.startswith("According to get_weather, the result is {")
    assert res.choices[0].message.content == res.transcript[-1].content
    # the second request carried the tool result back, with the tool schemas again
    second = emulator.requests[1].body
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assert second["tools"][0]["function"]["name"] == "get_weather"


def test_pydantic_typed_tools_get_validated_objects(emulator, both):
    res = _run(both, emulator.client(), messages=_ask("Please place_order now"), tools=[place_order])
    result = json.loads(res.transcript[2].content)
    assert set(result) == {"item", "quantity"}  # the Order came back, serialised as JSON


def test_a_tool_that_raises_is_reported_to_the_model(emulator, both):
    def get_weather(city: str) -> str:
        raise LookupError(f"no station in {city}")

    res = _run(both, emulator.client(), messages=_ask("get_weather for Oslo"), tools=[get_weather])
    tool_message = res.transcript[2]
    assert tool_message.content.startswith("error: the tool get_weather raised LookupError: no station in ")
    assert "LookupError" in emulator.requests[1].body["messages"][2]["content"]
    assert res.choices[0].message.content.startswith("According to get_weather, the result is error:")


def _asks_for(*calls):
    """A script: the first turn answers with these tool calls; later turns are generated."""
    def reply(body):
        if body["messages"][-1]["role"] != "user":
            return None
        tool_calls = [{"id": f"call{i}", "type": "function", "index": i,
                       "function": {"name": name, "arguments": arguments}} for i, (name, arguments) in enumerate(calls)]
        return {"id": "x", "object": "chat.completion", "model": CHAT_MODEL, "usage": {},
                "choices": [{"index": 0, "finish_reason": "tool_calls",
                             "message": {"role": "assistant", "content": "", "tool_calls": tool_calls}}]}
    return reply


def test_unknown_tools_and_invalid_arguments_are_reported_to_the_model(emulator, both):
    emulator.script(_asks_for(("launch_rocket", "{}"), ("get_weather", '{"city": 5}'),
                              ("get_weather", "{not json"), ("get_weather", '{"city": "Rome", "extra": 1}'),
                              ("get_weather", '{"city": "Rome"}')))
    res = _run(both, emulator.client(), messages=_ask("weather please"), tools=[get_weather])
    contents = [m.content for m in res.transcript if m.role == "tool"]
    assert contents[0] == "error: there is no tool named 'launch_rocket'; the tools are: get_weather"
    assert contents[1].startswith("error: invalid arguments for get_weather: city: Input should be a valid string")
    assert contents[2].startswith("error: invalid arguments for get_weather: not a JSON object")
    assert contents[3] == "error: invalid arguments for get_weather: extra: Extra inputs are not permitted"
    assert json.loads(contents[4]) == get_weather("Rome")
    assert [m.tool_call_id for m in res.transcript if m.role == "tool"] == [f"call{i}" for i in range(5)]
    assert len(emulator.requests) == 2


def test_the_turn_limit_raises_a_typed_error(emulator, both):
    with pytest.raises(models.ToolTurnLimitError) as caught:
        _run(both, emulator.client(), messages=_ask("weather?"), tools=[get_weather], tool_choice="any", max_turns=3)
    error = caught.value
    assert error.max_turns == 3 and len(emulator.requests) == 3
    assert [m.role for m in error.transcript] == ["user"] + ["assistant", "tool"] * 3
    assert error.response.choices[0].finish_reason == "tool_calls"


def test_async_tools_run_concurrently(emulator):
    arrived: List[str] = []
    both_running = asyncio.Event()

    async def meet(name: str) -> str:
        arrived.append(name)
        if len(arrived) == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), timeout=10)  # run one after the other, this never happens
        return f"{name} met"

    async def alpha_tool(x: int) -> str:
        """First."""
        return await meet("alpha")

    async def beta_tool(y: int) -> str:
        """Second."""
        return await meet("beta")

    async def main():
        return await emulator.async_client().chat.run_tools_async(
            model=CHAT_MODEL, messages=_ask("use alpha_tool and beta_tool"), tools=[alpha_tool, beta_tool])

    res = asyncio.run(main())
    assert sorted(m.content for m in res.transcript if m.role == "tool") == ["alpha met", "beta met"]


def test_the_sync_runner_also_runs_async_tools(emulator):
    async def get_weather(city: str) -> str:
        await asyncio.sleep(0)
        return f"sunny in {city}"

    res = emulator.client().chat.run_tools(model=CHAT_MODEL, messages=_ask("get_weather for Nice"), tools=[get_weather])
    assert res.transcript[2].content.startswith("sunny in ")


def test_a_reply_without_tool_calls_ends_at_once(emulator, both):
    res = _run(both, emulator.client(), messages=_ask("Tell me a story"), tools=[get_weather])
    assert [m.role for m in res.transcript] == ["user", "assistant"] and len(emulator.requests) == 1
