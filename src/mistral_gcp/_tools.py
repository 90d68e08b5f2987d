"""The tool runner: Python functions offered to the model as tools, called when it asks.

Theory of operation. ``Toolbox`` turns functions into tool schemas once: the signature gives the
parameters (pydantic validates and converts the model's arguments, so ``int``, ``Literal``,
``datetime`` or a pydantic model all work), the docstring gives the descriptions (Google
``Args:`` sections and Sphinx ``:param x:`` lines). ``conversation`` is a generator holding
every decision of the loop, as ``_client._flow`` does for one request: it yields
``("complete", params)`` for the next completion and ``("run", invocations)`` for the calls the
model asked for, and returns the final ``ToolRunResponse``. ``run`` and ``run_async`` are the
thin shells; the async one runs a turn's calls concurrently.

Whatever goes wrong on our side of a call (an unknown tool, arguments that do not validate, a
tool that raises) becomes the tool message the model reads, so it can correct itself; nothing is
swallowed silently and the conversation goes on. Only the turn limit ends it with an error.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple

import pydantic_core
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model
from typing_extensions import get_type_hints

from . import _operations as ops
from .errors import ToolTurnLimitError
from .models.chat import Messages
from .models.parsed import ToolRunResponse

__all__ = ["ToolTurnLimitError", "Toolbox", "conversation", "run", "run_async"]

_TRANSCRIPT = TypeAdapter(List[Messages])
_ARGUMENTS_CONFIG = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)


# --------------------------------------------------------------------------- schemas from functions

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_GOOGLE_PARAM = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_PARAM_SECTIONS = ("Args", "Arguments", "Parameters", "Params")


def parse_docstring(doc: str) -> Tuple[str, Dict[str, str]]:
    """(summary, {parameter: description}) from a Google- or Sphinx-style docstring."""
    summary: List[str] = []
    params: Dict[str, str] = {}
    section: Optional[str] = None
    current: Optional[str] = None
    param_indent: Optional[int] = None  # of the first line under "Args:"; deeper lines continue
    for raw in doc.splitlines():
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        heading = _SECTION.match(line)
        sphinx = _SPHINX_PARAM.match(line)
        if heading:
            section, current, param_indent = heading.group(1), None, None
        elif sphinx:
            section, current = "sphinx", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
        elif line.startswith(":"):
            section, current = "sphinx", None  # :returns:, :raises: ...
        elif section in _PARAM_SECTIONS and line:
            match = _GOOGLE_PARAM.match(line)
            if match and (param_indent is None or indent <= param_indent):
                param_indent = indent
                current = match.group(1).lstrip("*")
                params[current] = match.group(3).strip()
            elif current:
                params[current] = f"{params[current]} {line}".strip()
        elif section == "sphinx" and line and current:
            params[current] = f"{params[current]} {line}"
        elif section is None:
            if line:
                summary.append(line)
            elif summary:
                section = "body"
    return " ".join(summary), params


def _strip_titles(schema: Dict[str, Any]) -> Dict[str, Any]:
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    return schema


class _Tool:
    """One function as a tool: its schema for the model and the validator for its arguments."""

    __slots__ = ("name", "fn", "is_async", "arguments", "schema")

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"tools must be functions, got {fn!r}")
        self.fn = fn
        self.name = getattr(fn, "__name__", None) or type(fn).__name__
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))
        summary, described = parse_docstring(inspect.getdoc(fn) or "")
        hints = get_type_hints(fn, include_extras=True)
        fields: Dict[str, Any] = {}
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            default = ... if param.default is param.empty else param.default
            note = described.get(param.name)
            fields[param.name] = (hints.get(param.name, Any), Field(default, description=note) if note else default)
        self.arguments = create_model(f"{self.name}_arguments", __config__=_ARGUMENTS_CONFIG, **fields)
        function: Dict[str, Any] = {"name": self.name, "parameters": _strip_titles(self.arguments.model_json_schema())}
        if summary:
            function["description"] = summary
        self.schema = {"type": "function", "function": function}


class Invocation:
    """One call the model asked for: the tool and its validated arguments, or why it cannot run."""

    __slots__ = ("call_id", "name", "tool", "kwargs", "error")

    def __init__(self, call_id: Optional[str], name: str, tool: Optional[_Tool], kwargs: Dict[str, Any],
                 error: Optional[str]) -> None:
        self.call_id = call_id
        self.name = name
        self.tool = tool
        self.kwargs = kwargs
        self.error = error

    def run(self) -> str:
        if self.tool is None:
            return self.error  # type: ignore[return-value]
        try:
            value = self.tool.fn(**self.kwargs)
            if inspect.isawaitable(value):  # an async tool in the sync runner
                value = asyncio.run(_awaited(value))
        except Exception as exc:
            return _failure(self.name, exc)
        return _as_text(value)

    async def run_async(self) -> str:
        if self.tool is None:
            return self.error  # type: ignore[return-value]
        try:
            value = self.tool.fn(**self.kwargs)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            return _failure(self.name, exc)
        return _as_text(value)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _failure(name: str, exc: Exception) -> str:
    return f"error: the tool {name} raised {type(exc).__name__}: {exc}"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value, fallback=str).decode()


class Toolbox:
    """Functions by name, with their schemas; turns the model's tool calls into invocations."""

    def __init__(self, functions: Sequence[Callable[..., Any]]) -> None:
        if not functions:
            raise ValueError("run_tools needs at least one tool")
        self.tools: Dict[str, _Tool] = {}
        for fn in functions:
            tool = _Tool(fn)
            if tool.name in self.tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self.tools[tool.name] = tool
        self.schemas = [tool.schema for tool in self.tools.values()]

    def invocation(self, call: Any) -> Invocation:
        name = call.function.name
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(self.tools)
            return Invocation(call.id, name, None, {}, f"error: there is no tool named {name!r}; the tools are: {known}")
        arguments = call.function.arguments
        try:
            if isinstance(arguments, str):
                arguments = json.loads(arguments) if arguments.strip() else {}
            validated = tool.arguments.model_validate(arguments)
        except (ValueError, ValidationError) as exc:
            return Invocation(call.id, name, None, {}, f"error: invalid arguments for {name}: {_problems(exc)}")
        kwargs = {key: getattr(validated, key) for key in type(validated).model_fields}
        return Invocation(call.id, name, tool, kwargs, None)


def _problems(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return f"not a JSON object ({exc})"


# --------------------------------------------------------------------------- the conversation

Action = Tuple[str, Any]


def conversation(toolbox: Toolbox, params: Dict[str, Any], max_turns: int) -> Generator[Action, Any, ToolRunResponse]:
    """Every decision of a tool loop; yields ``("complete", params)`` and ``("run", invocations)``."""
    if max_turns < 1:
        raise ValueError("max_turns must be at least 1")
    messages = list(params.pop("messages", None) or ())
    params["tools"] = toolbox.schemas
    response: Any = None
    for _turn in range(max_turns):
        response = yield ("complete", {**params, "messages": list(messages)})
        if not response.choices:
            break
        message = response.choices[0].message
        messages.append(message)
        if not message.tool_calls:
            break
        invocations = [toolbox.invocation(call) for call in message.tool_calls]
        results = yield ("run", invocations)
        for invocation, text in zip(invocations, results):
            messages.append({"role": "tool", "tool_call_id": invocation.call_id, "name": invocation.name, "content": text})
    else:
        raise ToolTurnLimitError(
            f"the model still asked for tools after {max_turns} turns (max_turns={max_turns})",
            max_turns=max_turns, transcript=_TRANSCRIPT.validate_python(messages), response=response,
        )
    response.transcript = _TRANSCRIPT.validate_python(messages)
    return response


def run(client: Any, functions: Sequence[Callable[..., Any]], max_turns: int, params: Dict[str, Any]) -> ToolRunResponse:
    flow = conversation(Toolbox(functions), params, max_turns)
    try:
        action = next(flow)
        while True:
            if action[0] == "complete":
                action = flow.send(client._call(ops.CHAT_TOOLS, action[1]))
            else:
                action = flow.send([invocation.run() for invocation in action[1]])
    except StopIteration as stop:
        return stop.value


async def run_async(client: Any, functions: Sequence[Callable[..., Any]], max_turns: int,
                    params: Dict[str, Any]) -> ToolRunResponse:
    flow = conversation(Toolbox(functions), params, max_turns)
    try:
        action = next(flow)
        while True:
            if action[0] == "complete":
                action = flow.send(await client._call_async(ops.CHAT_TOOLS, action[1]))
            else:
                action = flow.send(await asyncio.gather(*(invocation.run_async() for invocation in action[1])))
    except StopIteration as stop:
        return stop.value
