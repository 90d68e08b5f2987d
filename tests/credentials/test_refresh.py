"""Refresh: by google-auth's validity rules, single-flight across threads and tasks, off the event
loop, once more after a 401, and a typed error (then a fresh attempt) when it fails."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from mistral_gcp.errors import AuthenticationError, CredentialsError

from helpers import CHAT_MODEL, USER

from .conftest import kinds, predictions, statuses, to_emulator, token_requests

CALLS = 100


def leave_a_token_to_refresh(emulator, client, how: str) -> None:
    """Bring ``client`` to a state where its token must be refreshed, one of three ways."""
    if how == "no token yet":
        return
    if how == "stale":  # within google-auth's 3m45s threshold: used while one refresh runs behind
        emulator.configure(token_lifetime=100)
        client.chat.complete(model=CHAT_MODEL, messages=USER)
        emulator.configure(token_lifetime=3599)
    elif how == "rejected":  # valid by the client's clock, expired on the service: every call gets a 401
        client.chat.complete(model=CHAT_MODEL, messages=USER)
        emulator.expire_tokens()


HOW = ["no token yet", "stale", "rejected"]


@pytest.mark.parametrize("how", HOW)
def test_concurrent_async_calls_share_one_refresh(emulator, sa_credentials, how):
    client = to_emulator(emulator, credentials=sa_credentials())
    leave_a_token_to_refresh(emulator, client, how)
    before = len(token_requests(emulator))

    async def main():
        return await asyncio.gather(*(client.chat.complete_async(model=CHAT_MODEL, messages=USER) for _ in range(CALLS)))

    replies = asyncio.run(main())
    assert len(replies) == CALLS and all(r.choices[0].message.content for r in replies)
    assert len(token_requests(emulator)) - before == 1


@pytest.mark.parametrize("how", HOW)
def test_concurrent_threads_share_one_refresh(emulator, sa_credentials, how):
    emulator.configure(token_latency_ms=200)  # every thread arrives while the refresh is in flight
    client = to_emulator(emulator, credentials=sa_credentials())
    leave_a_token_to_refresh(emulator, client, how)
    before = len(token_requests(emulator))
    start = threading.Barrier(16)
    errors = []

    def call():
        start.wait()
        try:
            client.chat.complete(model=CHAT_MODEL, messages=USER)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(token_requests(emulator)) - before == 1


def test_the_event_loop_keeps_running_while_a_slow_token_endpoint_answers(emulator, adc):
    emulator.configure(token_latency_ms=600)
    client = to_emulator(emulator)
    ticks = []

    async def main():
        async def ticker():
            while True:
                ticks.append(time.time())
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
        ticking.cancel()

    asyncio.run(main())
    token, predict = token_requests(emulator)[0], predictions(emulator)[0]
    # the emulator stamps arrival times on the wall clock (its offset is 0 after reset)
    while_waiting = [t for t in ticks if token.time <= t <= predict.time]
    gaps = [b - a for a, b in zip(while_waiting, while_waiting[1:])]
    # ~60 ticks fit in the 600 ms the token endpoint takes; a blocked loop would manage one
    assert len(while_waiting) >= 20, f"{len(while_waiting)} ticks, largest gap {max(gaps, default=0) * 1000:.0f} ms"


def test_a_401_forces_one_refresh_and_one_retry(emulator, both, sa_credentials):
    client = to_emulator(emulator, credentials=sa_credentials())
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    emulator.expire_tokens()  # the client still thinks its token is good for an hour
    reply = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert reply.choices[0].message.content
    assert kinds(emulator) == ["token 200", "predict 200", "predict 401", "token 200", "predict 200"]
    first, rejected, retried = predictions(emulator)
    assert rejected.token == first.token != retried.token


def test_a_401_on_a_stream_is_refreshed_too(emulator, both, sa_credentials):
    client = to_emulator(emulator, credentials=sa_credentials())
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    emulator.expire_tokens()
    events = both.stream(client.chat, model=CHAT_MODEL, messages=USER)
    assert events
    assert kinds(emulator)[-3:] == ["stream 401", "token 200", "stream 200"]


def test_a_second_401_is_an_authentication_error(emulator, both):
    asked = []

    def provider() -> str:
        asked.append(1)
        return "ya29.never-issued"

    client = to_emulator(emulator, access_token=provider, project_id="p1")
    with pytest.raises(AuthenticationError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert caught.value.reason == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    assert len(asked) == 2  # asked again after the first 401, once
    assert statuses(predictions(emulator)) == [401, 401]


def test_a_fixed_token_is_not_retried_on_401(emulator, both):
    client = to_emulator(emulator, access_token=emulator.issue_token(), project_id="p1")
    emulator.expire_tokens()
    with pytest.raises(AuthenticationError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert caught.value.reason == "ACCESS_TOKEN_EXPIRED"
    assert statuses(predictions(emulator)) == [401]


def test_a_failed_refresh_is_a_typed_error_and_the_next_call_tries_again(emulator, both, sa_credentials):
    client = to_emulator(emulator, credentials=sa_credentials())
    emulator.configure(token_error="invalid_grant")
    with pytest.raises(CredentialsError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert "invalid_grant" in caught.value.reason
    assert "invalid_grant" in str(caught.value)
    emulator.configure(token_error="")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 400", "token 200", "predict 200"]


def test_a_failed_refresh_fails_every_waiter_once(emulator, sa_credentials):
    emulator.configure(token_error="invalid_grant", token_latency_ms=100)
    client = to_emulator(emulator, credentials=sa_credentials())

    async def main():
        calls = (client.chat.complete_async(model=CHAT_MODEL, messages=USER) for _ in range(20))
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(o, CredentialsError) for o in outcomes)
    assert kinds(emulator) == ["token 400"]


def test_a_stale_refresh_that_fails_does_not_fail_the_call(emulator, both, sa_credentials):
    client = to_emulator(emulator, credentials=sa_credentials())
    leave_a_token_to_refresh(emulator, client, "stale")
    emulator.configure(token_error="invalid_grant")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)  # the stale token still works
    assert predictions(emulator)[-1].status == 200


def test_a_cancelled_waiter_does_not_cancel_the_refresh_others_wait_for(emulator, sa_credentials):
    emulator.configure(token_latency_ms=300)
    client = to_emulator(emulator, credentials=sa_credentials())

    async def main():
        tasks = [asyncio.create_task(client.chat.complete_async(model=CHAT_MODEL, messages=USER)) for _ in range(5)]
        await asyncio.sleep(0)  # each task has run up to its wait for the one refresh
        tasks[0].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert all(o.choices[0].message.content for o in outcomes[1:])
    assert len(token_requests(emulator)) == 1


def test_no_token_in_logs_errors_or_reprs(emulator, both, sa_credentials, caplog):
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, google-auth's
    client = to_emulator(emulator, credentials=sa_credentials())
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    emulator.expire_tokens()
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    emulator.configure(token_error="invalid_grant")
    emulator.expire_tokens()
    with pytest.raises(CredentialsError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    tokens = {r.token for r in predictions(emulator)}
    assert len(tokens) == 2
    shown = "\n".join([caplog.text, repr(client), str(caught.value), repr(caught.value), str(caught.value.reason)])
    for token in tokens:
        assert token not in shown
