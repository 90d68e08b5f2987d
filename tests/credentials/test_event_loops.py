"""One client object serves successive ``asyncio.run()`` calls, several threads, and both at once."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

from helpers import CHAT_MODEL, USER

from .conftest import predictions, to_emulator, token_requests


def test_successive_asyncio_runs_share_one_client_and_leave_no_open_sockets(emulator, adc):
    client = to_emulator(emulator)

    async def one_call():
        reply = await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
        return reply.choices[0].message.content

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            assert asyncio.run(one_call())
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []  # each loop's connections were closed when its asyncio.run() ended
    assert len(predictions(emulator)) == 5
    assert len(token_requests(emulator)) == 1  # credentials outlive the loops


def test_a_loop_closed_by_hand_is_cleaned_up_by_the_next_one(emulator, adc):
    client = to_emulator(emulator)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
    loop.close()  # without shutdown_asyncgens(): the SDK notices on the next loop
    assert asyncio.run(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
    assert [r.status for r in predictions(emulator)] == [200, 200]


def test_threads_with_their_own_loops_and_sync_calls_share_one_client(emulator, adc):
    client = to_emulator(emulator)
    start = threading.Barrier(8)
    errors = []

    def work(use_async: bool) -> None:
        start.wait()
        try:
            for _ in range(3):
                if use_async:
                    asyncio.run(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
                else:
                    client.chat.complete(model=CHAT_MODEL, messages=USER)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.status for r in predictions(emulator)] == [200] * 24
    assert len(token_requests(emulator)) == 1


def test_aclose_in_one_run_then_use_in_the_next(emulator, adc):
    client = to_emulator(emulator)

    async def call_and_close():
        async with client:
            await client.chat.complete_async(model=CHAT_MODEL, messages=USER)

    asyncio.run(call_and_close())
    asyncio.run(call_and_close())  # a closed client reopens what it owns on the next call
    assert [r.status for r in predictions(emulator)] == [200, 200]
