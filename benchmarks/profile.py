"""Where the time goes: one workload, looped for a few seconds under py-spy, and its top costs.

    python benchmarks/profile.py mistral_gcp complete_async [--seconds 6] [--top 25]
    python benchmarks/profile.py httpx stream_sync

Clients: ``mistral_gcp`` or ``httpx`` (the floor, the same hand-written calls as ``workloads.py``).
Workloads: ``complete_sync``, ``complete_async`` (64 tasks), ``stream_sync``, ``stream_async``
(20,001-chunk streams, one after another). The emulator runs in its own process, as in
``run.py``. The worker warms up (connections open, lazy imports done), then ``py-spy record
-r 1000 -f raw --pid`` attaches and samples it; the summary prints, per function (lines merged),
its share of the samples: inclusive (the function and what it calls) and self (its own code).
Needs py-spy (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402
from emulator_speed import start_server  # noqa: E402

KINDS = {"mistral_gcp": workloads.Ours, "httpx": workloads.Floor}
WARM_UP_S = 0.5


def loop(kind, client, workload: str, seconds: float) -> int:
    """Sync workloads: calls or chunks done in ``seconds``."""
    deadline = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < deadline:
        if workload == "stream_sync":
            done += kind.stream(client, workloads.LONG_STREAM)
        else:
            kind.complete(client)
            done += 1
    return done


async def aloop(kind, client, workload: str, seconds: float) -> int:
    """Async workloads: 64 tasks of calls, or one stream after another."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def task() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            if workload == "complete_async":
                await kind.complete_async(client)
                done += 1
            else:
                done += await kind.stream_async(client, workloads.LONG_STREAM)

    await asyncio.gather(*[task() for _ in range(workloads.CONCURRENCY if workload == "complete_async" else 1)])
    return done


def worker(client_name: str, workload: str, url: str, seconds: float) -> None:
    """Warm up (connections open, lazy imports done), say ``ready``, then run while py-spy samples."""
    kind = KINDS[client_name]()
    kind.import_client()
    client = kind.construct(url)
    unit = "chunks" if "stream" in workload else "calls"

    def ready() -> float:
        print("ready", flush=True)
        return time.perf_counter()

    if workload.endswith("_async"):
        async def both() -> tuple:
            await aloop(kind, client, workload, WARM_UP_S)
            started = ready()
            return await aloop(kind, client, workload, seconds), started

        done, started = asyncio.run(both())
    else:
        loop(kind, client, workload, WARM_UP_S)
        started = ready()
        done = loop(kind, client, workload, seconds)
    elapsed = time.perf_counter() - started
    print(f"{client_name} {workload}: {done / elapsed:,.0f} {unit}/s while sampled", flush=True)


def summarise(raw: Path, top: int) -> None:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"{total} samples\n\ninclusive:")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("\nself:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client", choices=sorted(KINDS))
    parser.add_argument("workload", choices=["complete_sync", "complete_async", "stream_sync", "stream_async"])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)  # the process py-spy samples
    args = parser.parse_args()
    if args.worker:
        worker(args.client, args.workload, args.worker, args.seconds)
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    server, url = start_server()
    try:
        workloads.Server(url).prepare()
        # The worker runs a little longer than py-spy records, which attaches once the warm-up is over.
        command = [sys.executable, __file__, args.client, args.workload, "--seconds", str(args.seconds + 2), "--worker", url]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("the worker did not start")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            subprocess.run(
                [py_spy, "record", "-r", "1000", "-f", "raw", "-o", str(raw), "--pid", str(process.pid),
                 "--duration", str(int(args.seconds)), "--nonblocking"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            print(process.stdout.read().strip())
            process.wait()
            summarise(raw, args.top)
    finally:
        server.kill()


if __name__ == "__main__":
    main()
