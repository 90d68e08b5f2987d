"""Why the floor is slow at 64 concurrent calls, and what a better transport gives.

The same small ``rawPredict`` request (JSON body out, JSON answer parsed) sent 2,000 times by
64 asyncio tasks through each transport, against the emulator in its own process. Each variant
runs in a fresh process, rounds interleaved, median reported:

- ``httpx2``: ``httpx2.AsyncClient()`` as is — the benchmark's floor (20 idle connections kept);
- ``httpx2-pool``: the same with ``max_keepalive_connections=1000`` (no reconnections);
- ``httpx2-transport``: ``httpx2.AsyncHTTPTransport.handle_async_request`` without the client
  layer (what httpcore2 alone costs);
- ``mistral-gcp-http11``: ``mistral_gcp._http11.AsyncClient``, what owned clients use;
- ``mistral-gcp``: the whole SDK call (``chat.complete_async``: validation, retries, typed result).

    python benchmarks/transport_speed.py [--rounds 3] [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from emulator_speed import start_server

PATH = "/v1/projects/bench/locations/europe-west4/publishers/mistralai/models/mistral-small-2503:rawPredict"
BODY = json.dumps({"model": "mistral-small-2503", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "What is the capital of France?"}]}).encode()
HEADERS = {"authorization": "Bearer ya29.benchmark", "content-type": "application/json", "accept": "application/json"}
CONCURRENCY = 64
VARIANTS = ("httpx2", "httpx2-pool", "httpx2-transport", "mistral-gcp-http11", "mistral-gcp")


def _caller(variant: str, url: str):
    """An async function doing one call with ``variant``; returns the answer's text."""
    if variant == "mistral-gcp":
        from mistral_gcp import MistralGCP

        client = MistralGCP(project_id="bench", region="europe-west4", access_token="ya29.benchmark",
                            server_url=url, allow_http=True)

        async def call() -> str:
            res = await client.chat.complete_async(model="mistral-small-2503", max_tokens=16,
                                                   messages=[{"role": "user", "content": "What is the capital of France?"}])
            return res.choices[0].message.content
        return call
    if variant == "mistral-gcp-http11":
        from mistral_gcp import _http11

        http = _http11.AsyncClient(max_connections=1000)

        async def call() -> str:
            response = await http.send(http.build_request("POST", url + PATH, headers=HEADERS, content=BODY))
            return json.loads(response.content)["choices"][0]["message"]["content"]
        return call
    import httpx2

    if variant == "httpx2-transport":
        transport = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=1000))

        async def call() -> str:
            response = await transport.handle_async_request(httpx2.Request("POST", url + PATH, headers=HEADERS, content=BODY))
            await response.aread()
            return json.loads(response.content)["choices"][0]["message"]["content"]
        return call
    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=1000) if variant == "httpx2-pool" else None
    client = httpx2.AsyncClient(timeout=600, **({"limits": limits} if limits else {}))

    async def call() -> str:
        response = await client.post(url + PATH, content=BODY, headers=HEADERS)
        response.raise_for_status()
        return json.loads(response.content)["choices"][0]["message"]["content"]
    return call


async def _measure(variant: str, url: str, n: int) -> dict:
    call = _caller(variant, url)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            await call()

    await asyncio.gather(*[one() for _ in range(CONCURRENCY * 2)])  # warm-up: the connections open
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[one() for _ in range(n)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"calls_per_s": n / wall, "cpu_ms_per_call": cpu / n * 1000}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        variant, url, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(asyncio.run(_measure(variant, url, n))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    server, url = start_server()
    runs: dict = {v: [] for v in VARIANTS}
    try:
        for _ in range(args.rounds):
            for variant in VARIANTS:
                out = subprocess.run([sys.executable, __file__, "--worker", variant, url, str(args.n)],
                                     capture_output=True, text=True, check=True)
                runs[variant].append(json.loads(out.stdout))
    finally:
        server.terminate()
        server.wait(10)
    floor = statistics.median(r["calls_per_s"] for r in runs["httpx2"])
    print(f"| transport (64 concurrent rawPredict calls) | calls/s | CPU ms/call | ÷ httpx2 |")
    print("|---|--:|--:|--:|")
    for variant in VARIANTS:
        rate = statistics.median(r["calls_per_s"] for r in runs[variant])
        cpu = statistics.median(r["cpu_ms_per_call"] for r in runs[variant])
        print(f"| {variant} | {rate:,.0f} | {cpu:.3f} | {rate / floor:.2f}× |")


if __name__ == "__main__":
    main()
