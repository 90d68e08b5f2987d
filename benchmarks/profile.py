"""Where the time goes: one workload, looped for a few seconds under py-spy, and its top costs.

    python benchmarks/profile.py mistral_gcp complete_async [--seconds 6] [--top 25]
    python benchmarks/profile.py httpx stream_sync

Clients: ``mistral_gcp`` or ``httpx`` (the floor, the same hand-written calls as ``workloads.py``).
Workloads: ``complete_sync``, ``complete_async`` (64 tasks), ``stream_sync``, ``stream_async``
(20,001-chunk streams, one after another). The emulator runs in its own process, as in
``run.py``. ``py-spy record -r 1000 -f raw`` samples the worker; the summary counts only samples
inside the measured loop and prints, per function (lines merged), its share of them: inclusive
(the function and what it calls) and self (its own code). Needs ``pip install py-spy``.
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
LOOP_MARK = "measured_loop"  # the frame that marks a sample as inside the loop


def measured_loop(kind, client, workload: str, seconds: float) -> str:
    deadline = time.perf_counter() + seconds
    done = 0
    if workload == "complete_sync":
        while time.perf_counter() < deadline:
            kind.complete(client)
            done += 1
        return f"{done} calls"
    if workload == "stream_sync":
        while time.perf_counter() < deadline:
            done += kind.stream(client, workloads.LONG_STREAM)
        return f"{done} chunks"

    async def run() -> int:
        count = 0

        async def task() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                if workload == "complete_async":
                    await kind.complete_async(client)
                    count += 1
                else:
                    count += await kind.stream_async(client, workloads.LONG_STREAM)

        await asyncio.gather(*[task() for _ in range(workloads.CONCURRENCY if workload == "complete_async" else 1)])
        return count

    return f"{asyncio.run(run())} {'calls' if workload == 'complete_async' else 'chunks'}"


def worker(client_name: str, workload: str, url: str, seconds: float) -> None:
    kind = KINDS[client_name]()
    kind.import_client()
    client = kind.construct(url)
    measured_loop(kind, client, workload, 0.5)  # warm-up: connections open, lazy imports done
    started = time.perf_counter()
    what = measured_loop(kind, client, workload, seconds)
    print(f"{client_name} {workload}: {what} in {time.perf_counter() - started:.1f} s")


def summarise(raw: Path, top: int) -> None:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        if not any(LOOP_MARK in frame for frame in frames):
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"{total} samples inside the loop\n\ninclusive:")
    for frame, count in inclusive.most_common(top):
        if LOOP_MARK not in frame:
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
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            subprocess.run(
                [py_spy, "record", "-r", "1000", "-f", "raw", "-o", str(raw), "--",
                 sys.executable, __file__, args.client, args.workload, "--seconds", str(args.seconds), "--worker", url],
                check=True,
            )
            summarise(raw, args.top)
    finally:
        server.kill()


if __name__ == "__main__":
    main()
