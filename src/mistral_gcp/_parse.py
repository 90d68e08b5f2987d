"""Structured outputs: a Python type in, a ``json_schema`` response format out, and back.

``chat.parse(response_format=Invoice, ...)`` sends the JSON schema of ``Invoice`` as a strict
``json_schema`` response format and validates each choice's content into an ``Invoice``. Any
type pydantic can validate works (models, dataclasses, TypedDicts, ``list[int]``). A reply that
does not validate raises :class:`OutputParseError`, which keeps the raw content: the completion
was paid for, so its text must not be lost. OCR annotation formats use the same two steps.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional

from pydantic import TypeAdapter, ValidationError

from .errors import OutputParseError
from .models.parsed import ParsedChatCompletionResponse

__all__ = ["OutputParseError", "apply_format", "parse_completion", "parse_json", "response_format_for"]


@lru_cache(maxsize=256)
def _adapter(target: Any) -> TypeAdapter:
    return TypeAdapter(target)


def _is_type(value: Any) -> bool:
    """A Python type (or typing construct) rather than a wire response format (a dict or model instance)."""
    return isinstance(value, type) or not (isinstance(value, dict) or hasattr(value, "model_dump"))


def response_format_for(target: Any) -> Dict[str, Any]:
    """The strict ``json_schema`` response format for a type.

    >>> response_format_for(Invoice)["json_schema"]["name"]
    'Invoice'
    """
    name = getattr(target, "__name__", None) or "output"
    schema = _strict(_adapter(target).json_schema())
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _strict(schema: Any) -> Any:
    """Close every object schema (``additionalProperties: false``), as strict mode expects."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def apply_format(params: Dict[str, Any], key: str) -> Any:
    """Replace a type given as ``params[key]`` by its response format; return the type (or None)."""
    value = params.get(key)
    if value is None or not _is_type(value):
        return None
    params[key] = response_format_for(value)
    return value


def parse_json(target: Any, content: Optional[str], response: Any = None) -> Any:
    """``content`` validated as ``target``, or :class:`OutputParseError` carrying the raw text."""
    if content is None:
        raise OutputParseError(f"the reply has no content to parse as {_name(target)}", content=None, response=response)
    try:
        return _adapter(target).validate_json(content)
    except ValidationError as exc:
        preview = content if len(content) <= 200 else content[:197] + "..."
        raise OutputParseError(
            f"the reply is not a valid {_name(target)} ({exc.error_count()} problems): {preview}",
            content=content,
            errors=exc.errors(include_url=False),
            response=response,
        ) from exc


def parse_completion(response: ParsedChatCompletionResponse, target: Any) -> ParsedChatCompletionResponse:
    """Fill ``message.parsed`` of every choice that answered with content (not with tool calls)."""
    for choice in response.choices:
        message = choice.message
        if message.tool_calls and not message.content:
            continue
        message.parsed = parse_json(target, _text(message.content), response)
    return response


def _text(content: Any) -> Optional[str]:
    if content is None or isinstance(content, str):
        return content
    return "".join(getattr(chunk, "text", "") for chunk in content)


def _name(target: Any) -> str:
    return getattr(target, "__name__", None) or repr(target)
