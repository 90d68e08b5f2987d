"""Retry policy: pure decisions, no sleeping here.

``RetryConfig``/``BackoffStrategy`` keep the official client's meaning and units (milliseconds)
so seed code runs unchanged. What differs: retries are on by default (``DEFAULT_RETRY_CONFIG``),
408 is retryable, a ``max_retries`` cap exists, and ``Retry-After``/``retry-after-ms`` are
honoured but never past the configured maximum elapsed time.

``RetryState`` is asked after each failed attempt and answers "give up" (``None``) or "wait this
many seconds". The request shells in ``_client.py`` do the waiting.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable, List, Optional

__all__ = ["DEFAULT_RETRY_CONFIG", "RETRYABLE_STATUS", "BackoffStrategy", "RetryConfig", "RetryState"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class BackoffStrategy:
    """Exponential backoff, in milliseconds: wait ``initial_interval * exponent**n`` (capped at
    ``max_interval``) plus jitter, and stop retrying once ``max_elapsed_time`` has passed."""

    __slots__ = ("initial_interval", "max_interval", "exponent", "max_elapsed_time", "jitter_ms")

    def __init__(
        self,
        initial_interval: int,
        max_interval: int,
        exponent: float,
        max_elapsed_time: int,
        jitter_ms: Optional[int] = None,
    ) -> None:
        if min(initial_interval, max_interval, max_elapsed_time) < 0 or exponent <= 0:
            raise ValueError("backoff intervals must be >= 0 and the exponent > 0")
        if jitter_ms is not None and jitter_ms < 0:
            raise ValueError("jitter_ms must be >= 0")
        self.initial_interval = initial_interval
        self.max_interval = max_interval
        self.exponent = exponent
        self.max_elapsed_time = max_elapsed_time
        self.jitter_ms = jitter_ms

    def __repr__(self) -> str:
        return (
            f"BackoffStrategy(initial_interval={self.initial_interval}, max_interval={self.max_interval}, "
            f"exponent={self.exponent}, max_elapsed_time={self.max_elapsed_time}, jitter_ms={self.jitter_ms})"
        )


class RetryConfig:
    """When and how to retry. ``strategy`` is ``"backoff"`` or ``"none"``.

    >>> RetryConfig("backoff", BackoffStrategy(500, 8_000, 2.0, 60_000), True, max_retries=2)
    """

    __slots__ = ("strategy", "backoff", "retry_connection_errors", "status_codes_override", "max_retries")

    def __init__(
        self,
        strategy: str,
        backoff: Optional[BackoffStrategy] = None,
        retry_connection_errors: bool = True,
        status_codes_override: Optional[List[str]] = None,
        *,
        max_retries: Optional[int] = None,
    ) -> None:
        if strategy not in ("backoff", "none"):
            raise ValueError(f"retry strategy must be 'backoff' or 'none', not {strategy!r}")
        if strategy == "backoff" and backoff is None:
            raise ValueError("the 'backoff' strategy needs a BackoffStrategy")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.strategy = strategy
        self.backoff = backoff
        self.retry_connection_errors = retry_connection_errors
        self.status_codes_override = status_codes_override
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return (
            f"RetryConfig({self.strategy!r}, {self.backoff!r}, {self.retry_connection_errors}, "
            f"{self.status_codes_override!r}, max_retries={self.max_retries})"
        )


#: On unless told otherwise: 2 retries, 0.5 s doubling to 8 s, ±jitter, at most 60 s in all.
DEFAULT_RETRY_CONFIG = RetryConfig("backoff", BackoffStrategy(500, 8_000, 2.0, 60_000), True, max_retries=2)
NO_RETRIES = RetryConfig("none")


def _status_codes(patterns: Optional[Iterable[str]]) -> Callable[[int], bool]:
    """``["429", "5XX"]`` → a predicate on status codes."""
    if not patterns:
        return RETRYABLE_STATUS.__contains__
    exact = {int(p) for p in patterns if p.isdigit()}
    ranges = {int(p[0]) for p in patterns if len(p) == 3 and p[1:].upper() == "XX"}
    return lambda code: code in exact or code // 100 in ranges


def retry_after_ms(headers: Any, now: Callable[[], float]) -> Optional[float]:
    """The server's requested delay, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value) * 1000)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.timestamp() - now()) * 1000)


class RetryState:
    """The retry bookkeeping of one call. Pure: time and randomness are injected."""

    __slots__ = ("config", "retries", "_started", "_clock", "_wall", "_rng", "_retryable")

    def __init__(
        self,
        config: Optional[RetryConfig],
        clock: Callable[[], float],
        wall: Callable[[], float],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config if config is not None and config.strategy == "backoff" else None
        self.retries = 0
        self._clock = clock
        self._wall = wall
        self._rng = rng
        self._started = clock()
        self._retryable = _status_codes(self.config.status_codes_override if self.config else None)

    def after_status(self, status_code: int, headers: Any) -> Optional[float]:
        """Seconds to wait before retrying a response with this status, or None to give up."""
        if self.config is None or not self._retryable(status_code):
            return None
        return self._next(retry_after_ms(headers, self._wall))

    def after_connection_error(self) -> Optional[float]:
        if self.config is None or not self.config.retry_connection_errors:
            return None
        return self._next(None)

    def _next(self, server_ms: Optional[float]) -> Optional[float]:
        config = self.config
        assert config is not None and config.backoff is not None
        if config.max_retries is not None and self.retries >= config.max_retries:
            return None
        backoff = config.backoff
        elapsed_ms = (self._clock() - self._started) * 1000
        remaining_ms = backoff.max_elapsed_time - elapsed_ms
        if remaining_ms <= 0:
            return None
        if server_ms is not None:
            delay_ms = server_ms
        else:
            delay_ms = min(backoff.initial_interval * backoff.exponent**self.retries, backoff.max_interval)
            jitter = backoff.jitter_ms if backoff.jitter_ms is not None else min(1000.0, delay_ms * 0.25)
            delay_ms += jitter * self._rng()
        if delay_ms > remaining_ms:
            return None  # waiting that long would overrun the time the caller allowed
        self.retries += 1
        return delay_ms / 1000
