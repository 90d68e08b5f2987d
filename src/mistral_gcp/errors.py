"""Everything mistral-gcp raises, in one tree.

::

    MistralGCPError                     root: catch this to catch everything below
    ├── RequestValidationError          bad input, found before anything is sent (also a ValueError)
    ├── ConfigurationError              bad client settings or no project/credentials (also a ValueError)
    ├── CredentialsError                google-auth could not produce a token (reason kept)
    ├── NoResponseError                 no HTTP answer at all
    │   └── APIConnectionError          connection refused/reset, DNS, TLS, ... (cause chained)
    │       └── APITimeoutError         a connect/read/write/pool timeout
    ├── IncompleteStreamError           a stream cut mid-way or ended without ``[DONE]``
    ├── ResponseValidationError         a 2xx whose body is not the JSON we expect
    ├── OutputParseError                a structured output or OCR annotation that does not validate (also a ValueError)
    ├── ToolTurnLimitError              chat.run_tools: the model still asked for tools after max_turns
    └── SDKError                        any 4xx/5xx answer: status_code, body, headers, raw_response, request_id
        ├── BadRequestError             400
        ├── AuthenticationError         401
        ├── PermissionDeniedError       403
        ├── NotFoundError               404
        ├── RequestTimeoutError         408
        ├── PayloadTooLargeError        413
        ├── HTTPValidationError         422, with the parsed ``data.detail``
        ├── RateLimitError              429
        └── ServerError                 5xx
            └── ServiceUnavailableError 503

The message of an ``SDKError`` leads with the service's own explanation: Vertex's
``google.rpc.Status`` (``error.status`` + ``error.message``, also when wrapped in a one-element
array) or one of Mistral's error shapes. Nothing here ever holds an access token: errors are
built from responses, and the request kept on ``raw_response.request`` has its ``Authorization``
header redacted before the error is raised.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .models.common import HTTPValidationErrorData

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "CredentialsError",
    "HTTPValidationError",
    "IncompleteStreamError",
    "MistralGCPError",
    "NoResponseError",
    "NotFoundError",
    "OutputParseError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestValidationError",
    "ResponseValidationError",
    "SDKError",
    "ServerError",
    "ServiceUnavailableError",
    "ToolTurnLimitError",
    "error_for_response",
]

#: Response headers that may carry an id for the request, best first.
REQUEST_ID_HEADERS = ("x-request-id", "mistral-correlation-id", "request-id", "x-kong-request-id")
_BODY_PREVIEW = 2_000


class MistralGCPError(Exception):
    """Root of every error this SDK raises."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RequestValidationError(MistralGCPError, ValueError):
    """The arguments of a call are invalid; nothing was sent."""


class ConfigurationError(MistralGCPError, ValueError):
    """The client's settings are invalid or incomplete (no project, no credentials, bad URL)."""


class CredentialsError(MistralGCPError):
    """google-auth could not load or refresh credentials. ``reason`` is google-auth's own text."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class NoResponseError(MistralGCPError):
    """The request got no HTTP response."""

    def __init__(self, message: str = "No response received") -> None:
        super().__init__(message)


class APIConnectionError(NoResponseError):
    """The connection failed (refused, reset, DNS, TLS ...). The transport's exception is ``__cause__``."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired."""


class IncompleteStreamError(MistralGCPError):
    """A stream stopped before ``data: [DONE]``: the answer is incomplete. ``events_received`` says how far it got."""

    def __init__(self, message: str, *, events_received: int = 0) -> None:
        super().__init__(message)
        self.events_received = events_received


class OutputParseError(MistralGCPError, ValueError):
    """The model's reply is not a valid instance of the requested type.

    ``content`` is the raw reply, ``errors`` pydantic's list of problems, ``response`` the whole
    completion (or OCR response) when there is one.
    """

    def __init__(self, message: str, *, content: Optional[str], errors: Any = None, response: Any = None) -> None:
        super().__init__(message)
        self.content = content
        self.errors = errors
        self.response = response


class ToolTurnLimitError(MistralGCPError):
    """The model still asked for tools after ``max_turns`` completions.

    ``transcript`` is the conversation so far (tool results included), ``response`` the last completion.
    """

    def __init__(self, message: str, *, max_turns: int, transcript: List[Any], response: Any) -> None:
        super().__init__(message)
        self.max_turns = max_turns
        self.transcript = transcript
        self.response = response


class _ResponseError(MistralGCPError):
    """Shared shape of the errors that carry an HTTP response."""

    status_code: int
    body: str
    headers: Any
    raw_response: Any
    request_id: str | None

    def __init__(self, message: str, raw_response: Any, body: str | None = None) -> None:
        super().__init__(message)
        self.raw_response = raw_response
        self.status_code = raw_response.status_code
        self.headers = raw_response.headers
        self.body = body if body is not None else _text_of(raw_response)
        self.request_id = request_id_of(raw_response.headers)


class ResponseValidationError(_ResponseError):
    """A successful response whose body could not be decoded into the expected model."""

    @property
    def cause(self) -> BaseException | None:
        return self.__cause__


class SDKError(_ResponseError):
    """The service answered with a 4xx or 5xx status."""

    #: Vertex's canonical status (``NOT_FOUND``, ``RESOURCE_EXHAUSTED`` ...) when the body is a google.rpc.Status.
    status: str | None = None
    #: The ``google.rpc.ErrorInfo`` reason (``ACCESS_TOKEN_EXPIRED``, ``SERVICE_DISABLED`` ...) if any.
    reason: str | None = None

    def __init__(self, message: str, raw_response: Any, body: str | None = None) -> None:
        super().__init__(message, raw_response, body)


class BadRequestError(SDKError):
    """400: the request is malformed, or the model is not enabled for the project (FAILED_PRECONDITION)."""


class AuthenticationError(SDKError):
    """401: the access token is missing, expired or not accepted."""


class PermissionDeniedError(SDKError):
    """403: the principal lacks ``aiplatform.endpoints.predict``, or the API/quota project is not set up."""


class NotFoundError(SDKError):
    """404: unknown, retired or not-enabled model, or a location where the model is not served."""


class RequestTimeoutError(SDKError):
    """408: the server gave up waiting for the request."""


class PayloadTooLargeError(SDKError):
    """413: the request body is over the service's limit."""


class HTTPValidationError(SDKError):
    """422: the Mistral backend rejected the body. ``data.detail`` lists each problem."""

    data: HTTPValidationErrorData

    def __init__(self, data: Any, raw_response: Any, body: str | None = None) -> None:
        super().__init__(_validation_message(data, raw_response.status_code), raw_response, body)
        self.data = data


class RateLimitError(SDKError):
    """429: a quota (requests or tokens per minute) is exhausted. Retried by default."""


class ServerError(SDKError):
    """5xx: the service failed. Retried by default on 500, 502, 503 and 504."""


class ServiceUnavailableError(ServerError):
    """503: the service is temporarily unavailable."""


#: HTTP status → error class; anything else falls back by class of status (4xx → SDKError, 5xx → ServerError).
STATUS_ERRORS: Mapping[int, type[SDKError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    413: PayloadTooLargeError,
    422: HTTPValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def request_id_of(headers: Any) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return None


def _text_of(response: Any) -> str:
    try:
        return response.text
    except Exception:  # the body was never read (e.g. a stream); say nothing rather than fail
        return ""


def _preview(text: str) -> str:
    text = text.strip()
    if len(text) > _BODY_PREVIEW:
        return f"{text[:_BODY_PREVIEW]}... ({len(text) - _BODY_PREVIEW} more characters)"
    return text


def explain(payload: Any) -> tuple[str | None, str | None, str | None]:
    """(canonical status, message, ErrorInfo reason) from any error body shape we know.

    Shapes: google.rpc.Status ``{"error": {...}}`` (bare or in a one-element list); Mistral's
    ``{"object": "error", "message": str | {"detail": [...]}, "type": ...}``; ``{"detail": [...]}``;
    ``{"detail": str}``; ``{"message": str}``.
    """
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict):
        return None, None, None
    error = payload.get("error")
    if isinstance(error, dict):
        reason = None
        for detail in error.get("details") or ():
            if isinstance(detail, dict) and detail.get("reason"):
                reason = str(detail["reason"])
                break
        status = error.get("status")
        message = error.get("message")
        return (str(status) if status else None), (str(message) if message else None), reason
    message = payload.get("message")
    detail = payload.get("detail")
    if isinstance(message, dict) and "detail" in message:
        detail, message = message["detail"], None
    kind = payload.get("type")
    if isinstance(detail, list):
        message = "; ".join(_detail_line(d) for d in detail) or message
    elif isinstance(detail, str) and not message:
        message = detail
    if isinstance(message, list):
        message = "; ".join(_detail_line(d) for d in message)
    return (str(kind) if kind else None), (str(message) if message else None), None


def _detail_line(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = ".".join(str(p) for p in item.get("loc") or ())
    msg = item.get("msg") or item.get("message") or ""
    return f"{loc}: {msg}" if loc else str(msg)


def _validation_message(data: Any, status_code: int) -> str:
    detail = getattr(data, "detail", None) or []
    lines = "; ".join(_detail_line(d.model_dump() if hasattr(d, "model_dump") else d) for d in detail)
    return f"Mistral rejected the request ({status_code}): {lines or 'validation failed'}"


def error_for_response(response: Any) -> SDKError:
    """Build the typed error for a 4xx/5xx response whose body has been read."""
    body = _text_of(response)
    payload: Any = None
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    code = response.status_code
    if code == 422 and payload is not None:
        from .models.common import HTTPValidationErrorData

        detail = explain_detail(payload)
        if detail is not None:
            try:
                data = HTTPValidationErrorData.model_validate({"detail": detail})
            except Exception:
                data = None
            if data is not None:
                return HTTPValidationError(data, response, body)
    status, message, reason = explain(payload)
    cls = STATUS_ERRORS.get(code) or (ServerError if code >= 500 else SDKError)
    if cls is HTTPValidationError:  # a 422 we could not parse as validation details
        cls = SDKError
    if message:
        text = f"{status} ({code}): {message}" if status else f"{code}: {message}"
    else:
        ctype = response.headers.get("content-type", "")
        text = f"HTTP {code} {ctype}: {_preview(body) or '(empty body)'}"
    error = cls(text, response, body)
    error.status = status
    error.reason = reason
    return error


def explain_detail(payload: Any) -> list[Any] | None:
    """The ``detail`` list of a Mistral 422, whichever wrapping it came in."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("detail"), list):
        return payload["detail"]
    message = payload.get("message")
    if isinstance(message, dict) and isinstance(message.get("detail"), list):
        return message["detail"]
    return None


def body_preview(text: str) -> str:
    """The start of a body, for messages about bodies that could not be decoded."""
    return _preview(text)
