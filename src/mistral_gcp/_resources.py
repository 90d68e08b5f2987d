"""The ``chat``, ``fim`` and ``ocr`` namespaces: one-line methods over the operations table.

Each method's keywords are typed by a TypedDict (request fields + per-call options); the values
are validated once, at run time, by the operation's adapter. Nothing is written twice.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, Sequence

from typing_extensions import Unpack

from . import _operations as ops
from .models.chat import ChatCompletionRequest, ChatCompletionResponse, CompletionEvent
from .models.fim import FIMCompletionRequest, FIMCompletionResponse
from .models.ocr import OCRRequest, OCRResponse
from .models.parsed import ParsedChatCompletionResponse, ToolRunResponse
from .streaming import EventStream, EventStreamAsync

if TYPE_CHECKING:
    from ._client import MistralGCP

# OCR, structured outputs and the tool runner load on their first use (``_ocr``, ``_parse``,
# ``_tools`` and what they import: ~25 ms that a program which only chats never needs).
DEFAULT_MAX_TURNS = 10  # chat.run_tools: model turns before ToolTurnLimitError

__all__ = ["Chat", "ChatParams", "Fim", "FimParams", "Ocr", "OcrParams"]


class ChatParams(ChatCompletionRequest, ops.RequestOptions, total=False):
    pass


class FimParams(FIMCompletionRequest, ops.RequestOptions, total=False):
    pass


class OcrParams(OCRRequest, ops.RequestOptions, total=False):
    pass


class _Namespace:
    __slots__ = ("_client",)

    def __init__(self, client: MistralGCP) -> None:
        self._client = client


class Chat(_Namespace):
    """Chat completions. Keyword-only; see ``models.ChatCompletionRequest`` for every field."""

    def complete(self, **params: Unpack[ChatParams]) -> ChatCompletionResponse:
        return self._client._call(ops.CHAT, params)  # type: ignore[arg-type]

    async def complete_async(self, **params: Unpack[ChatParams]) -> ChatCompletionResponse:
        return await self._client._call_async(ops.CHAT, params)  # type: ignore[arg-type]

    def stream(self, **params: Unpack[ChatParams]) -> EventStream[CompletionEvent]:
        return self._client._call(ops.CHAT_STREAM, params)  # type: ignore[arg-type]

    async def stream_async(self, **params: Unpack[ChatParams]) -> EventStreamAsync[CompletionEvent]:
        return await self._client._call_async(ops.CHAT_STREAM, params)  # type: ignore[arg-type]

    # Structured outputs: ``response_format`` may be a type (a pydantic model, dataclass, ...).

    def parse(self, *, response_format: Any, **params: Any) -> ParsedChatCompletionResponse:
        from ._parse import parse_completion

        target = _parse_format(params, response_format)
        return parse_completion(self._client._call(ops.CHAT_PARSE, params), target)

    async def parse_async(self, *, response_format: Any, **params: Any) -> ParsedChatCompletionResponse:
        from ._parse import parse_completion

        target = _parse_format(params, response_format)
        return parse_completion(await self._client._call_async(ops.CHAT_PARSE, params), target)

    def parse_stream(self, *, response_format: Any, **params: Any) -> EventStream[CompletionEvent]:
        """A stream whose ``text_stream`` is the JSON as it grows and whose ``get_final_response()``
        is a ``ParsedChatCompletionResponse``."""
        target = _parse_format(params, response_format)
        return _parsing(self._client._call(ops.CHAT_STREAM, params), target)

    async def parse_stream_async(self, *, response_format: Any, **params: Any) -> EventStreamAsync[CompletionEvent]:
        target = _parse_format(params, response_format)
        return _parsing(await self._client._call_async(ops.CHAT_STREAM, params), target)

    # The tool runner: ``tools`` are Python functions; see ``_tools``.

    def run_tools(self, *, tools: Sequence[Callable[..., Any]], max_turns: int = DEFAULT_MAX_TURNS,
                  **params: Any) -> ToolRunResponse:
        from ._tools import run

        return run(self._client, tools, max_turns, params)

    async def run_tools_async(self, *, tools: Sequence[Callable[..., Any]], max_turns: int = DEFAULT_MAX_TURNS,
                              **params: Any) -> ToolRunResponse:
        from ._tools import run_async

        return await run_async(self._client, tools, max_turns, params)


def _parse_format(params: Dict[str, Any], target: Any) -> Any:
    from ._parse import apply_format

    params["response_format"] = target
    if apply_format(params, "response_format") is None:
        raise TypeError("parse needs response_format to be a type, e.g. a pydantic model class")
    return target


def _finish_parsed(target: Any, data: Dict[str, Any]) -> ParsedChatCompletionResponse:
    from ._parse import parse_completion

    return parse_completion(ParsedChatCompletionResponse.model_validate(data), target)


def _parsing(stream: Any, target: Any) -> Any:
    stream._finalize = partial(_finish_parsed, target)
    return stream


class Fim(_Namespace):
    """Fill-in-the-middle completions (Codestral)."""

    def complete(self, **params: Unpack[FimParams]) -> FIMCompletionResponse:
        return self._client._call(ops.FIM, params)  # type: ignore[arg-type]

    async def complete_async(self, **params: Unpack[FimParams]) -> FIMCompletionResponse:
        return await self._client._call_async(ops.FIM, params)  # type: ignore[arg-type]

    def stream(self, **params: Unpack[FimParams]) -> EventStream[CompletionEvent]:
        return self._client._call(ops.FIM_STREAM, params)  # type: ignore[arg-type]

    async def stream_async(self, **params: Unpack[FimParams]) -> EventStreamAsync[CompletionEvent]:
        return await self._client._call_async(ops.FIM_STREAM, params)  # type: ignore[arg-type]


class Ocr(_Namespace):
    """Document OCR (``mistral-ocr-2505``). ``document`` may also be a path, bytes, a binary file
    or an http(s) URL (downloaded first: Vertex takes only ``data:`` URLs). Annotation formats
    may be types; their answers come back parsed in ``*_annotation_parsed``."""

    def process(self, **params: Unpack[OcrParams]) -> OCRResponse:
        from . import _ocr

        plan = _ocr.plan(params)  # type: ignore[arg-type]
        if plan.url:
            params["document"] = _ocr.download(self._client, plan.url, params.get("timeout_ms"))  # type: ignore[typeddict-item]
        return plan.finish(self._client._call(ops.OCR, params))  # type: ignore[arg-type]

    async def process_async(self, **params: Unpack[OcrParams]) -> OCRResponse:
        from . import _ocr

        plan = _ocr.plan(params)  # type: ignore[arg-type]
        if plan.url:
            params["document"] = await _ocr.download_async(self._client, plan.url, params.get("timeout_ms"))  # type: ignore[typeddict-item]
        return plan.finish(await self._client._call_async(ops.OCR, params))  # type: ignore[arg-type]
