"""Request and response models, and (as in the official client) the error classes."""

from ..errors import (  # noqa: F401  (the official client exposes its errors here too)
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    HTTPValidationError,
    IncompleteStreamError,
    MistralGCPError,
    NoResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    SDKError,
    ServerError,
)
from .chat import *  # noqa: F401,F403
from .chat import __dict__ as _chat_names
from .common import Context, HTTPValidationErrorData, Loc, UsageInfo, ValidationError  # noqa: F401
from ..errors import OutputParseError, ToolTurnLimitError  # noqa: F401
from .._usage import ResponseMeta, Usage  # noqa: F401
from .ocr import *  # noqa: F401,F403
from .ocr import __all__ as _ocr_names
from .parsed import *  # noqa: F401,F403
from .parsed import __all__ as _parsed_names
from .fim import (  # noqa: F401
    FIMCompletionRequest,
    FIMCompletionRequestStop,
    FIMCompletionRequestTypedDict,
    FIMCompletionResponse,
    FIMCompletionStreamRequest,
    FIMCompletionStreamRequestStop,
    FIMCompletionStreamRequestTypedDict,
)

__all__ = sorted(
    {n for n in _chat_names if n[:1].isupper()}
    | {
        "Context", "HTTPValidationErrorData", "Loc", "UsageInfo", "ValidationError",
        "FIMCompletionRequest", "FIMCompletionResponse", "FIMCompletionStreamRequest",
        "APIConnectionError", "APITimeoutError", "AuthenticationError", "BadRequestError",
        "HTTPValidationError", "IncompleteStreamError", "MistralGCPError", "NoResponseError",
        "NotFoundError", "PermissionDeniedError", "RateLimitError", "ResponseValidationError",
        "SDKError", "ServerError",
        "OutputParseError", "ToolTurnLimitError", "ResponseMeta", "Usage",
    }
    | set(_ocr_names)
    | set(_parsed_names)
)
