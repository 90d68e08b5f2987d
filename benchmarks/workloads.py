"""One measured workload for one client, in a fresh process; prints one JSON line.

    python benchmarks/workloads.py CLIENT WORKLOAD URL [--n N]

``run.py`` starts this file once per (round, client, workload), so rounds are independent and
no client warms another's caches. It runs under the project's venv for ``mistral_gcp`` and
``httpx`` (the floor), and under ``benchmarks/.venv-official`` for ``official``, so it imports
nothing at module level but the standard library (the ``import`` workload times the client's
import as the first thing the process does).

The three clients do the same requests against the same emulator and touch the same result
(the answer's text, or every chunk's delta text):

- ``mistral_gcp``: ``from mistral_gcp import MistralGCP`` with ``access_token=`` and ``server_url=``;
- ``official``: ``from mistralai.gcp.client import MistralGCP`` (mistralai[gcp] from PyPI), the
  same two arguments;
- ``httpx``, the floor: hand-written httpx2 calls with the client's default settings — the body
  built with ``json.dumps``, ``POST`` to the ``:rawPredict`` URL, ``json.loads`` of the response;
  for streams ``iter_lines()``/``aiter_lines()`` on ``:streamRawPredict`` and ``json.loads`` of each
  ``data:`` payload but ``[DONE]``, reading to the end of the body. No validation, no retries, no error mapping.

New TCP connections are counted on the server side: the emulator records each request's client
port, so after the warm-up we note the ports already open and count the ones that appear later.
"""

from __future__ import annotations

import sys
import time

MODEL = "mistral-small-2503"
PROJECT = "bench-project"
REGION = "europe-west4"
TOKEN = "ya29.benchmark-token"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LONG_STREAM = [{"role": "user", "content": "STREAM20K please"}]
SHORT_STREAM = [{"role": "user", "content": "STREAM500 please"}]
LONG_WORDS, SHORT_WORDS = 20_000, 499  # the emulator adds one chunk: 20,001 and 500 events
CONCURRENCY = 64

# ---------------------------------------------------------------- the three clients


class _Kind:
    def close(self, client) -> None:
        client.close()

    async def aclose(self, client) -> None:
        await client.aclose()


class Ours(_Kind):
    def import_client(self) -> None:
        from mistral_gcp import MistralGCP

        self.cls = MistralGCP

    def construct(self, url: str):
        return self.cls(project_id=PROJECT, region=REGION, access_token=TOKEN, server_url=url, allow_http=True)

    def complete(self, client) -> str:
        return client.chat.complete(model=MODEL, messages=QUESTION, max_tokens=16).choices[0].message.content

    async def complete_async(self, client) -> str:
        res = await client.chat.complete_async(model=MODEL, messages=QUESTION, max_tokens=16)
        return res.choices[0].message.content

    def stream(self, client, messages) -> int:
        count = 0
        with client.chat.stream(model=MODEL, messages=messages) as events:
            for event in events:
                event.data.choices[0].delta.content
                count += 1
        return count

    async def stream_async(self, client, messages) -> int:
        count = 0
        async with await client.chat.stream_async(model=MODEL, messages=messages) as events:
            async for event in events:
                event.data.choices[0].delta.content
                count += 1
        return count


class Official(Ours):
    def import_client(self) -> None:
        from mistralai.gcp.client import MistralGCP

        self.cls = MistralGCP

    def construct(self, url: str):
        return self.cls(project_id=PROJECT, region=REGION, access_token=TOKEN, server_url=url)

    def close(self, client) -> None:
        pass  # the official client has no close(); its clients are dropped with it

    async def aclose(self, client) -> None:
        pass


class Floor(_Kind):
    """Plain httpx2, written by hand (see the module docstring for exactly what it does)."""

    def import_client(self) -> None:
        import json

        import httpx2

        self.httpx, self.json = httpx2, json

    def construct(self, url: str):
        return _FloorClient(self.httpx, url)

    def _headers(self, accept: str) -> dict:
        return {"authorization": f"Bearer {TOKEN}", "content-type": "application/json", "accept": accept}

    def complete(self, client) -> str:
        http = client.sync()
        body = self.json.dumps({"model": MODEL, "messages": QUESTION, "max_tokens": 16})
        response = http.post(client.raw, content=body, headers=self._headers("application/json"))
        response.raise_for_status()
        return self.json.loads(response.content)["choices"][0]["message"]["content"]

    async def complete_async(self, client) -> str:
        http = client.async_()
        body = self.json.dumps({"model": MODEL, "messages": QUESTION, "max_tokens": 16})
        response = await http.post(client.raw, content=body, headers=self._headers("application/json"))
        response.raise_for_status()
        return self.json.loads(response.content)["choices"][0]["message"]["content"]

    def stream(self, client, messages) -> int:
        body = self.json.dumps({"model": MODEL, "messages": messages, "stream": True})
        count = 0
        headers = self._headers("text/event-stream")
        with client.sync().stream("POST", client.stream, content=body, headers=headers) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                count += self._line(line)
        return count

    async def stream_async(self, client, messages) -> int:
        body = self.json.dumps({"model": MODEL, "messages": messages, "stream": True})
        count = 0
        headers = self._headers("text/event-stream")
        async with client.async_().stream("POST", client.stream, content=body, headers=headers) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                count += self._line(line)
        return count

    def _line(self, line: str) -> int:
        """1 for a chunk (parsed, its text looked up), 0 for anything else (blank lines, ``[DONE]``)."""
        if not line.startswith("data:"):
            return 0
        payload = line[5:].strip()
        if payload == "[DONE]":
            return 0  # read on to the end of the body: the connection goes back to the pool
        self.json.loads(payload)["choices"][0]["delta"].get("content")
        return 1


class _FloorClient:
    """The floor's 'client': the URLs and one httpx2 client of each kind, made on first use."""

    def __init__(self, httpx, url: str) -> None:
        base = f"{url}/v1/projects/{PROJECT}/locations/{REGION}/publishers/mistralai/models/{MODEL}"
        self.raw, self.stream = base + ":rawPredict", base + ":streamRawPredict"
        self._httpx, self._sync, self._async = httpx, None, None

    def sync(self):
        if self._sync is None:
            self._sync = self._httpx.Client(timeout=600)
        return self._sync

    def async_(self):
        if self._async is None:
            self._async = self._httpx.AsyncClient(timeout=600)
        return self._async

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


CLIENTS = {"mistral_gcp": Ours, "official": Official, "httpx": Floor}

# ---------------------------------------------------------------- the emulator's side


class Server:
    """The emulator's admin endpoints, over urllib (so no client's connection pool is touched)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen = 0

    def _call(self, method: str, name: str, body=None):
        import json
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{name}", data=data, method=method)
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def prepare(self) -> None:
        self._call("POST", "reset", {})
        self._call("POST", "scripts", {"pattern": "STREAM20K", "reply": " ".join(["w"] * LONG_WORDS)})
        self._call("POST", "scripts", {"pattern": "STREAM500", "reply": " ".join(["w"] * SHORT_WORDS)})

    def ports_since_last(self) -> set:
        """Client ports of the model requests recorded since the previous call."""
        records = self._call("GET", "requests")["requests"]
        fresh, self.seen = records[self.seen:], len(records)
        return {r["client_port"] for r in fresh if "Predict" in r["path"]}


# ---------------------------------------------------------------- workloads


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_sockets() -> int:
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def w_import(kind, url: str, n: int) -> dict:
    """Cold import (the first thing this process does), then construction and the first call."""
    started = time.perf_counter()
    kind.import_client()
    imported = time.perf_counter()
    client = kind.construct(url)
    constructed = time.perf_counter()
    kind.complete(client)
    done = time.perf_counter()
    kind.close(client)
    return {
        "value": (imported - started) * 1000,
        "unit": "ms",
        "construct_first_ms": (constructed - imported) * 1000,
        "first_call_ms": (done - constructed) * 1000,
        "modules": len(sys.modules),
    }


def w_construct(kind, url: str, n: int) -> dict:
    kind.import_client()
    kind.construct(url)  # the first one may finish lazy imports
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client = kind.construct(url)
        times.append(time.perf_counter() - started)
        del client
    times.sort()
    return {"value": times[len(times) // 2] * 1000, "unit": "ms"}


def _measure_sync(kind, url: str, warm, work) -> dict:
    import gc

    server = Server(url)
    server.prepare()
    kind.import_client()
    client = kind.construct(url)
    warm(client)
    warm_ports = server.ports_since_last()
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    units = work(client)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    new = len(server.ports_since_last() - warm_ports)
    kind.close(client)
    return {"units": units, "cpu_s": cpu, "wall_s": wall, "new_connections": new, "rss_mb": peak_rss_mb()}


def _measure_async(kind, url: str, warm, work) -> dict:
    import asyncio

    def run_all():
        async def main():
            client = kind.construct(url)
            await warm(client)
            warm_ports = server.ports_since_last()
            cpu, wall = time.process_time(), time.perf_counter()
            units = await work(client)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            new = len(server.ports_since_last() - warm_ports)
            await kind.aclose(client)
            return {"units": units, "cpu_s": cpu, "wall_s": wall, "new_connections": new, "rss_mb": peak_rss_mb()}

        return asyncio.run(main())

    server = Server(url)
    server.prepare()
    kind.import_client()
    return run_all()


async def _pool(concurrency: int, total: int, job) -> int:
    """``total`` calls of ``job()`` by ``concurrency`` tasks; returns the sum of their results."""
    import asyncio

    left = [total]
    sums = []

    async def worker():
        done = 0
        while left[0] > 0:
            left[0] -= 1
            done += await job()
        sums.append(done)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(sums)


def w_complete_sync(kind, url: str, n: int) -> dict:
    def warm(client):
        for _ in range(50):
            kind.complete(client)

    def work(client):
        for _ in range(n):
            kind.complete(client)
        return n

    out = _measure_sync(kind, url, warm, work)
    return {**out, "value": out["cpu_s"] / n * 1000, "unit": "ms CPU/call", "calls_per_s": n / out["wall_s"]}


def w_complete_async(kind, url: str, n: int) -> dict:
    async def call(client):
        await kind.complete_async(client)
        return 1

    async def warm(client):
        await _pool(CONCURRENCY, CONCURRENCY * 2, lambda: call(client))

    async def work(client):
        return await _pool(CONCURRENCY, n, lambda: call(client))

    out = _measure_async(kind, url, warm, work)
    return {**out, "value": n / out["wall_s"], "unit": "calls/s", "cpu_ms_per_call": out["cpu_s"] / n * 1000}


def w_stream_sync(kind, url: str, n: int) -> dict:
    out = _measure_sync(kind, url, lambda c: kind.stream(c, SHORT_STREAM), lambda c: kind.stream(c, LONG_STREAM))
    return {**out, "value": out["units"] / out["wall_s"], "unit": "chunks/s"}


def w_stream_async(kind, url: str, n: int) -> dict:
    async def warm(client):
        await kind.stream_async(client, SHORT_STREAM)

    async def work(client):
        return await kind.stream_async(client, LONG_STREAM)

    out = _measure_async(kind, url, warm, work)
    return {**out, "value": out["units"] / out["wall_s"], "unit": "chunks/s"}


def w_streams_64(kind, url: str, n: int) -> dict:
    async def warm(client):
        await _pool(CONCURRENCY, CONCURRENCY, lambda: kind.stream_async(client, SHORT_STREAM))

    async def work(client):
        return await _pool(CONCURRENCY, CONCURRENCY, lambda: kind.stream_async(client, SHORT_STREAM))

    out = _measure_async(kind, url, warm, work)
    return {**out, "value": out["units"] / out["wall_s"], "unit": "chunks/s"}


def w_soak(kind, url: str, n: int) -> dict:
    """``n`` sync calls on one client: memory and open sockets after 10% of them and at the end."""
    import gc

    server = Server(url)
    server.prepare()
    kind.import_client()
    client = kind.construct(url)
    early = n // 10
    for _ in range(early):
        kind.complete(client)
    gc.collect()
    rss0, sockets0 = current_rss_mb(), open_sockets()
    for _ in range(n - early):
        kind.complete(client)
    gc.collect()
    rss1, sockets1 = current_rss_mb(), open_sockets()
    kind.close(client)
    return {"value": rss1 - rss0, "unit": "MB growth", "calls": n, "sockets_before": sockets0, "sockets_after": sockets1}


def w_churn(kind, url: str, n: int) -> dict:
    """``n`` clients constructed, used for one call and dropped (not closed): growth per client."""
    import gc

    server = Server(url)
    server.prepare()
    kind.import_client()

    def one():
        client = kind.construct(url)
        kind.complete(client)

    early = max(n // 10, 1)
    for _ in range(early):
        one()
    gc.collect()
    rss0, sockets0 = current_rss_mb(), open_sockets()
    for _ in range(n - early):
        one()
    gc.collect()
    rss1, sockets1 = current_rss_mb(), open_sockets()
    return {
        "value": (rss1 - rss0) * 1024 / (n - early),
        "unit": "KB/client",
        "clients": n,
        "rss_growth_mb": rss1 - rss0,
        "sockets_before": sockets0,
        "sockets_after": sockets1,
    }


WORKLOADS = {name[2:]: fn for name, fn in globals().items() if name.startswith("w_")}


def main() -> None:
    client, workload, url = sys.argv[1:4]
    n = int(sys.argv[sys.argv.index("--n") + 1]) if "--n" in sys.argv else 0
    result = WORKLOADS[workload](CLIENTS[client](), url, n)
    import json

    print(json.dumps({"client": client, "workload": workload, "n": n, **result}))


if __name__ == "__main__":
    main()
