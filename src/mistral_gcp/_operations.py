"""Operations as data: request shape, response decoder, streaming or not. Pure request building.

Every public method is one line over ``prepare``: validate the caller's keywords against the
operation's TypedDict (one pydantic ``TypeAdapter``, built on the operation's first call), take
the model id for the URL from the validated value, and serialise the body once, with only the
keys the caller gave.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from pydantic import TypeAdapter, ValidationError, with_config
from pydantic import ConfigDict
from typing_extensions import TypedDict

from . import _endpoints
from ._endpoints import STREAM_LIMIT, UNARY_LIMIT
from ._retry import RetryConfig
from .errors import RequestValidationError
from .models.chat import ChatCompletionRequest, ChatCompletionResponse, CompletionEvent
from .models.fim import FIMCompletionRequest, FIMCompletionResponse
from .models.ocr import OCRRequest, OCRResponse
from .models.parsed import ParsedChatCompletionResponse, ToolRunResponse

__all__ = ["CHAT", "CHAT_PARSE", "CHAT_STREAM", "CHAT_TOOLS", "FIM", "FIM_STREAM", "OCR", "Operation", "Prepared", "RequestOptions", "prepare"]

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
_REQUEST_CONTEXT = {"request": True}


class RequestOptions(TypedDict, total=False):
    """Per-call options accepted by every operation, next to the request's own fields."""

    retries: Optional[RetryConfig]
    server_url: Optional[str]
    timeout_ms: Optional[int]
    http_headers: Optional[Mapping[str, str]]


_OPTION_KEYS = frozenset(RequestOptions.__annotations__)


@dataclass(frozen=True)
class Operation:
    """One operation: its request shape and response model, streaming or not.

    The validators are built on the operation's first call, not at import: pydantic builds a
    schema for every model the shape reaches (~40 ms for all operations), and a program that only
    chats should not pay for OCR's. After that, ``adapter`` and ``decode`` are plain attributes.
    """

    name: str
    shape: Any  # the request's TypedDict
    response: Any  # the response model; for streams, each event's
    stream: bool
    #: (largest body for rawPredict, largest for streamRawPredict) when a too-big body may take
    #: the streaming method and still get a plain JSON answer (OCR); None: no such detour.
    body_limits: Optional[Tuple[int, int]] = None

    @cached_property
    def adapter(self) -> TypeAdapter:
        return _adapters(self.shape)

    @cached_property
    def decode(self) -> Callable[[bytes], Any]:
        """Response bytes → model. Calls the validator directly: ``Model.model_validate_json`` adds
        ~0.5 µs of Python around the same Rust call, a fifth of the cost of a stream chunk."""
        validate = self.response.__pydantic_validator__.validate_json
        return _event_decoder(validate) if self.stream else validate

    def prepare(self, params: Dict[str, Any]) -> "Prepared":
        return prepare(self, params)


@dataclass
class Prepared:
    """A request ready to send: where (model for the URL), what (body bytes), and how (options)."""

    operation: Operation
    model: str
    body: bytes
    options: Dict[str, Any]
    via_stream: bool = False  # POST to :streamRawPredict


@lru_cache(maxsize=None)  # chat's adapter serves complete, stream, parse and run_tools
def _adapters(shape: type) -> TypeAdapter:
    return TypeAdapter(with_config(_STRICT)(shape))


def _event_decoder(validate: Callable[..., Any]) -> Callable[[bytes], Any]:
    def decode_event(data: bytes) -> Any:
        """One stream chunk's JSON as a ``CompletionEvent``, in one call into pydantic-core.

        Wrapping the payload as ``{"data": ...}`` costs ~0.06 µs; validating the chunk, then the
        event around it, costs ~0.2 µs more. JSON allows whitespace around the payload, and a payload
        cut short stays invalid (its own braces stay open). The one payload this accepts that is not
        a JSON value on its own goes on with keys of the wrapper (``{...},"k":1``); no server sends that.
        """
        return validate(b'{"data":' + data + b"}")

    return decode_event


CHAT = Operation("chat.complete", ChatCompletionRequest, ChatCompletionResponse, stream=False)
CHAT_STREAM = Operation("chat.stream", ChatCompletionRequest, CompletionEvent, stream=True)
FIM = Operation("fim.complete", FIMCompletionRequest, FIMCompletionResponse, stream=False)
FIM_STREAM = Operation("fim.stream", FIMCompletionRequest, CompletionEvent, stream=True)
# Same request as CHAT; the responses are subclasses that carry the parsed object or transcript.
CHAT_PARSE = Operation("chat.parse", ChatCompletionRequest, ParsedChatCompletionResponse, stream=False)
CHAT_TOOLS = Operation("chat.run_tools", ChatCompletionRequest, ToolRunResponse, stream=False)
OCR = Operation("ocr.process", OCRRequest, OCRResponse, stream=False, body_limits=(UNARY_LIMIT, STREAM_LIMIT))


def prepare(operation: Operation, params: Dict[str, Any]) -> Prepared:
    options = {k: params.pop(k) for k in _OPTION_KEYS & params.keys()}
    if operation.stream:
        if params.get("stream") is False:
            raise RequestValidationError(f"{operation.name}: stream=False makes no sense here; use .complete()")
        params["stream"] = True
    elif params.get("stream"):
        raise RequestValidationError(f"{operation.name}: stream=True needs the .stream() method, which returns the events")
    try:
        request = operation.adapter.validate_python(params, context=_REQUEST_CONTEXT)
    except ValidationError as exc:
        raise RequestValidationError(_explain(operation.name, exc)) from None
    model = _endpoints.check_model(request["model"])
    if "@" in model:  # legacy "name@version": the version stays in the URL, the body names the model
        request["model"] = model.partition("@")[0]
    body = operation.adapter.dump_json(request, exclude_unset=True, by_alias=True)
    via_stream = operation.stream
    if operation.body_limits is not None and len(body) > operation.body_limits[0]:
        via_stream = _check_size(operation, len(body))
    elif len(body) > STREAM_LIMIT:  # no Vertex method takes more: fail here rather than upload it for a 413
        raise RequestValidationError(
            f"{operation.name}: the request is {len(body) / 2**20:.1f} MB once encoded; "
            f"Vertex takes at most {STREAM_LIMIT / 2**20:.0f} MB"
        )
    return Prepared(operation, model, body, options, via_stream)


def _check_size(operation: Operation, size: int) -> bool:
    unary, largest = operation.body_limits  # type: ignore[misc]
    if size > largest:
        raise RequestValidationError(
            f"{operation.name}: the request is {size / 2**20:.1f} MB once encoded; Vertex takes at most "
            f"{largest / 2**20:.0f} MB (documents are sent base64-encoded, a third larger than the file)"
        )
    return True  # over the unary limit: streamRawPredict takes it


def _explain(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(request)"
        if error["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown parameter")
            continue
        given = repr(error.get("input"))
        if len(given) > 80:
            given = given[:77] + "..."
        lines.append(f"  {where}: {error['msg']} (got {given})")
    return f"invalid arguments for {name}:\n" + "\n".join(lines)
