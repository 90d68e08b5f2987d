"""Models shared by every operation: usage, validation-error details."""

from __future__ import annotations

from typing import Any, List, Optional, Union

from ..types import BaseModel

__all__ = ["Context", "HTTPValidationErrorData", "Loc", "UsageInfo", "ValidationError"]

Loc = Union[str, int]


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_audio_seconds: Optional[int] = None


class Context(BaseModel):
    pass


class ValidationError(BaseModel):
    """One problem in a 422 answer: where (``loc``), what (``msg``), which kind (``type``)."""

    loc: List[Loc] = []
    msg: str = ""
    type: str = ""
    input: Optional[Any] = None
    ctx: Optional[Any] = None


class HTTPValidationErrorData(BaseModel):
    detail: Optional[List[ValidationError]] = None
