"""Which request bodies the emulated Mistral backend accepts, and how it says no.

Theory of operation: each operation's body is a pydantic model with `extra="forbid"`, built once
at import.  The real backend is a FastAPI service, so a body that fails validation gets the
same kind of list pydantic produces, wrapped the way Mistral wraps it (PROTOCOL.md §3.B):

    {"object": "error", "message": {"detail": [{"type", "loc": ["body", ...], "msg", "input"}]},
     "type": "invalid_request_error", "param": null, "code": null}   -> HTTP 422

Rules that are not about one field's shape (the order of chat messages, a forced tool that
is not among the tools) come after the models and answer 400 with a flat message.

Only the fields of the Vertex flavour of the API exist here: `safe_prompt`, `prompt_cache_key`
and `service_tier` are unknown fields and are rejected like any other (PROTOCOL.md §2.1).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    create_model,
    model_validator,
)


class BodyError(Exception):
    """A request body the Mistral backend rejects: send `payload` as JSON with `status`."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(f"{status}: {payload.get('message')}")
        self.status = status
        self.payload = payload

    @classmethod
    def unprocessable(cls, detail: list[dict[str, Any]]) -> BodyError:
        """422 with a pydantic-style `detail` list."""
        return cls(422, {"object": "error", "message": {"detail": detail},
                         "type": "invalid_request_error", "param": None, "code": None})

    @classmethod
    def bad_request(cls, message: str, kind: str = "invalid_request_error",
                    code: str | None = None) -> BodyError:
        """400 with a plain message."""
        return cls(400, {"object": "error", "message": message, "type": kind,
                         "param": None, "code": code})


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _tagged(*members: tuple[str, type, str | None]) -> Any:
    """A union told apart by `type`, or (when a client omits it) by which key is present."""
    keys = {key: tag for tag, _, key in members if key}

    def tag_of(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        if isinstance(kind, str):
            return kind
        return next((tag for key, tag in keys.items() if key in value), None)

    return Annotated[
        Union[tuple(Annotated[model, Tag(tag)] for tag, model, _ in members)],
        Discriminator(tag_of, custom_error_type="invalid_type",
                      custom_error_message="Input should be an object whose type is one of "
                      + ", ".join(repr(tag) for tag, _, _ in members)),
    ]


class TextChunk(_Closed):
    type: Literal["text"] = "text"
    text: str


class ImageURL(_Closed):
    url: str
    detail: str | None = None


class ImageURLChunk(_Closed):
    type: Literal["image_url"] = "image_url"
    image_url: Union[str, ImageURL]


class ReferenceChunk(_Closed):
    type: Literal["reference"] = "reference"
    reference_ids: list[int]


class ThinkChunk(_Closed):
    type: Literal["thinking"] = "thinking"
    thinking: list[_tagged(("text", TextChunk, "text"), ("reference", ReferenceChunk, "reference_ids"))]
    closed: bool | None = None


class DocumentURLChunk(_Closed):
    type: Literal["document_url"] = "document_url"
    document_url: str
    document_name: str | None = None


class FileChunk(_Closed):
    type: Literal["file"] = "file"
    file_id: str


ContentChunk = _tagged(
    ("text", TextChunk, "text"),
    ("image_url", ImageURLChunk, "image_url"),
    ("reference", ReferenceChunk, "reference_ids"),
    ("thinking", ThinkChunk, "thinking"),
    ("document_url", DocumentURLChunk, "document_url"),
)
Content = Union[str, list[ContentChunk]]


class FunctionCall(_Closed):
    name: str
    arguments: Union[dict[str, Any], str]


class ToolCall(_Closed):
    id: str | None = None
    type: str | None = None
    function: FunctionCall
    index: int | None = None


class SystemMessage(_Closed):
    role: Literal["system"]
    content: Union[str, list[_tagged(("text", TextChunk, "text"), ("thinking", ThinkChunk, "thinking"))]]


class UserMessage(_Closed):
    role: Literal["user"]
    content: Content | None


class AssistantMessage(_Closed):
    role: Literal["assistant"]
    content: Content | None = None
    tool_calls: list[ToolCall] | None = None
    prefix: bool = False


class ToolMessage(_Closed):
    role: Literal["tool"]
    content: Content | None
    tool_call_id: str | None = None
    name: str | None = None


Message = Annotated[
    Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage], Field(discriminator="role")
]


class Function(_Closed):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = {}
    strict: bool | None = None


class Tool(_Closed):
    type: str = "function"
    function: Function


class FunctionName(_Closed):
    name: str


class ToolChoice(_Closed):
    type: str = "function"
    function: FunctionName


class JSONSchema(_Closed):
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(_Closed):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JSONSchema | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is json_schema")
        return self


class Prediction(_Closed):
    type: Literal["content"] = "content"
    content: str = ""


class _Sampling(_Closed):
    """What chat and FIM share."""

    model: str
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=0)
    min_tokens: int | None = Field(None, ge=0)
    stream: bool = False
    stop: Union[str, list[str], None] = None
    random_seed: int | None = Field(None, ge=0)
    metadata: dict[str, Any] | None = None


class ChatCompletionRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Union[ToolChoice, Literal["auto", "none", "any", "required"], None] = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    top_k: int | None = Field(None, ge=0)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0)
    prompt_logprobs: bool | None = None
    top_prompt_logprobs: int | None = Field(None, ge=0)
    n: int | None = Field(None, ge=1)
    prediction: Prediction | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    prompt_mode: Literal["reasoning"] | None = None
    guardrails: list[dict[str, Any]] | None = None


class FIMCompletionRequest(_Sampling):
    prompt: str
    suffix: str | None = None


class OCRRequest(_Closed):
    model: str | None  # the key is required, its value may be null
    id: str | None = None
    document: _tagged(
        ("document_url", DocumentURLChunk, "document_url"),
        ("image_url", ImageURLChunk, "image_url"),
        ("file", FileChunk, "file_id"),
    )
    pages: Union[list[Annotated[int, Field(ge=0)]], str, None] = None
    include_image_base64: bool | None = None
    image_limit: int | None = Field(None, ge=0)
    image_min_size: int | None = Field(None, ge=0)
    bbox_annotation_format: ResponseFormat | None = None
    document_annotation_format: ResponseFormat | None = None
    document_annotation_prompt: str | None = None
    table_format: Literal["markdown", "html"] | None = None
    extract_header: bool | None = None
    extract_footer: bool | None = None
    include_blocks: bool | None = None
    confidence_scores_granularity: Literal["word", "page", "block"] | None = None


_REQUESTS: dict[str, type[BaseModel]] = {
    "chat": ChatCompletionRequest, "fim": FIMCompletionRequest, "ocr": OCRRequest,
}
# (operation, require_model) -> model; the lenient twin only relaxes `model`
_MODELS: dict[tuple[str, bool], type[BaseModel]] = {}
for _name, _model in _REQUESTS.items():
    _MODELS[_name, True] = _model
    _MODELS[_name, False] = create_model(_model.__name__, __base__=_model, model=(Union[str, None], None))


def _json_safe(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _detail(exc: ValidationError) -> list[dict[str, Any]]:
    detail = []
    for error in exc.errors(include_url=False):
        item = {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"],
                "input": error.get("input")}
        if error.get("ctx"):
            item["ctx"] = {k: _json_safe(v) for k, v in error["ctx"].items()}
        detail.append(item)
    return detail


def _check_chat(request: Any) -> None:
    last = request.messages[-1]
    if not (last.role in ("user", "tool") or (last.role == "assistant" and last.prefix)):
        raise BodyError.bad_request(
            f"Expected last role User or Tool (or Assistant with prefix True) for serving"
            f" but got {last.role}", "invalid_request_message_order", "3230")
    forced = request.tool_choice
    if isinstance(forced, ToolChoice):
        names = {tool.function.name for tool in request.tools or ()}
        if forced.function.name not in names:
            raise BodyError.bad_request(
                f"tool_choice names the function {forced.function.name!r},"
                f" which is not among the tools of this request")


def validate(body: object, operation: str, *, require_model: bool = True) -> dict[str, Any]:
    """`body` itself when the backend would serve it; otherwise raise `BodyError`."""
    if operation not in _REQUESTS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(_REQUESTS)}")
    try:
        request = _MODELS[operation, require_model].model_validate(body)
    except ValidationError as exc:
        raise BodyError.unprocessable(_detail(exc)) from None
    if operation == "chat":
        _check_chat(request)
    return body  # type: ignore[return-value]  # a validated body is a dict
