"""Accounting: how each response went (``ResponseMeta``), what the client used in total (``Usage``),
and what a conversation would cost before it is sent (``count_tokens``).

``_flow`` builds one ``ResponseMeta`` per successful call and hangs it on the result as ``_meta``:
an instance attribute outside the model's fields, so ``model_dump``, ``==`` and ``repr`` ignore it
and the result stays the seed's type. Streams carry it as ``stream.meta``.

``UsageCounter`` sums the ``usage`` of completions (streams: the usage their last chunk reports)
and the ``usage_info`` of OCR responses, under a lock, because one client serves many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional

from .errors import ConfigurationError, request_id_of

__all__ = ["ResponseMeta", "Usage", "UsageCounter", "count_tokens"]


class ResponseMeta:
    """How a successful call went: ``status_code``, ``headers``, ``request_id``, ``elapsed_ms``
    (from the first attempt to the response headers, retries and their waits included) and
    ``retries`` (attempts beyond the first)."""

    __slots__ = ("status_code", "headers", "retries", "elapsed_ms")

    def __init__(self, status_code: int, headers: Any, retries: int, elapsed_ms: float) -> None:
        self.status_code = status_code
        self.headers = headers
        self.retries = retries
        self.elapsed_ms = elapsed_ms

    @property
    def request_id(self) -> Optional[str]:
        return request_id_of(self.headers)

    def __repr__(self) -> str:
        return (f"ResponseMeta(status_code={self.status_code}, request_id={self.request_id!r}, "
                f"elapsed_ms={self.elapsed_ms:.1f}, retries={self.retries})")


@dataclass(frozen=True)
class Usage:
    """What one client used since it was created (or since ``reset_usage()``)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    ocr_pages: int = 0
    ocr_bytes: int = 0


class UsageCounter:
    __slots__ = ("_lock", "_totals")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = [0, 0, 0, 0, 0, 0]  # in Usage's field order

    def record(self, result: Any) -> None:
        """Count a decoded response: a completion's ``usage`` or an OCR response's ``usage_info``."""
        fields = result.__dict__
        usage = fields.get("usage")
        if usage is not None:
            self._add(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, 0, 0)
            return
        info = fields.get("usage_info")
        self._add(0, 0, 0, info.pages_processed if info else 0, (info.doc_size_bytes or 0) if info else 0)

    def record_stream(self, payloads: List[bytes], decode: Any) -> None:
        """Count a stream that reached ``[DONE]``, by the usage its last chunks report (only those
        are decoded again)."""
        usage = None
        for payload in reversed(payloads):
            if b'"usage"' in payload:
                usage = decode(payload).data.usage
                if usage is not None:
                    break
        if usage is None:
            self._add(0, 0, 0, 0, 0)
        else:
            self._add(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, 0, 0)

    def _add(self, prompt: int, completion: int, total: int, pages: int, size: int) -> None:
        with self._lock:
            t = self._totals
            t[0] += 1
            t[1] += prompt or 0
            t[2] += completion or 0
            t[3] += total or 0
            t[4] += pages
            t[5] += size

    def snapshot(self, reset: bool = False) -> Usage:
        with self._lock:
            usage = Usage(*self._totals)
            if reset:
                self._totals = [0, 0, 0, 0, 0, 0]
        return usage


# --------------------------------------------------------------------------- local token counts

#: Vertex model id -> the tokenizer mistral-common ships for it (PROTOCOL.md §1.3). Models whose
#: exact tokenizer is not in the package (it lives on the Hugging Face hub) use the shipped Tekken
#: tokenizer, whose vocabulary the current models share: counts are then close, not exact.
_TOKENIZERS: Dict[str, str] = {
    "mistral-large-2411": "v7",
    "mistral-large@2407": "v3",
    "codestral@2405": "v3",
    "mistral-nemo@2407": "tekken",
}


@lru_cache(maxsize=8)
def _tokenizer(kind: str) -> Any:
    try:
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
    except ImportError:
        raise ConfigurationError(
            "counting tokens locally needs mistral-common: pip install 'mistral-gcp[tokenizer]'"
        ) from None
    if kind == "tekken":
        return MistralTokenizer.v3(is_tekken=True)
    try:
        return MistralTokenizer.v7() if kind == "v7" else MistralTokenizer.v3()
    except ImportError:  # the SentencePiece tokenizers need the sentencepiece package
        return MistralTokenizer.v3(is_tekken=True)


def _plain(value: Any) -> Any:
    return value.model_dump(exclude_none=True, by_alias=True) if hasattr(value, "model_dump") else value


def count_tokens(messages: List[Any], model: str, tools: Optional[List[Any]] = None, tokenizer: Any = None) -> int:
    """Tokens the chat prompt takes (messages, tools and the instruction template's own tokens).

    ``tokenizer`` may be a ``MistralTokenizer`` (e.g. ``MistralTokenizer.from_file(...)``) for an
    exact count; otherwise the tokenizer shipped with mistral-common closest to ``model`` is used.
    """
    if tokenizer is None:
        tokenizer = _tokenizer(_TOKENIZERS.get(model, "tekken"))
    from mistral_common.protocol.instruct.request import ChatCompletionRequest

    request: Dict[str, Any] = {"messages": [_plain(m) for m in messages]}
    if tools:
        request["tools"] = [_plain(t) for t in tools]
    return len(tokenizer.encode_chat_completion(ChatCompletionRequest.model_validate(request)).tokens)
