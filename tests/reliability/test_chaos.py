"""Chaos: 2,000 mixed calls under random faults; each ends complete and correct, or as a typed error.

One ``MistralGCP`` serves 16 threads (sync calls) and, at the same time, asyncio tasks behind a
semaphore (async calls): chat and FIM, complete and stream. The emulator injects, at random
(seeded) rates: 429, 500 and 503 answers, latency, slow chunks, streams cut mid-way, streams
without ``[DONE]``, and stalls (no answer at all); every 200th threaded call also expires every
token, so the service-account credentials go through 401 → refresh → retry, in threads and tasks.

Every call carries an ``x-chaos-call`` header, so the emulator's records tell, per call, which
attempts were made and what each was answered. From those records the test checks the promise:

- a success equals the fault-free reference answer for the same request (the emulator is
  deterministic), streams included;
- a failure is one of the SDK's typed errors, and the one the last attempt explains;
- retries follow the policy: only after a retryable answer or a stall, at most ``max_retries``
  (the one refresh-and-retry after a 401 aside), and fewer only when the time budget was spent;
- no call takes longer than its retry budget plus one timed-out attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from google.oauth2 import service_account

from mistral_gcp import MistralGCP, errors
from mistral_gcp.utils import BackoffStrategy, RetryConfig

from helpers import CHAT_MODEL, FIM_MODEL

THREADS = 16
THREAD_CALLS = 1_200
ASYNC_CALLS = 800
ASYNC_CONCURRENCY = 32
EXPIRE_EVERY = 200  # every 200th threaded call expires all tokens first (async calls run meanwhile)
TIMEOUT_S = 2.0
MAX_RETRIES = 3
BUDGET_S = 3.0
POLICY = RetryConfig("backoff", BackoffStrategy(1, 20, 2.0, int(BUDGET_S * 1000)), True, max_retries=MAX_RETRIES)
#: The longest a call may take: retries stop starting after the budget, and the last attempt
#: may then wait one full timeout; a token refresh and a loaded 2-core machine get 1 s more.
CALL_BOUND_S = BUDGET_S + TIMEOUT_S + 1.0
STALL_GAP_S = 1.5  # attempts of one call this far apart: the earlier one stalled until the timeout
FOREVER = 1_000_000  # fault rules count down from here, so "fired" = FOREVER - times left

KINDS = ("chat.complete", "chat.stream", "fim.complete", "fim.stream")
PROMPTS = 6
FAULTS: Dict[str, Dict[str, Any]] = {
    "429": {"status": 429, "rate": 0.06},
    "500": {"status": 500, "rate": 0.03},
    "503": {"status": 503, "rate": 0.03},
    "latency 3 ms": {"latency_ms": 3, "rate": 0.2},
    "slow chunks": {"chunk_delay_ms": 1, "rate": 0.1, "method": "streamRawPredict"},
    "cut stream": {"cut_after": 2, "rate": 0.04, "method": "streamRawPredict"},
    "no [DONE]": {"no_done": True, "rate": 0.03, "method": "streamRawPredict"},
    "stall": {"hang": True, "rate": 0.004},
}
STALLED = 0  # the status of a stall's record while the emulator has not yet seen the client leave
RETRYABLE = {429, 500, 503, STALLED}
#: what the last attempt's status says about how a failed call ended
ERROR_FOR_STATUS = {
    429: (errors.RateLimitError,),
    500: (errors.ServerError,),
    503: (errors.ServiceUnavailableError, errors.APITimeoutError),  # a stall is answered 503 once the client left
    401: (errors.AuthenticationError,),
    200: (errors.IncompleteStreamError,),  # a stream cut or left without [DONE]
    STALLED: (errors.APITimeoutError,),
}


@dataclass
class Outcome:
    call: int
    kind: str
    mode: str
    answer: Any = None
    error: Optional[BaseException] = None
    seconds: float = 0.0


def _request(kind: str, prompt: int) -> Tuple[str, str, Dict[str, Any]]:
    namespace, method = kind.split(".")
    if namespace == "chat":
        params: Dict[str, Any] = {
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": f"Chaos question {prompt}: name a colour and a fruit."}],
        }
    else:
        params = {"model": FIM_MODEL, "prompt": f"def chaos_{prompt}(x):\n    ", "suffix": "\n    return y"}
    return namespace, method, {**params, "max_tokens": 24}


def _answer_of_completion(res: Any) -> Tuple[Any, ...]:
    choice = res.choices[0]
    return choice.message.content, choice.finish_reason, res.usage.model_dump(), res.model


def _answer_of_events(events: List[Any]) -> Tuple[Any, ...]:
    chunks = [e.data for e in events]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = [c.usage.model_dump() for c in chunks if c.usage is not None]
    return text, finish[-1] if finish else None, usage[-1] if usage else None, chunks[-1].model


def _call_sync(client: MistralGCP, kind: str, prompt: int, tag: Dict[str, str]) -> Tuple[Any, ...]:
    namespace, method, params = _request(kind, prompt)
    target = getattr(client, namespace)
    if method == "complete":
        return _answer_of_completion(target.complete(**params, http_headers=tag))
    with target.stream(**params, http_headers=tag) as events:
        return _answer_of_events(list(events))


async def _call_async(client: MistralGCP, kind: str, prompt: int, tag: Dict[str, str]) -> Tuple[Any, ...]:
    namespace, method, params = _request(kind, prompt)
    target = getattr(client, namespace)
    if method == "complete":
        return _answer_of_completion(await target.complete_async(**params, http_headers=tag))
    events = await target.stream_async(**params, http_headers=tag)
    async with events:
        return _answer_of_events([e async for e in events])


def _plan(call: int) -> Tuple[str, int]:
    return KINDS[call % len(KINDS)], (call // len(KINDS)) % PROMPTS


def _run_chaos(emulator: Any, client: MistralGCP) -> List[Outcome]:
    """Run every call; the thread pool and the event loop work at the same time."""

    def thread_call(call: int) -> Outcome:
        out = Outcome(call, _plan(call)[0], "thread")
        if call % EXPIRE_EVERY == EXPIRE_EVERY - 1:
            emulator.expire_tokens()
        started = time.monotonic()
        try:
            out.answer = _call_sync(client, out.kind, _plan(call)[1], {"x-chaos-call": str(call)})
        except Exception as exc:
            out.error = exc
        out.seconds = time.monotonic() - started
        return out

    async def async_calls() -> List[Outcome]:
        gate = asyncio.Semaphore(ASYNC_CONCURRENCY)

        async def async_call(call: int) -> Outcome:
            async with gate:
                out = Outcome(call, _plan(call)[0], "async")
                started = time.monotonic()
                try:
                    out.answer = await _call_async(client, out.kind, _plan(call)[1], {"x-chaos-call": str(call)})
                except Exception as exc:
                    out.error = exc
                out.seconds = time.monotonic() - started
                return out

        # the loop's own HTTP client is closed by asyncio.run() (aclose() would close the threads' one too)
        return list(await asyncio.gather(*(async_call(THREAD_CALLS + i) for i in range(ASYNC_CALLS))))

    with ThreadPoolExecutor(THREADS) as pool:
        threaded = pool.map(thread_call, range(THREAD_CALLS))
        awaited = asyncio.run(async_calls())
        return list(threaded) + awaited


def _references(client: MistralGCP) -> Dict[Tuple[str, int], Tuple[Any, ...]]:
    return {(kind, p): _call_sync(client, kind, p, {}) for kind in KINDS for p in range(PROMPTS)}


def test_two_thousand_calls_under_chaos_end_complete_or_typed(emulator):
    credentials = service_account.Credentials.from_service_account_info(emulator.service_account_info())
    client = MistralGCP(
        project_id=emulator.project,
        region=emulator.region,
        credentials=credentials,
        server_url=emulator.url,
        retry_config=POLICY,
        timeout_ms=int(TIMEOUT_S * 1000),
    )
    references = _references(client)
    emulator.reset()
    rules = {name: emulator.inject(times=FOREVER, **spec) for name, spec in FAULTS.items()}

    outcomes = _run_chaos(emulator, client)
    client.close()

    fired = {name: FOREVER - rule.times for name, rule in rules.items()}
    attempts: Dict[int, List[Any]] = defaultdict(list)
    for record in emulator.requests:
        if "x-chaos-call" in record.headers:
            attempts[int(record.headers["x-chaos-call"])].append(record)
    token_grants = sum(1 for r in emulator.requests if r.path == "/token")

    retried = refreshed = 0
    failures: Counter = Counter()
    for out in outcomes:
        tries = attempts[out.call]
        statuses = [r.status for r in tries]
        context = f"call {out.call} ({out.kind}, {out.mode}): statuses {statuses}, error {out.error!r}"
        assert tries, context
        refreshes = statuses[:-1].count(401)
        assert refreshes <= 1, context  # one refresh-and-retry per call
        assert all(  # the retry after a 401 carried a new token
            later.token != rejected.token for rejected, later in zip(tries, tries[1:]) if rejected.status == 401
        ), context
        retries = len(tries) - 1 - refreshes
        assert retries <= MAX_RETRIES, context
        assert all(s in RETRYABLE or s == 401 for s in statuses[:-1]), context  # retried only what may be
        assert out.seconds <= CALL_BOUND_S, context
        retried += retries > 0
        refreshed += refreshes
        if out.error is None:
            assert statuses[-1] == 200, context
            assert out.answer == references[(out.kind, _plan(out.call)[1])], context
            continue
        failures[type(out.error).__name__] += 1
        assert isinstance(out.error, ERROR_FOR_STATUS[statuses[-1]]), context
        if isinstance(out.error, errors.IncompleteStreamError):
            assert out.kind.endswith("stream"), context  # no retry once a stream has started: no replay
        elif isinstance(out.error, errors.AuthenticationError):
            assert statuses.count(401) == 2, context  # a second 401 after the refresh
        elif retries < MAX_RETRIES:  # gave up early: only because the time budget was spent on a stall
            assert tries[-1].time - tries[0].time >= STALL_GAP_S or isinstance(out.error, errors.APITimeoutError), context

    total = len(outcomes)
    succeeded = sum(out.error is None for out in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(
        f"\nchaos: {total} calls ({THREAD_CALLS} from {THREADS} threads, {ASYNC_CALLS} async), "
        f"{sum(len(a) for a in attempts.values())} attempts, {token_grants} token grants\n"
        f"  tokens expired {THREAD_CALLS // EXPIRE_EVERY} times\n"
        f"  faults injected: {dict(fired)}\n"
        f"  retried: {retried} calls; 401 refreshed: {refreshed}\n"
        f"  succeeded: {succeeded}; failed by type: {dict(failures)}\n"
        f"  slowest: {slowest.seconds:.2f} s (call {slowest.call}, {slowest.kind}, {slowest.mode}, "
        f"statuses {[r.status for r in attempts[slowest.call]]})"
    )

    assert total == THREAD_CALLS + ASYNC_CALLS == 2_000
    assert all(fired.values()), fired  # every kind of fault really happened
    expiries = THREAD_CALLS // EXPIRE_EVERY
    assert refreshed >= expiries  # each expiry reached at least one call, which refreshed and went on
    assert 1 <= token_grants <= expiries  # single flight: however many calls saw a 401, one grant per expiry
    assert retried >= 1
    assert succeeded >= total * 0.8
    assert failures["IncompleteStreamError"] <= fired["cut stream"] + fired["no [DONE]"]  # never without a cause
    assert failures["APITimeoutError"] <= fired["stall"]
    assert sum(failures.values()) == total - succeeded
    assert set(failures) <= {"RateLimitError", "ServerError", "ServiceUnavailableError", "APITimeoutError",
                             "IncompleteStreamError", "AuthenticationError"}
