"""Retries: on by default, configurable per client and per call, honouring the server's delay within limits."""

from __future__ import annotations

import pytest

from mistral_gcp import errors
from mistral_gcp._retry import DEFAULT_RETRY_CONFIG, RetryState, retry_after_ms
from mistral_gcp.utils import BackoffStrategy, RetryConfig

from helpers import CHAT_MODEL, USER

FAST = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 2_000), True)


def test_default_retries_twice_on_retryable_statuses(emulator, both):
    assert DEFAULT_RETRY_CONFIG.max_retries == 2
    emulator.inject(status=503, times=1)
    emulator.inject(status=429, times=1)
    client = emulator.client(retry_config=RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 5_000), True, max_retries=2))
    res = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert res.choices
    assert [r.status for r in emulator.requests] == [503, 429, 200]


def test_default_config_gives_up_after_two_retries(emulator, both, monkeypatch):
    monkeypatch.setattr("mistral_gcp._retry.DEFAULT_RETRY_CONFIG.backoff", BackoffStrategy(1, 2, 1.0, 5_000))
    emulator.inject(status=500, times=None)
    with pytest.raises(errors.ServerError):
        both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [r.status for r in emulator.requests] == [500, 500, 500]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_non_retryable_statuses_are_not_retried(emulator, both, status):
    emulator.inject(status=status, times=1)
    with pytest.raises(errors.SDKError):
        both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER, retries=FAST)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("off", [RetryConfig("none"), None])
def test_retries_can_be_turned_off_per_call(emulator, both, off):
    emulator.inject(status=503, times=1)
    with pytest.raises(errors.ServiceUnavailableError):
        both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER, retries=off)
    assert len(emulator.requests) == 1


def test_retries_can_be_turned_off_per_client(emulator, both):
    emulator.inject(status=503, times=1)
    with pytest.raises(errors.ServiceUnavailableError):
        both.call(emulator.client(retry_config=None).chat, "complete", model=CHAT_MODEL, messages=USER)
    assert len(emulator.requests) == 1


def test_per_call_config_overrides_the_client_one(emulator, both):
    emulator.inject(status=502, times=3)
    client = emulator.client(retry_config=None)
    res = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, retries=FAST)
    assert res.choices and [r.status for r in emulator.requests] == [502, 502, 502, 200]


def test_streams_are_retried_before_the_first_byte(emulator, both):
    emulator.inject(status=503, times=2, method="streamRawPredict")
    events = both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER, retries=FAST)
    assert events and [r.status for r in emulator.requests] == [503, 503, 200]


def test_connection_errors_are_retried_only_when_enabled(both):
    from mistral_gcp import MistralGCP
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    attempts = []
    client = MistralGCP(project_id="p", access_token="t", server_url=f"http://127.0.0.1:{port}")
    for enabled in (True, False):
        config = RetryConfig("backoff", BackoffStrategy(1, 2, 1.0, 2_000), enabled, max_retries=3)
        state = RetryState(config, lambda: 0.0, lambda: 0.0, lambda: 0.0)
        attempts.append(sum(1 for _ in iter(lambda: state.after_connection_error(), None)))
        with pytest.raises(errors.APIConnectionError):
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, retries=config)
    assert attempts == [3, 0]


# ---------------------------------------------------------------- the pure policy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter():
    clock = Clock()
    config = RetryConfig("backoff", BackoffStrategy(100, 1_000, 2.0, 60_000, jitter_ms=0), True)
    state = RetryState(config, clock, clock, lambda: 1.0)
    delays = [state.after_status(503, {}) for _ in range(6)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittered = RetryState(RetryConfig("backoff", BackoffStrategy(100, 1_000, 2.0, 60_000, jitter_ms=50), True), clock, clock, lambda: 1.0)
    assert jittered.after_status(503, {}) == pytest.approx(0.15)


def test_retry_after_is_honoured_but_never_past_the_elapsed_budget():
    clock = Clock()
    config = RetryConfig("backoff", BackoffStrategy(100, 1_000, 2.0, 10_000), True)
    state = RetryState(config, clock, clock, lambda: 0.0)
    assert state.after_status(429, {"retry-after": "3"}) == 3.0
    assert state.after_status(429, {"retry-after-ms": "250"}) == 0.25
    clock.now = 8.0
    assert state.after_status(429, {"retry-after": "5"}) is None  # 8 s + 5 s > 10 s allowed
    clock.now = 11.0
    assert state.after_status(503, {}) is None


def test_retry_after_http_date():
    assert retry_after_ms({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, lambda: 1445412485.0) == 5000.0
    assert retry_after_ms({"retry-after": "soon"}, lambda: 0.0) is None


def test_status_codes_override_patterns():
    clock = Clock()
    config = RetryConfig("backoff", BackoffStrategy(1, 1, 1.0, 1_000), False, ["409", "5XX"])
    state = RetryState(config, clock, clock, lambda: 0.0)
    assert state.after_status(409, {}) is not None
    assert state.after_status(599, {}) is not None
    assert state.after_status(429, {}) is None


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryConfig("sometimes", BackoffStrategy(1, 1, 1, 1), True)
    with pytest.raises(ValueError):
        BackoffStrategy(-1, 1, 1.0, 1)
