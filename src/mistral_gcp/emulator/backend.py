"""The Mistral half of the emulator: what the model behind Vertex answers to a body.

Theory of operation: this module is pure.  It takes a decoded JSON body and returns JSON-able
dicts (or encoded SSE lines); no sockets, clocks or threads, apart from `created`, which
defaults to the wall clock and can be passed in.  The Vertex half (routing, auth, quotas,
error envelopes) calls, per request:

    operation = operation_of(body)                     # "chat" | "fim" | "ocr"
    validate(body, operation, require_model=True)      # or BodyError(status, payload)
    complete(body, operation) / stream_chunks(...) / stream_bytes(...) / ocr(body)

Every answer is planned once by `_plan` and rendered three ways (a full response, chunk
dicts, or SSE bytes), so a stream always concatenates to the non-streaming answer for the same
body.  The plan is seeded by a digest of the fields that shape the answer (see `_SEED_FIELDS`);
`max_tokens`, `stop`, `n` and `stream` are left out on purpose, so a truncated answer is a
prefix of the full one and streaming does not change the words.  With `temperature: 0` the
seed ignores `random_seed`, as greedy decoding would.

How the model decides (all in `_plan_choice`):
- a forced tool (`any`, `required`, or a named function) is always called; with `auto` a tool
  is called when the last message is from the user and names the tool; `none` never calls;
- after a `tool` message the answer quotes the tool's result;
- `response_format` json_object / json_schema answers with JSON (see backend_schema);
- otherwise prose of 12-40 tokens (at least `min_tokens`) mentioning a word of the prompt;
- then `stop` cuts before the first stop sequence and `max_tokens` cuts to that many tokens
  (finish_reason "length").

Token counts come from `count_tokens`; `completion_tokens` equals the number of content chunks
a stream sends.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote  # type: ignore[attr-defined]
from typing import Any, Iterator

from mistral_gcp.emulator.backend_ocr import ocr
from mistral_gcp.emulator.backend_schema import instance
from mistral_gcp.emulator.backend_text import (
    code,
    count_tokens,
    digest,
    prose,
    seeded,
    tokens,
    topics,
)
from mistral_gcp.emulator.backend_validate import BodyError, validate

__all__ = [
    "BodyError", "operation_of", "validate", "complete", "stream_chunks", "stream_bytes", "ocr",
    "count_tokens",
]

# which body fields decide the words of an answer, per operation
_SEED_FIELDS = {
    "chat": ("model", "messages", "random_seed", "temperature", "top_p", "tools", "tool_choice",
             "response_format", "min_tokens", "parallel_tool_calls"),
    "fim": ("model", "prompt", "suffix", "random_seed", "temperature", "top_p", "min_tokens"),
}
_OPERATION_KEYS = (("document", "ocr"), ("prompt", "fim"))
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DONE = b"data: [DONE]\n\n"


def operation_of(body: dict[str, Any]) -> str:
    """`"ocr"` for a body with a `document`, `"fim"` for one with a `prompt`, else `"chat"`."""
    return next((op for key, op in _OPERATION_KEYS if key in body), "chat")


@dataclass(frozen=True)
class _Choice:
    pieces: list[str]  # the content, one token per piece
    finish_reason: str
    tool_calls: list[dict[str, Any]] | None
    completion_tokens: int


@dataclass(frozen=True)
class _Plan:
    id: str
    model: str | None
    created: int
    prompt_tokens: int
    choices: list[_Choice]

    @property
    def usage(self) -> dict[str, int]:
        completion = sum(c.completion_tokens for c in self.choices)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion}


def complete(body: dict[str, Any], operation: str, *, text: str | None = None,
             model: str | None = None, created: int | None = None) -> dict[str, Any]:
    """The non-streaming response JSON for a chat or FIM body.

    `text` scripts the answer (still cut by `stop`/`max_tokens`); `model` is used when the body
    has none (the model of the URL); `created` defaults to now.
    """
    plan = _plan(body, operation, text, model, created)
    return {
        "id": plan.id, "object": "chat.completion", "model": plan.model, "created": plan.created,
        "usage": plan.usage,
        "choices": [
            {"index": i,
             "message": {"role": "assistant", "content": "".join(c.pieces),
                         "tool_calls": c.tool_calls, "prefix": False},
             "finish_reason": c.finish_reason}
            for i, c in enumerate(plan.choices)
        ],
    }


def stream_chunks(body: dict[str, Any], operation: str, *, text: str | None = None,
                  model: str | None = None, created: int | None = None) -> Iterator[dict[str, Any]]:
    """The chunk dicts of the SSE stream (the caller adds `data: ` framing and `[DONE]`)."""
    plan = _plan(body, operation, text, model, created)
    head = {"id": plan.id, "object": "chat.completion.chunk", "created": plan.created,
            "model": plan.model}
    for index, delta, finish, usage in _events(plan):
        chunk = {**head, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            chunk["usage"] = usage
        yield chunk


def stream_bytes(body: dict[str, Any], operation: str, *, text: str | None = None,
                 model: str | None = None, created: int | None = None) -> Iterator[bytes]:
    """The whole SSE body, `data: <chunk>\\n\\n` per chunk and the closing `data: [DONE]\\n\\n`.

    Byte for byte what `json.dumps(chunk, separators=(",", ":"))` gives for each chunk of
    `stream_chunks`, but plain content chunks are filled into a template, which is several
    times faster than encoding a dict.
    """
    plan = _plan(body, operation, text, model, created)
    head = {"id": plan.id, "object": "chat.completion.chunk", "created": plan.created,
            "model": plan.model}
    opening = "data: " + _dumps(head)[:-1] + ',"choices":[{"index":'
    fronts: dict[int, str] = {}  # choice index -> the chunk's text up to the content string
    for index, delta, finish, usage in _events(plan):
        if finish is None and usage is None and len(delta) == 1 and "content" in delta:
            front = fronts.get(index) or fronts.setdefault(
                index, f'{opening}{index},"delta":{{"content":')
            yield (front + _quote(delta["content"]) + '},"finish_reason":null}]}\n\n').encode()
            continue
        chunk = {**head, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            chunk["usage"] = usage
        yield b"data: " + _dumps(chunk).encode() + b"\n\n"
    yield _DONE


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _events(plan: _Plan) -> Iterator[tuple[int, dict[str, Any], str | None, dict[str, int] | None]]:
    """(choice index, delta, finish_reason, usage) per chunk; choices interleave by index."""
    for index in range(len(plan.choices)):
        yield index, {"role": "assistant", "content": ""}, None, None
    deltas = [_deltas(choice) for choice in plan.choices]
    if len(deltas) == 1:  # the common case, kept free of the interleaving bookkeeping
        *body, last = deltas[0]
        for delta in body:
            yield 0, delta, None, None
        yield 0, last, plan.choices[0].finish_reason, plan.usage
        return
    remaining = sum(len(d) for d in deltas)
    for round_ in range(max(len(d) for d in deltas)):
        for index, column in enumerate(deltas):
            if round_ < len(column):
                remaining -= 1
                finish = plan.choices[index].finish_reason if round_ == len(column) - 1 else None
                yield index, column[round_], finish, None if remaining else plan.usage


def _deltas(choice: _Choice) -> list[dict[str, Any]]:
    if choice.tool_calls:
        return [{"content": "", "tool_calls": choice.tool_calls}]
    return [{"content": piece} for piece in choice.pieces] or [{"content": ""}]


def _plan(body: dict[str, Any], operation: str, text: str | None, model: str | None,
          created: int | None) -> _Plan:
    if operation not in _SEED_FIELDS:
        raise ValueError(f"{operation!r} bodies are not completions; OCR bodies go to ocr()")
    fields = {key: body.get(key) for key in _SEED_FIELDS[operation]}
    if fields["temperature"] == 0:
        fields["random_seed"] = None
    seed = digest([operation, fields])
    if operation == "fim":
        prompt_tokens = count_tokens(body["prompt"]) + count_tokens(body.get("suffix") or "")
    else:
        prompt_tokens = count_tokens("\n".join(_message_texts(body["messages"])))
    choices = [_plan_choice(body, operation, text, seeded(seed, i))
               for i in range(int(body.get("n") or 1))]
    return _Plan(seed.hex(), body.get("model") or model,
                 int(time.time()) if created is None else created, prompt_tokens, choices)


def _plan_choice(body: dict[str, Any], operation: str, text: str | None,
                 rng: random.Random) -> _Choice:
    target = max(rng.randint(12, 40), int(body.get("min_tokens") or 0))
    if operation == "fim":
        written = code(rng, body["prompt"], body.get("suffix") or "", target)
    else:
        messages = body["messages"]
        called = _tools_to_call(body, messages)
        if called and text is None:
            calls = [_tool_call(tool, rng, i) for i, tool in enumerate(called)]
            used = sum(count_tokens(c["function"]["name"] + c["function"]["arguments"]) for c in calls)
            return _Choice([], "tool_calls", calls, used)
        written = _chat_text(body, messages, rng, target)
    return _cut(text if text is not None else written, body.get("stop"), body.get("max_tokens"))


def _cut(text: str, stop: str | list[str] | None, max_tokens: int | None) -> _Choice:
    reason = "stop"
    stops = [stop] if isinstance(stop, str) else stop or []
    cuts = [at for at in (text.find(s) for s in stops if s) if at >= 0]
    if cuts:
        text = text[: min(cuts)]
    pieces = tokens(text)
    if max_tokens is not None and len(pieces) > int(max_tokens):
        pieces = pieces[: int(max_tokens)]
        reason = "length"
    return _Choice(pieces, reason, None, len(pieces))


def _chat_text(body: dict[str, Any], messages: list[dict[str, Any]], rng: random.Random,
               target: int) -> str:
    last = messages[-1]
    subjects = topics(_last_user_text(messages))
    fmt = body.get("response_format") or {}
    kind = fmt.get("type")
    if kind == "json_schema":
        return json.dumps(instance(fmt["json_schema"].get("schema", {}), rng))
    if kind == "json_object":
        answer = prose(rng, subjects, min(target, 24))
        return json.dumps({"topic": subjects[0] if subjects else "general", "answer": answer})
    lead = ""
    if last.get("role") == "tool":
        result = " ".join(" ".join(_content_texts(last.get("content"))).split())
        source = last.get("name") or "the tool"
        lead = f"According to {source}, the result is {result[:200] or 'empty'}."
    written = prose(rng, subjects, target, lead)
    if last.get("role") == "assistant" and last.get("prefix"):
        written = "".join(_content_texts(last.get("content"))) + " " + written
    return written


def _tools_to_call(body: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tools = [t.get("function", {}) for t in body.get("tools") or ()]
    choice = body.get("tool_choice") or "auto"
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        name = choice.get("function", {}).get("name")
        return [next((t for t in tools if t.get("name") == name), {"name": name})]
    named = []
    if messages[-1].get("role") == "user":
        said = " ".join(_content_texts(messages[-1].get("content"))).lower()
        named = [t for t in tools if _mentions(said, t.get("name", ""))]
    if choice in ("any", "required"):
        named = named or tools[:1]
    return named[:1] if body.get("parallel_tool_calls") is False else named


def _mentions(said: str, name: str) -> bool:
    name = name.lower()
    return bool(name) and (name in said or name.replace("_", " ") in said)


def _tool_call(function: dict[str, Any], rng: random.Random, index: int) -> dict[str, Any]:
    arguments = instance(function.get("parameters") or {"type": "object"}, rng)
    if not isinstance(arguments, dict):
        arguments = {}
    return {"id": "".join(rng.choice(_ALPHANUMERIC) for _ in range(9)), "type": "function",
            "function": {"name": function.get("name"), "arguments": json.dumps(arguments)},
            "index": index}


def _content_texts(content: Any) -> list[str]:
    """The readable text of a message's content (a string or a list of chunks)."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for chunk in content or ():
        if isinstance(chunk, dict):
            if isinstance(chunk.get("text"), str):
                out.append(chunk["text"])
            elif isinstance(chunk.get("thinking"), list):
                out.extend(_content_texts(chunk["thinking"]))
    return out


def _message_texts(messages: list[dict[str, Any]]) -> Iterator[str]:
    for message in messages:
        yield from _content_texts(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {})
            arguments = function.get("arguments", "")
            yield function.get("name", "") + " " + (
                arguments if isinstance(arguments, str) else json.dumps(arguments))


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return " ".join(_content_texts(user.get("content"))) if user else ""
