"""How fast is the emulator? Requests/s (small rawPredict) and stream chunks/s.

Starts ``python -m mistral_gcp.emulator.server --port 0 --permissive-auth`` in a subprocess,
reads the URL it prints, and drives it with sync httpx2 clients from worker processes (one
keep-alive connection each), so client and server work run in parallel on the two cores.
Prints one line per measurement: the sum of the workers' rates.

    python benchmarks/emulator_speed.py [--seconds 5] [--workers 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import time

import httpx2

MODEL = "mistral-small-2503"
HEADERS = {"authorization": "Bearer ya29.benchmark", "content-type": "application/json"}
SMALL = b'{"model":"mistral-small-2503","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}'
LONG_STREAM = (
    b'{"model":"mistral-small-2503","stream":true,"min_tokens":4000,'
    b'"messages":[{"role":"user","content":"Write a long story."}]}'
)


def start_server(*options: str) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process (any bearer token accepted); returns it and its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mistral_gcp.emulator.server", "--port", "0", "--permissive-auth", *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if "listening on" not in line:
        server.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return server, line.rsplit(" ", 1)[1].strip()


def _drive(args: tuple[str, bytes, float, bool]) -> tuple[float, float]:
    """One worker process: a sync httpx2 client in a tight loop (cheaper per request than async).
    Returns its own (requests/s, chunks/s), timed after its connection is open."""
    url, body, seconds, stream = args
    requests = chunks = 0
    with httpx2.Client(timeout=30) as client:
        client.post(url, content=body, headers=HEADERS).read()
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            if stream:
                with client.stream("POST", url, content=body, headers=HEADERS) as response:
                    chunks += sum(data.count(b"data: ") for data in response.iter_bytes()) - 1  # not [DONE]
            else:
                response = client.post(url, content=body, headers=HEADERS)
                assert response.status_code == 200, response.text
            requests += 1
        elapsed = time.perf_counter() - started
    return requests / elapsed, chunks / elapsed


def measure(url: str, body: bytes, seconds: float, workers: int, stream: bool) -> tuple[float, float]:
    with multiprocessing.Pool(workers) as pool:
        results = pool.map(_drive, [(url, body, seconds, stream)] * workers)
    return sum(r for r, _ in results), sum(c for _, c in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=3, help="client processes")
    args = parser.parse_args()
    server, base = start_server()
    try:
        raw = f"{base}/v1/projects/bench/locations/europe-west4/publishers/mistralai/models/{MODEL}:rawPredict"
        stream = raw.replace(":rawPredict", ":streamRawPredict")
        measure(raw, SMALL, 0.5, args.workers, False)  # warm up
        rps, _ = measure(raw, SMALL, args.seconds, args.workers, False)
        print(f"rawPredict (small): {rps:,.0f} requests/s")
        streams, cps = measure(stream, LONG_STREAM, args.seconds, args.workers, True)
        print(f"streamRawPredict: {cps:,.0f} chunks/s ({streams:,.1f} streams/s)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
