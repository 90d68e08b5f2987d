"""Folding a stream's chunks into the completion they add up to. Pure; runs only when asked.

Streams keep their decoded events (one list append per network read). When a caller asks for
the final response, ``completion`` walks them once: content deltas are concatenated per choice,
tool calls are assembled by their ``index`` (a call's name and id come in its first delta, its
``arguments`` may come in pieces), the last ``finish_reason`` and ``usage`` win.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

__all__ = ["completion", "delta_text"]


def delta_text(content: Any) -> str:
    """The text of a delta's content: a string, or the text chunks of a chunk list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(chunk, "text", None) or "" for chunk in content)


class _Choice:
    __slots__ = ("role", "parts", "calls", "finish_reason")

    def __init__(self) -> None:
        self.role = "assistant"
        self.parts: List[str] = []
        self.calls: Dict[int, Dict[str, Any]] = {}
        self.finish_reason: Optional[str] = None

    def add(self, choice: Any) -> None:
        delta = choice.delta
        if delta.role:
            self.role = delta.role
        if delta.content:
            self.parts.append(delta_text(delta.content))
        for position, call in enumerate(delta.tool_calls or ()):
            self._add_call(call.index if call.index is not None else position, call)
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason

    def _add_call(self, index: int, call: Any) -> None:
        entry = self.calls.get(index)
        arguments = call.function.arguments
        if entry is None:
            self.calls[index] = {"id": call.id, "type": call.type or "function", "index": index,
                                 "function": {"name": call.function.name, "arguments": arguments}}
            return
        if call.id:
            entry["id"] = call.id
        function = entry["function"]
        if call.function.name and not function["name"]:
            function["name"] = call.function.name
        if isinstance(arguments, str) and isinstance(function["arguments"], str):
            function["arguments"] += arguments
        elif arguments:
            function["arguments"] = arguments

    def message(self) -> Dict[str, Any]:
        calls = [self.calls[i] for i in sorted(self.calls)] or None
        return {"role": self.role, "content": "".join(self.parts), "tool_calls": calls}


def completion(events: Iterable[Any]) -> Dict[str, Any]:
    """The ``chat.completion`` JSON object a list of ``CompletionEvent``s adds up to."""
    head: Any = None
    usage: Any = None
    choices: Dict[int, _Choice] = {}
    for event in events:
        chunk = event.data
        if head is None:
            head = chunk
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            state = choices.get(choice.index)
            if state is None:
                state = choices[choice.index] = _Choice()
            state.add(choice)
    result: Dict[str, Any] = {
        "id": head.id if head else "",
        "object": "chat.completion",
        "model": head.model if head else "",
        "created": head.created if head else None,
        "choices": [{"index": i, "message": choices[i].message(), "finish_reason": choices[i].finish_reason}
                    for i in sorted(choices)],
    }
    if usage is not None:
        result["usage"] = usage.model_dump()
    return result
