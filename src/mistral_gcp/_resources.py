"""The ``chat`` and ``fim`` namespaces: one-line methods over the operations table.

Each method's keywords are typed by a TypedDict (request fields + per-call options); the values
are validated once, at run time, by the operation's adapter. Nothing is written twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import Unpack

from . import _operations as ops
from .models.chat import ChatCompletionRequest, ChatCompletionResponse, CompletionEvent
from .models.fim import FIMCompletionRequest, FIMCompletionResponse
from .streaming import EventStream, EventStreamAsync

if TYPE_CHECKING:
    from ._client import MistralGCP

__all__ = ["Chat", "ChatParams", "Fim", "FimParams"]


class ChatParams(ChatCompletionRequest, ops.RequestOptions, total=False):
    pass


class FimParams(FIMCompletionRequest, ops.RequestOptions, total=False):
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
