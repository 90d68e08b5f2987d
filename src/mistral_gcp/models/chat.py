"""Chat completion shapes: messages, content chunks, tools, the request and the responses.

Requests are TypedDicts validated by one pydantic ``TypeAdapter`` each (see ``_operations.py``):
the keys a caller passes are the keys that go on the wire, and nothing else. Messages and other
nested values may be given as dicts or as the model objects below; either way they are validated
before anything is sent. Response models keep fields they do not know.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar, Dict, List, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    model_validator,
)
from typing_extensions import Annotated, Required, TypedDict

from ..types import BaseModel
from .common import UsageInfo

# --------------------------------------------------------------------------- content chunks


class _Tagged(BaseModel):
    """A model whose discriminator (``role`` or ``type``) always counts as set, so it is always sent."""

    _tag_field: ClassVar[str] = "type"

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add(self._tag_field)


def tag_of(value: Any, field: str = "type") -> Any:
    """The discriminator of a value given as a dict or as a model object (for pydantic's Discriminator)."""
    return value.get(field) if isinstance(value, dict) else getattr(value, field, None)


class TextChunk(_Tagged):
    type: Literal["text"] = "text"
    text: str


ImageDetail = Literal["low", "auto", "high"]


class ImageURL(BaseModel):
    url: str
    detail: Optional[Union[ImageDetail, str]] = None


class ImageURLChunk(_Tagged):
    """An image, as a URL (``data:`` URLs on Vertex) or an :class:`ImageURL`."""

    type: Literal["image_url"] = "image_url"
    image_url: Union[ImageURL, str]


ImageURLUnion = Union[ImageURL, str]


class ReferenceChunk(_Tagged):
    type: Literal["reference"] = "reference"
    reference_ids: List[int]


ReferenceID = int


class DocumentURLChunk(_Tagged):
    type: Literal["document_url"] = "document_url"
    document_url: str
    document_name: Optional[str] = None


Thinking = Annotated[
    Union[Annotated[TextChunk, Tag("text")], Annotated[ReferenceChunk, Tag("reference")]],
    Discriminator(tag_of),
]


class ThinkChunk(_Tagged):
    type: Literal["thinking"] = "thinking"
    thinking: List[Thinking]
    closed: Optional[bool] = None


class UnknownContentChunk(BaseModel):
    """A chunk type this SDK does not know yet. Kept as-is in responses; refused in requests."""

    type: str

    @model_validator(mode="after")
    def _only_in_responses(self, info: ValidationInfo) -> UnknownContentChunk:
        if info.context and info.context.get("request"):
            raise ValueError(
                f"unknown content chunk type {self.type!r}; expected one of "
                "'text', 'image_url', 'reference', 'thinking', 'document_url'"
            )
        return self


_CHUNK_TYPES = {"text", "image_url", "reference", "thinking", "document_url"}


def _chunk_tag(value: Any) -> str | None:
    kind = tag_of(value)
    if kind is None:
        return None
    return kind if kind in _CHUNK_TYPES else "unknown"


ContentChunk = Annotated[
    Union[
        Annotated[TextChunk, Tag("text")],
        Annotated[ImageURLChunk, Tag("image_url")],
        Annotated[ReferenceChunk, Tag("reference")],
        Annotated[ThinkChunk, Tag("thinking")],
        Annotated[DocumentURLChunk, Tag("document_url")],
        Annotated[UnknownContentChunk, Tag("unknown")],
    ],
    Discriminator(
        _chunk_tag,
        custom_error_type="invalid_chunk",
        custom_error_message="a content chunk needs a 'type' (text, image_url, reference, thinking)",
    ),
]

Content = Union[str, List[ContentChunk]]
SystemMessageContentChunks = Annotated[
    Union[Annotated[TextChunk, Tag("text")], Annotated[ThinkChunk, Tag("thinking")]],
    Discriminator(tag_of),
]

# --------------------------------------------------------------------------- tools


def _json_safe(value: Dict[str, Any]) -> Dict[str, Any]:
    """Free-form objects (metadata, tool schemas, guardrails) must survive strict JSON: without this,
    NaN would be sent as null and a set as a list, silently, and other objects fail mid-serialisation."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"must be JSON-serialisable without NaN/Infinity ({exc})") from None
    return value


JSONObject = Annotated[Dict[str, Any], AfterValidator(_json_safe)]


class Function(BaseModel):
    name: str
    parameters: JSONObject = Field(default_factory=lambda: {"type": "object", "properties": {}})
    description: Optional[str] = None
    strict: Optional[bool] = None


class Tool(_Tagged):
    type: Literal["function"] = "function"
    function: Function


class FunctionCall(BaseModel):
    name: str
    arguments: Union[Dict[str, Any], str]


class ToolCall(BaseModel):
    function: FunctionCall
    id: Optional[str] = None
    type: Optional[str] = None
    index: Optional[int] = None


class FunctionName(BaseModel):
    name: str


class ToolChoice(_Tagged):
    type: Literal["function"] = "function"
    function: FunctionName


ToolChoiceEnum = Literal["auto", "none", "any", "required"]

# --------------------------------------------------------------------------- messages


class SystemMessage(_Tagged):
    _tag_field: ClassVar[str] = "role"
    role: Literal["system"] = "system"
    content: Union[str, List[SystemMessageContentChunks]]


class UserMessage(_Tagged):
    _tag_field: ClassVar[str] = "role"
    role: Literal["user"] = "user"
    content: Optional[Content] = None


class AssistantMessage(_Tagged):
    _tag_field: ClassVar[str] = "role"
    role: Literal["assistant"] = "assistant"
    content: Optional[Content] = None
    tool_calls: Optional[List[ToolCall]] = None
    prefix: bool = False


class ToolMessage(_Tagged):
    _tag_field: ClassVar[str] = "role"
    role: Literal["tool"] = "tool"
    content: Optional[Content] = None
    tool_call_id: Optional[str] = None
    name: Optional[str] = None


def _role_of(value: Any) -> str | None:
    return tag_of(value, "role")


Messages = Annotated[
    Union[
        Annotated[SystemMessage, Tag("system")],
        Annotated[UserMessage, Tag("user")],
        Annotated[AssistantMessage, Tag("assistant")],
        Annotated[ToolMessage, Tag("tool")],
    ],
    Discriminator(
        _role_of,
        custom_error_type="invalid_role",
        custom_error_message="each message needs a 'role': 'system', 'user', 'assistant' or 'tool'",
    ),
]
ChatCompletionRequestMessage = Messages
ChatCompletionStreamRequestMessage = Messages

# --------------------------------------------------------------------------- request options


class JSONSchema(BaseModel):
    """``response_format.json_schema``. The wire key is ``schema``; the attribute is ``schema_definition``."""

    name: str
    schema_definition: JSONObject = Field(alias="schema")
    description: Optional[str] = None
    strict: Optional[bool] = None


ResponseFormats = Literal["text", "json_object", "json_schema"]


class ResponseFormat(BaseModel):
    type: Optional[ResponseFormats] = None
    json_schema: Optional[JSONSchema] = None

    @model_validator(mode="after")
    def _schema_when_needed(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format type 'json_schema' needs a 'json_schema' object")
        return self


class Prediction(_Tagged):
    type: Literal["content"] = "content"
    content: str = ""


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
MistralPromptMode = Literal["reasoning"]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Metadata = JSONObject
Stop = Union[str, List[str]]
Temperature = Annotated[float, Field(ge=0), AfterValidator(_finite)]
TopP = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
Count = Annotated[int, Field(ge=0)]
ChatCompletionRequestStop = Stop
ChatCompletionStreamRequestStop = Stop
ChatCompletionRequestToolChoice = Union[ToolChoice, ToolChoiceEnum]
ChatCompletionStreamRequestToolChoice = ChatCompletionRequestToolChoice


class ChatCompletionRequest(TypedDict, total=False):
    """The body of a chat completion. Only the keys given are sent."""

    model: Required[str]
    messages: Required[Annotated[List[Messages], Field(min_length=1)]]
    temperature: Optional[Temperature]
    top_p: TopP
    max_tokens: Optional[Count]
    stream: bool
    stop: Stop
    random_seed: Optional[Count]
    metadata: Optional[Metadata]
    response_format: ResponseFormat
    tools: Optional[List[Tool]]
    tool_choice: ChatCompletionRequestToolChoice
    presence_penalty: Penalty
    frequency_penalty: Penalty
    min_tokens: Optional[Count]
    repetition_penalty: Optional[float]
    top_k: Optional[Count]
    logprobs: Optional[bool]
    top_logprobs: Optional[Count]
    prompt_logprobs: Optional[bool]
    top_prompt_logprobs: Optional[Count]
    n: Optional[Annotated[int, Field(ge=1)]]
    prediction: Prediction
    parallel_tool_calls: bool
    reasoning_effort: Optional[ReasoningEffort]
    prompt_mode: Optional[MistralPromptMode]
    guardrails: Optional[List[JSONObject]]


ChatCompletionStreamRequest = ChatCompletionRequest
ChatCompletionRequestTypedDict = ChatCompletionRequest
ChatCompletionStreamRequestTypedDict = ChatCompletionRequest

# --------------------------------------------------------------------------- responses


class ChatCompletionResponseTokenLogprobsTopK(BaseModel):
    token: Optional[str] = None
    logprob: Optional[float] = None


class ChatCompletionResponseTokenLogprobs(BaseModel):
    token: Optional[str] = None
    logprob: Optional[float] = None
    top_logprobs: Optional[List[ChatCompletionResponseTokenLogprobsTopK]] = None


class ChatCompletionResponseChoiceLogprobs(BaseModel):
    content: Optional[List[ChatCompletionResponseTokenLogprobs]] = None


ChatCompletionChoiceFinishReason = str  # stop, length, model_length, error, tool_calls, and future values


class ChatCompletionChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Optional[ChatCompletionChoiceFinishReason] = None
    logprobs: Optional[ChatCompletionResponseChoiceLogprobs] = None


class ChatCompletionResponse(BaseModel):
    id: str = ""
    object: str = "chat.completion"
    model: str = ""
    usage: UsageInfo = Field(default_factory=UsageInfo)
    created: Optional[int] = None
    choices: List[ChatCompletionChoice] = Field(default_factory=list)


class DeltaMessage(BaseModel):
    role: Optional[str] = None
    content: Optional[Content] = None
    tool_calls: Optional[List[ToolCall]] = None


CompletionResponseStreamChoiceFinishReason = str


class CompletionResponseStreamChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage = Field(default_factory=DeltaMessage)
    finish_reason: Optional[CompletionResponseStreamChoiceFinishReason] = None
    logprobs: Optional[ChatCompletionResponseChoiceLogprobs] = None


class CompletionChunk(BaseModel):
    id: str = ""
    model: str = ""
    choices: List[CompletionResponseStreamChoice] = Field(default_factory=list)
    object: Optional[str] = None
    created: Optional[int] = None
    usage: Optional[UsageInfo] = None


class CompletionEvent(BaseModel):
    """One server-sent event of a stream; ``data`` is the chunk."""

    data: CompletionChunk


