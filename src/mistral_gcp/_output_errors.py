"""Errors about what came back, for the helpers beyond the official client. Both derive from
``MistralGCPError`` (see the tree in ``errors``); they live here, next to nothing but that root,
so that ``models`` can export them without importing the helpers.

::

    MistralGCPError
    ├── OutputParseError        a structured output (or OCR annotation) that does not validate (also a ValueError)
    └── ToolTurnLimitError      the model still asked for tools after ``max_turns`` completions
"""

from __future__ import annotations

from typing import Any, List, Optional

from .errors import MistralGCPError

__all__ = ["OutputParseError", "ToolTurnLimitError"]


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
