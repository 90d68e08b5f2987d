"""Resource hygiene: file descriptors, connections and memory stay flat; streams and clients let go.

Measured, not assumed:
- file descriptors: the entries of ``/proc/self/fd``;
- connections: the TCP sockets to the emulator's port in ``/proc/net/tcp`` (ESTABLISHED ones are
  held open; many TIME_WAIT ones would mean a new connection per call instead of a reused one);
- memory: ``tracemalloc``'s traced total at two points of the last stretch of calls (tracing
  makes calls ~4x slower, so it covers the last 4,000 of 10,000 calls and the last 500 of 1,000
  clients): what is measured is growth, which must not scale with the number of calls.

The emulator runs in this process (its allocations are traced too), keeping only its last 200
request records so that its own bookkeeping stays flat.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
import weakref
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest

from mistral_gcp import MistralGCP, errors

from helpers import CHAT_MODEL, FIM_MODEL, USER

FIM = {"model": FIM_MODEL, "prompt": "def f(x):\n    ", "max_tokens": 8}
CHAT = {"model": CHAT_MODEL, "messages": USER, "max_tokens": 8}
FD_SLACK = 8
MEMORY_SLACK = 512 * 1024  # bytes of growth allowed between the two measuring points


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sockets_to(port: int) -> Dict[str, int]:
    """Our TCP sockets whose remote end is ``port``, by state (IPv4 loopback is all we use)."""
    states = {"01": "established", "06": "time_wait", "08": "close_wait"}
    counts: Dict[str, int] = {name: 0 for name in states.values()}
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] in states:
                counts[states[fields[3]]] += 1
    return counts


def emulator_port(emulator: Any) -> int:
    return int(emulator.url.rsplit(":", 1)[1])


@pytest.fixture
def lean_emulator(emulator: Any) -> Iterator[Any]:
    emulator.configure(record_limit=200)
    yield emulator


def measured(run: Callable[[int], None], warm_up: int, first: int, second: int) -> Tuple[int, int]:
    """Memory growth (bytes) over ``first`` and then over ``second`` more runs, after a warm-up."""
    run(warm_up)
    gc.collect()
    tracemalloc.start()
    try:
        run(first)
        gc.collect()
        after_first = tracemalloc.get_traced_memory()[0]
        run(second)
        gc.collect()
        after_second = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after_first, after_second


def test_ten_thousand_calls_keep_fds_connections_and_memory_flat(lean_emulator):
    emulator = lean_emulator
    client = emulator.client()
    fds_before = open_fds()
    churned_before = sum(sockets_to(emulator_port(emulator)).values())  # earlier tests' TIME_WAITs linger 60 s

    def sync_calls(n: int) -> None:
        for i in range(n):
            if i % 2:
                with client.chat.stream(**CHAT) as events:
                    assert list(events)
            else:
                assert client.fim.complete(**FIM).choices

    async def async_calls(n: int) -> None:
        for i in range(n):
            if i % 2:
                events = await client.fim.stream_async(**FIM)
                async with events:
                    assert [e async for e in events]
            else:
                assert (await client.chat.complete_async(**CHAT)).choices

    def calls(n: int) -> None:  # half sync, half async on one loop (the client keeps one pool per loop)
        sync_calls(n // 2)
        asyncio.run(async_calls(n - n // 2))

    first, second = measured(calls, warm_up=6_000, first=500, second=3_500)
    sockets = sockets_to(emulator_port(emulator))
    fds_after = open_fds()
    client.close()
    print(f"\n10,000 calls: fds {fds_before} -> {fds_after}; sockets {sockets}; traced {first} -> {second} bytes")

    assert fds_after <= fds_before + FD_SLACK
    assert sockets["established"] <= 2  # one kept-alive connection per pool (sync; async closed with its loop)
    assert sum(sockets.values()) - churned_before <= 20  # connections were reused, not churned
    assert second - first <= MEMORY_SLACK  # 3,500 more calls, no more memory (< 150 bytes a call)
    assert len({r.client_port for r in emulator.requests}) <= 2


def test_a_thousand_dropped_clients_leave_nothing_behind(lean_emulator):
    emulator = lean_emulator
    port = emulator_port(emulator)
    fds_before = open_fds()
    established_before = sockets_to(port)["established"]
    collected = []

    def one_client(i: int) -> None:
        client = emulator.client()
        if i % 2:
            assert asyncio.run(client.fim.complete_async(**FIM)).choices
        else:
            assert client.chat.complete(**CHAT).choices
        weakref.finalize(client, collected.append, i)  # no close(): the client is just dropped

    def clients(n: int) -> None:
        for i in range(n):
            one_client(i)

    first, second = measured(clients, warm_up=500, first=100, second=400)
    fds_after = open_fds()
    established = sockets_to(port)["established"]
    print(f"\n1,000 dropped clients: fds {fds_before} -> {fds_after}; established {established}; "
          f"traced {first} -> {second} bytes; collected {len(collected)}")

    assert len(collected) == 1_000  # every dropped client was freed (reference counting, no gc needed)
    assert fds_after <= fds_before + FD_SLACK
    assert established <= established_before  # each one closed its connection
    assert second - first <= MEMORY_SLACK


def test_a_dropped_client_is_freed_without_the_garbage_collector(emulator, both):
    client = emulator.client()
    both.call(client.chat, "complete", **CHAT)
    ref = weakref.ref(client)
    gc.disable()
    try:
        del client
        assert ref() is None  # no reference cycle keeps it (or its pools) alive
    finally:
        gc.enable()


@pytest.mark.parametrize("how", ["break", "abandon", "error"])
def test_early_broken_and_abandoned_streams_give_their_connection_back(emulator, both, how):
    """With a pool of one connection, a stream that kept its connection would block the next call
    until the pool timeout: 200 streams in a row prove each one gave it back."""
    emulator.configure(record_limit=300)
    port = emulator_port(emulator)
    fds_before = open_fds()
    client = emulator.client(max_connections=1, timeout_ms=2_000)
    if how == "error":
        emulator.inject(cut_after=2, method="streamRawPredict", times=None)
    kw = dict(model=CHAT_MODEL, messages=USER, max_tokens=40)

    def sync_run() -> Any:
        for _ in range(200):
            stream = client.chat.stream(**kw)
            if how == "break":
                for _event in stream:
                    break
            elif how == "abandon":
                next(stream)
            else:
                with pytest.raises(errors.IncompleteStreamError):
                    list(stream)
            del stream
        emulator.faults.clear()
        return client.chat.complete(**kw)

    async def async_run() -> Any:
        for _ in range(200):
            stream = await client.chat.stream_async(**kw)
            if how == "break":
                async for _event in stream:
                    break
            elif how == "abandon":
                await stream.__anext__()
            else:
                with pytest.raises(errors.IncompleteStreamError):
                    [e async for e in stream]
            del stream  # no aclose(): the event loop finalises the abandoned iterator
        emulator.faults.clear()
        return await client.chat.complete_async(**kw)

    assert both.run(sync_run, async_run).choices
    assert len(emulator.requests) == 201
    client.close()
    assert open_fds() <= fds_before + FD_SLACK
    assert sockets_to(port)["established"] <= 1
