"""Completions that carry more than the wire: a parsed structured output, a tool-run transcript.

Both are subclasses of ``ChatCompletionResponse``, so code that expects a completion keeps working.
"""

from __future__ import annotations

from typing import Any, List, Optional

from pydantic import Field

from .chat import AssistantMessage, ChatCompletionChoice, ChatCompletionResponse, Messages

__all__ = ["ParsedAssistantMessage", "ParsedChatCompletionChoice", "ParsedChatCompletionResponse", "ToolRunResponse"]


class ParsedAssistantMessage(AssistantMessage):
    """An assistant message whose JSON content was validated: ``parsed`` is the object."""

    parsed: Optional[Any] = Field(default=None, exclude=True)


class ParsedChatCompletionChoice(ChatCompletionChoice):
    message: ParsedAssistantMessage


class ParsedChatCompletionResponse(ChatCompletionResponse):
    """``chat.parse``'s result: ``choices[i].message.parsed`` holds the validated object."""

    choices: List[ParsedChatCompletionChoice] = Field(default_factory=list)

    @property
    def parsed(self) -> Any:
        """The first choice's parsed object."""
        return self.choices[0].message.parsed if self.choices else None


class ToolRunResponse(ChatCompletionResponse):
    """``chat.run_tools``'s result: the final completion and the whole conversation that led to it
    (the caller's messages, each assistant turn with its tool calls, each tool result, the answer)."""

    transcript: List[Messages] = Field(default_factory=list, exclude=True)
