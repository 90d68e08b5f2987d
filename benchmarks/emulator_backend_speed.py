"""How fast the emulator's Mistral backend validates bodies and produces streams.

Run: .venv/bin/python benchmarks/emulator_backend_speed.py
Prints microseconds per validation and chunks per second for 20,000-token streams, generated
(min_tokens = max_tokens = 20,000) and scripted (a 20,000-token `text`).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from mistral_gcp.emulator import backend

SMALL_CHAT = {
    "model": "mistral-small-2503",
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "What is the capital of France?"}],
    "temperature": 0.2, "max_tokens": 64,
}
LONG_CHAT = {**SMALL_CHAT, "min_tokens": 20_000, "max_tokens": 20_000}
SCRIPT = " ".join(["word"] * 20_000)


def best_of(runs: int, work: Callable[[], Any]) -> float:
    """The fastest of `runs` timings of `work()`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    n = 20_000
    per = best_of(5, lambda: [backend.validate(SMALL_CHAT, "chat") for _ in range(n)]) / n
    print(f"validate small chat body:        {per * 1e6:8.2f} us")
    per = best_of(5, lambda: [backend.complete(SMALL_CHAT, "chat") for _ in range(2_000)]) / 2_000
    print(f"complete small chat body:        {per * 1e6:8.2f} us")
    cases = [("generated", LONG_CHAT, None), ("scripted", SMALL_CHAT | {"max_tokens": None}, SCRIPT)]
    for label, body, text in cases:
        chunks = sum(1 for _ in backend.stream_chunks(body, "chat", text=text))
        for name, make in (("stream_chunks", backend.stream_chunks), ("stream_bytes", backend.stream_bytes)):
            seconds = best_of(5, lambda: list(make(body, "chat", text=text)))
            print(f"{name:13} {label:9} {chunks} chunks: {chunks / seconds:10,.0f} chunks/s")
        seconds = best_of(3, lambda: [json.dumps(c) for c in backend.stream_chunks(body, "chat", text=text)])
        print(f"stream_chunks + json.dumps {label:9}: {chunks / seconds:10,.0f} chunks/s")


if __name__ == "__main__":
    main()
