"""Fill-in-the-middle (Codestral): the request, and the response (chat-shaped)."""

from __future__ import annotations

from typing import List, Optional

from pydantic import Field
from typing_extensions import Required, TypedDict

from ..types import BaseModel
from .chat import ChatCompletionResponse, Count, Metadata, Stop, Temperature, TopP
from .common import UsageInfo

FIMCompletionRequestStop = Stop
FIMCompletionStreamRequestStop = Stop


class FIMCompletionRequest(TypedDict, total=False):
    """The body of a FIM completion: the model writes what goes between ``prompt`` and ``suffix``."""

    model: Required[str]
    prompt: Required[str]
    suffix: Optional[str]
    temperature: Optional[Temperature]
    top_p: TopP
    max_tokens: Optional[Count]
    min_tokens: Optional[Count]
    stream: bool
    stop: Stop
    random_seed: Optional[Count]
    metadata: Optional[Metadata]


FIMCompletionStreamRequest = FIMCompletionRequest
FIMCompletionRequestTypedDict = FIMCompletionRequest
FIMCompletionStreamRequestTypedDict = FIMCompletionRequest


class FIMCompletionResponse(ChatCompletionResponse):
    """A FIM completion: the chat shape, the generated middle at ``choices[0].message.content``."""
