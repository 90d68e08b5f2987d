"""Bulk runs: a JSONL file of requests through a model, rate-limited, resumable, across regions.

    from mistral_gcp import MistralGCP, batch

    client = MistralGCP(project_id="my-project")
    summary = batch.run(client, "in.jsonl", "out.jsonl", concurrency=8, rpm=60)
    summary = await batch.run_async(client, "in.jsonl", "out.jsonl", regions=["us-central1", "europe-west4"])

**Input**: one JSON object per line, the keyword arguments of ``chat.complete`` (has
``messages``), ``fim.complete`` (has ``prompt``) or ``ocr.process`` (has ``document``), plus an
optional ``custom_id``. Blank lines are skipped. **Output**: one JSON object per request, in the
order they finish: ``{"custom_id", "line", "region", "response", "usage"}`` or, instead of
``response``/``usage``, ``"error": {"type", "message", "status"}``.

**Resuming.** The output file is the journal. Each result is one ``write`` of a whole line
(``O_APPEND``), so a line is on disk whole or not at all; ``fsync`` runs at checkpoints and at the
end. At start the existing output is read: every line there is done (by ``custom_id``, else by
input line number) and is skipped, and a partial last line — a crash in the middle of a write —
is cut off first. A failed request is a result too; ``retry_failed=True`` drops the error lines
(by rewriting the file atomically) so they run again. Ctrl-C cancels the requests in flight:
nothing of them is written, so a rerun does them. An advisory lock keeps two runs off one file.

**Limits and retries.** ``rpm``/``tpm`` are client-side :class:`TokenBucket` s (tokens are
estimated before the request and corrected from ``usage`` after). Retries follow the client's
retry policy. With several ``regions`` requests are spread round-robin, and a 429 moves the
request on to the next region at once; only when every region has answered 429 does the
client's policy decide whether (and how long) to wait before another round.

``run`` is ``run_async`` under ``asyncio.run``: one definition serves both.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

from . import _endpoints
from ._retry import RETRYABLE_STATUS, RetryConfig, RetryState
from .errors import ConfigurationError, CredentialsError, MistralGCPError, RateLimitError

__all__ = ["BatchInputError", "Summary", "TokenBucket", "run", "run_async"]

PathLike = Union[str, "os.PathLike[str]"]
Key = Tuple[str, Any]  # ("id", custom_id) or ("line", line number)

#: request kind → (client namespace, async method, what tells it apart in the body)
OPERATIONS: Dict[str, Tuple[str, str, str]] = {
    "chat": ("chat", "complete_async", "messages"),
    "ocr": ("ocr", "process_async", "document"),
    "fim": ("fim", "complete_async", "prompt"),
}
#: errors that are not about one request but about the whole run: stop instead of writing a line each
FATAL = (CredentialsError, ConfigurationError)
FSYNC_EVERY = 64  # lines between checkpoints
FSYNC_SECONDS = 1.0


class BatchInputError(MistralGCPError, ValueError):
    """The input or output file cannot be used (duplicate ``custom_id``, an output file that is not ours, ...)."""


# ---------------------------------------------------------------- rate limits (pure)


class TokenBucket:
    """A per-minute budget (requests or tokens), refilled continuously. Pure: the clock is injected.

    ``reserve(n)`` takes ``n`` at once and answers how many seconds the caller must wait before
    acting; the level may go below zero, which queues later callers behind earlier ones.
    The bucket holds at most one second's worth (at least 1), so a burst never breaks a
    sliding one-minute quota by more than that.

    >>> bucket = TokenBucket(60, clock=lambda: 0.0)
    >>> bucket.reserve(1), bucket.reserve(1)
    (0.0, 1.0)
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("a per-minute limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, amount: float) -> float:
        self._refill()
        self._level -= amount
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def adjust(self, amount: float) -> None:
        """Charge ``amount`` more (or give back, when negative) after the fact, without waiting."""
        self._refill()
        self._level = min(self.capacity, self._level - amount)


class _Limits:
    def __init__(self, rpm: Optional[float], tpm: Optional[float], clock: Callable[[], float]) -> None:
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock) if tpm else None

    def reserve(self, estimate: int) -> float:
        waits = [0.0]
        if self.requests is not None:
            waits.append(self.requests.reserve(1))
        if self.tokens is not None:
            waits.append(self.tokens.reserve(estimate))
        return max(waits)

    def settle(self, estimate: int, used: int) -> None:
        if self.tokens is not None and used:
            self.tokens.adjust(used - estimate)


def estimate_tokens(line: str) -> int:
    """A rough token count of a request line (about four characters a token), before we know better."""
    return len(line) // 4 + 1


# ---------------------------------------------------------------- the summary


@dataclass
class Summary:
    """How a run went; updated in place as results arrive (``on_progress`` gets it)."""

    total: int = 0  # requests this run had to do
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # already in the output
    skipped_failed: int = 0  # ... of which were errors
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: Optional[float] = None
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Results per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> Optional[float]:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None

    @property
    def all_ok(self) -> bool:
        return self.failed == 0 and self.skipped_failed == 0 and not self.interrupted and self.done == self.total

    def describe(self) -> str:
        parts = [f"{self.ok} ok", f"{self.failed} failed"]
        if self.skipped:
            earlier = f", {self.skipped_failed} of them failed" if self.skipped_failed else ""
            parts.append(f"{self.skipped} already done{earlier}")
        if self.done < self.total:
            parts.append(f"{self.total - self.done} not done")
        return f"{self.done}/{self.total} requests in {self.elapsed:.1f}s: " + ", ".join(parts) + f"; {self.tokens} tokens"


# ---------------------------------------------------------------- the output journal


def _key(record: Dict[str, Any], line: int) -> Key:
    return ("id", record["custom_id"]) if "custom_id" in record else ("line", line)


class _Journal:
    """The output file: what is done already, and whole-line appends."""

    def __init__(self, path: Path, retry_failed: bool) -> None:
        self.path = path
        self.done: Set[Key] = set()
        self.failed_before = 0
        self._fd = -1
        self._unsynced = 0
        self._synced_at = time.monotonic()
        self._recover(retry_failed)

    def _recover(self, retry_failed: bool) -> None:
        if not self.path.exists():
            self._open()
            return
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]  # a crash mid-write leaves a partial last line: drop it
        kept: List[bytes] = []
        for number, line in enumerate(complete.splitlines(keepends=True), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = _key(record, record["line"])
            except (ValueError, KeyError, TypeError):
                raise BatchInputError(f"{self.path} line {number} is not a batch result; give another output file") from None
            if retry_failed and "error" in record:
                continue
            if key in self.done:
                raise BatchInputError(f"{self.path} holds two results for {_describe(key)}")
            self.done.add(key)
            self.failed_before += "error" in record
            kept.append(line)
        if retry_failed and len(kept) != len(complete.splitlines()):
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "wb") as out:
                out.write(b"".join(kept))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        elif len(complete) != len(raw):
            os.truncate(self.path, len(complete))
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise BatchInputError(f"{self.path} is being written by another batch run") from None

    def write(self, record: Dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # one write for a whole line; a short write (rare) is finished at once
            view = view[os.write(self._fd, view) :]
        self._unsynced += 1
        if self._unsynced >= FSYNC_EVERY or time.monotonic() - self._synced_at >= FSYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1


def _describe(key: Key) -> str:
    return f"custom_id {key[1]!r}" if key[0] == "id" else f"input line {key[1]}"


# ---------------------------------------------------------------- the input


@dataclass
class _Item:
    line: int
    key: Key
    text: str
    body: Any = None
    problem: Optional[str] = None  # why the line cannot be sent


def _parse(line: int, text: str) -> _Item:
    try:
        body = json.loads(text)
    except ValueError as exc:
        return _Item(line, ("line", line), text, problem=f"not JSON: {exc}")
    if not isinstance(body, dict):
        return _Item(line, ("line", line), text, problem="not a JSON object")
    return _Item(line, _key(body, line), text, body)


def _read(path: Path) -> Iterator[_Item]:
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, 1):
            if text.strip():
                yield _parse(number, text)


def _scan(path: Path, done: Set[Key]) -> Tuple[int, int]:
    """(requests to do, requests already done); refuses an input that names one request twice."""
    seen: Set[Key] = set()
    todo = skipped = 0
    for item in _read(path):
        if item.key in seen:
            raise BatchInputError(f"{path} line {item.line}: {_describe(item.key)} appears twice")
        seen.add(item.key)
        if item.key in done:
            skipped += 1
        else:
            todo += 1
    return todo, skipped


def _kind(body: Dict[str, Any]) -> Optional[str]:
    return next((kind for kind, (_, _, marker) in OPERATIONS.items() if marker in body), None)


# ---------------------------------------------------------------- regions


def _in_region(client: Any, region: str) -> Any:
    """The same client (credentials, HTTP pool, retry policy) sending to another region."""
    region = _endpoints.check_region(region)
    if region == client.region:
        return client
    clone = copy.copy(client)
    clone.region = region
    if client.server_url == _endpoints.base_url(client.region):  # Google's regional host: follow the region
        clone.server_url = _endpoints.base_url(region)
    return clone


def _without_429(policy: Optional[RetryConfig]) -> Optional[RetryConfig]:
    """The client's policy, minus retrying 429 in place (another region is tried instead)."""
    if policy is None or policy.strategy != "backoff":
        return policy
    if policy.status_codes_override:
        codes = [c for c in policy.status_codes_override if c != "429"]
        if any(c.upper() == "4XX" for c in codes):
            codes = [c for c in codes if c.upper() != "4XX"] + [str(c) for c in range(400, 500) if c != 429]
    else:
        codes = [str(c) for c in sorted(RETRYABLE_STATUS - {429})]
    return RetryConfig(policy.strategy, policy.backoff, policy.retry_connection_errors, codes, max_retries=policy.max_retries)


# ---------------------------------------------------------------- the run


class _Run:
    def __init__(self, client: Any, regions: Sequence[str], limits: _Limits, model: Optional[str]) -> None:
        names = list(regions) or [client.region]
        self.clients = [(name, _in_region(client, name)) for name in names]
        self.policy = client.retry_config
        self.failover_policy = _without_429(self.policy)
        self.limits = limits
        self.model = model
        self._turn = itertools.count()

    async def outcome(self, item: _Item) -> Dict[str, Any]:
        record: Dict[str, Any] = {"custom_id": item.key[1]} if item.key[0] == "id" else {}
        record["line"] = item.line
        kind = _kind(item.body) if item.problem is None else None
        if kind is None:
            problem = item.problem or "not a chat (messages), FIM (prompt) or OCR (document) request"
            record["error"] = {"type": "InvalidInputLine", "message": problem, "status": None}
            return record
        params = {k: v for k, v in item.body.items() if k != "custom_id"}
        if self.model and "model" not in params:
            params["model"] = self.model
        estimate = estimate_tokens(item.text)
        wait = self.limits.reserve(estimate)
        if wait:
            await asyncio.sleep(wait)
        try:
            region, response = await self._send(kind, params)
        except FATAL:
            raise
        except MistralGCPError as exc:
            record["error"] = {"type": type(exc).__name__, "message": str(exc), "status": getattr(exc, "status_code", None)}
            return record
        usage = getattr(response, "usage", None) or getattr(response, "usage_info", None)
        used = getattr(usage, "total_tokens", 0) or 0
        self.limits.settle(estimate, used)
        record["region"] = region
        record["response"] = response.model_dump(mode="json", by_alias=True, exclude_unset=True)
        record["usage"] = usage.model_dump(mode="json", exclude_none=True) if usage is not None else None
        return record

    async def _send(self, kind: str, params: Dict[str, Any]) -> Tuple[str, Any]:
        namespace, method, _ = OPERATIONS[kind]
        if len(self.clients) == 1:
            region, client = self.clients[0]
            return region, await _method(client, namespace, method)(**params)
        policy = params["retries"] if "retries" in params else self.policy
        failover = dict(params, retries=_without_429(policy) if "retries" in params else self.failover_policy)
        retry = RetryState(policy, time.monotonic, time.time)
        first = next(self._turn)
        while True:
            for step in range(len(self.clients)):
                region, client = self.clients[(first + step) % len(self.clients)]
                try:
                    return region, await _method(client, namespace, method)(**dict(failover))
                except RateLimitError as exc:
                    last = exc
            delay = retry.after_status(429, last.headers)  # every region is busy: the client's policy decides
            if delay is None:
                raise last
            await asyncio.sleep(delay)


def _method(client: Any, namespace: str, method: str) -> Callable[..., Any]:
    target = getattr(client, namespace, None)
    if target is None:
        raise ConfigurationError(f"this client has no {namespace!r} operations")
    return getattr(target, method)


async def run_async(
    client: Any,
    input: PathLike,
    output: PathLike,
    *,
    concurrency: int = 8,
    rpm: Optional[float] = None,
    tpm: Optional[float] = None,
    regions: Sequence[str] = (),
    model: Optional[str] = None,
    retry_failed: bool = False,
    on_progress: Optional[Callable[[Summary], None]] = None,
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Send every request of ``input`` not yet in ``output``; append each result to ``output``.

    ``model`` fills in requests that name none. ``on_progress(summary)`` runs at the start and
    after each result. Credentials and configuration errors stop the run (they would fail
    every request); every other error is written as that request's result.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    source, target = Path(input), Path(output)
    journal = _Journal(target, retry_failed)
    try:
        todo, skipped = _scan(source, journal.done)
        summary = Summary(total=todo, skipped=skipped, skipped_failed=journal.failed_before)
        work = _Run(client, regions, _Limits(rpm, tpm, clock), model)
        pending = (item for item in _read(source) if item.key not in journal.done)
        if on_progress:
            on_progress(summary)

        async def worker() -> None:
            for item in pending:  # one shared iterator: each item goes to exactly one worker
                record = await work.outcome(item)
                journal.write(record)  # no await between the result and its line: never half-written
                if "error" in record:
                    summary.failed += 1
                else:
                    summary.ok += 1
                    summary.tokens += (record.get("usage") or {}).get("total_tokens", 0)
                if on_progress:
                    on_progress(summary)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, max(todo, 1)))]
        try:
            await asyncio.gather(*workers)
        except BaseException as exc:
            summary.interrupted = isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            summary.finished = time.monotonic()
    finally:
        journal.close()
    return summary


def run(client: Any, input: PathLike, output: PathLike, **options: Any) -> Summary:
    """``run_async`` for synchronous code (it runs its own event loop). Same arguments."""
    return asyncio.run(run_async(client, input, output, **options))
