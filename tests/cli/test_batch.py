"""batch: results per line, typed errors, resume after Ctrl-C, kill -9 or a torn last line, failover, rate limits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from mistral_gcp import batch
from mistral_gcp.batch import TokenBucket, _Limits

from helpers import CHAT_MODEL, FIM_MODEL

MISTRAL_GCP = str(Path(sys.executable).with_name("mistral-gcp"))


def write_input(path: Path, count: int, **extra: Any) -> Path:
    lines = [json.dumps({"custom_id": f"q{i}", "model": CHAT_MODEL, "messages": [{"role": "user", "content": f"question {i}"}], **extra}) for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def results(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def predictions(emulator: Any) -> List[Any]:
    """The model requests (not the metadata server's token and project lookups)."""
    return [r for r in emulator.requests if "Predict" in r.path]


def ids(path: Path) -> List[str]:
    return sorted(r["custom_id"] for r in results(path))


def test_each_request_gets_one_result_line(emulator, run, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"custom_id": "chat-1", "model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]}) + "\n\n"
        + json.dumps({"custom_id": "fim-1", "model": FIM_MODEL, "prompt": "def f():", "suffix": "f()"}) + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "no id, no model"}]}) + "\n"
    )
    out = tmp_path / "out.jsonl"
    result = run("batch", str(source), "-o", str(out), "--model", CHAT_MODEL)
    assert result.exit_code == 0, result.output
    assert "3/3 requests" in result.stdout and "3 ok, 0 failed" in result.stdout
    by_key = {r.get("custom_id", r["line"]): r for r in results(out)}
    assert set(by_key) == {"chat-1", "fim-1", 4}
    assert by_key["chat-1"]["response"]["object"] == "chat.completion"
    assert by_key["fim-1"]["response"]["choices"][0]["message"]["content"]
    assert by_key[4]["usage"]["total_tokens"] == by_key[4]["response"]["usage"]["total_tokens"] > 0
    fim = next(r for r in emulator.requests if r.body and "prompt" in r.body)
    assert fim.path.endswith(f"/models/{FIM_MODEL}:rawPredict") and "custom_id" not in fim.body


def test_failures_are_typed_result_lines_and_exit_1(emulator, run, tmp_path):
    source = write_input(tmp_path / "in.jsonl", 3)
    with source.open("a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"custom_id": "odd", "model": CHAT_MODEL}) + "\n")
    emulator.inject(status=403, times=1)
    out = tmp_path / "out.jsonl"
    result = run("batch", str(source), "-o", str(out), "--concurrency", "1")
    assert result.exit_code == 1
    errors = {r.get("custom_id", r["line"]): r["error"] for r in results(out) if "error" in r}
    assert errors["q0"]["type"] == "PermissionDeniedError" and errors["q0"]["status"] == 403
    assert errors[4]["type"] == "InvalidInputLine"
    assert errors["odd"]["type"] == "InvalidInputLine"
    assert len(results(out)) == 5 and "2 ok, 3 failed" in result.stdout


def test_a_rerun_skips_what_is_done_and_cuts_a_torn_last_line(emulator, run, tmp_path):
    source = write_input(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out.jsonl"
    assert run("batch", str(source), "-o", str(out)).exit_code == 0
    kept = out.read_text().splitlines(keepends=True)[:2]
    out.write_text("".join(kept) + kept[0][:25])  # a crash in the middle of the third line
    emulator.reset()
    result = run("batch", str(source), "-o", str(out))
    assert result.exit_code == 0 and "2 already done" in result.stdout
    assert len(predictions(emulator)) == 4
    assert ids(out) == [f"q{i}" for i in range(6)]
    assert run("batch", str(source), "-o", str(out)).stdout.startswith("0/0 requests")


def test_retry_failed_runs_the_errors_again(emulator, run, tmp_path):
    source = write_input(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    emulator.inject(status=400, times=2)
    assert run("batch", str(source), "-o", str(out), "-c", "1").exit_code == 1
    assert run("batch", str(source), "-o", str(out)).exit_code == 1  # errors are results: nothing reruns
    result = run("batch", str(source), "-o", str(out), "--retry-failed")
    assert result.exit_code == 0, result.output
    assert ids(out) == [f"q{i}" for i in range(4)] and not any("error" in r for r in results(out))


@pytest.mark.parametrize(
    "prepare, message",
    [
        (lambda src, out: src.write_text('{"custom_id": "a", "messages": []}\n' * 2), "appears twice"),
        (lambda src, out: out.write_text("hello\n"), "is not a batch result"),
    ],
)
def test_unusable_files_are_usage_errors(run, tmp_path, prepare, message):
    source, out = write_input(tmp_path / "in.jsonl", 1), tmp_path / "out.jsonl"
    prepare(source, out)
    result = run("batch", str(source), "-o", str(out))
    assert result.exit_code == 2 and message in result.stderr


def test_regions_fail_over_on_429(emulator, run, tmp_path):
    emulator.inject(status=429, times=None, region="us-central1")
    source, out = write_input(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    result = run("batch", str(source), "-o", str(out), "--regions", "us-central1,europe-west4", "-c", "2")
    assert result.exit_code == 0, result.output
    assert {r["region"] for r in results(out)} == {"europe-west4"}
    seen = [(r.path.split("/locations/")[1].split("/")[0], r.status) for r in predictions(emulator)]
    assert ("us-central1", 429) in seen and set(seen) == {("us-central1", 429), ("europe-west4", 200)}
    assert len([s for s in seen if s[1] == 200]) == 6  # each request answered once


def test_when_every_region_is_busy_the_client_policy_decides(emulator, tmp_path, both):
    from mistral_gcp.utils import BackoffStrategy, RetryConfig

    emulator.inject(status=429, times=2)  # both regions refuse the first round
    client = emulator.client(retry_config=RetryConfig("backoff", BackoffStrategy(1, 2, 1.0, 5_000), False, max_retries=1))
    source, out = write_input(tmp_path / "in.jsonl", 1), tmp_path / "out.jsonl"
    options = dict(regions=["europe-west4", "us-central1"])
    summary = both.run(lambda: batch.run(client, source, out, **options), lambda: batch.run_async(client, source, out, **options))
    assert summary.ok == 1 and [r.status for r in emulator.requests] == [429, 429, 200]


def test_python_api_sync_and_async(emulator, tmp_path, both):
    source, out = write_input(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    progress: List[int] = []
    client = emulator.client()
    options = dict(concurrency=3, on_progress=lambda s: progress.append(s.done))
    summary = both.run(lambda: batch.run(client, source, out, **options), lambda: batch.run_async(client, source, out, **options))
    assert (summary.total, summary.ok, summary.failed, summary.all_ok) == (5, 5, 0, True)
    assert summary.tokens == sum(r["usage"]["total_tokens"] for r in results(out))
    assert progress == [0, 1, 2, 3, 4, 5]
    assert ids(out) == [f"q{i}" for i in range(5)]


# ---------------------------------------------------------------- interrupted runs, for real


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)])
def test_killed_mid_run_then_rerun_loses_and_duplicates_nothing(emulator, adc, tmp_path, sig, code):
    count = 40
    source, out = write_input(tmp_path / "in.jsonl", count), tmp_path / "out.jsonl"
    emulator.inject(latency_ms=30, times=None)
    reached = threading.Event()
    served: List[int] = []

    def count_requests(body: Dict[str, Any]) -> None:  # runs in the emulator as each request is answered
        served.append(1)
        if len(served) == 12:
            reached.set()
        return None

    emulator.script(count_requests)
    command = [MISTRAL_GCP, "batch", str(source), "-o", str(out), "-c", "4", "--server-url", emulator.url]
    proc = subprocess.Popen(command, env=adc, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reached.wait(60), proc.stderr.read() if proc.poll() is not None else "no progress"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    if sig == signal.SIGINT:
        assert "Interrupted:" in err and "Traceback" not in err
    first = ids(out)
    assert 0 < len(first) < count and len(set(first)) == len(first)

    emulator.reset()
    rerun = subprocess.run(command, env=adc, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(first)} already done" in rerun.stdout
    assert ids(out) == sorted(f"q{i}" for i in range(count))  # every request once: none lost, none twice
    assert len(predictions(emulator)) == count - len(first)


# ---------------------------------------------------------------- client-side limits (pure)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_queues_callers_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(120, clock)  # 2 per second, holds one second's worth
    assert [bucket.reserve(1) for _ in range(5)] == [0.0, 0.0, 0.5, 1.0, 1.5]
    clock.now += 1.5
    assert bucket.reserve(1) == 0.5  # the queue drained by 1.5 s: one more waits half a second


def test_token_bucket_refills_only_up_to_its_capacity():
    clock = FakeClock()
    bucket = TokenBucket(60, clock)
    clock.now += 3600
    assert bucket.reserve(1) == 0.0 and bucket.reserve(1) == 1.0


def test_token_bucket_adjust_charges_or_refunds_after_the_fact():
    clock = FakeClock()
    bucket = TokenBucket(6000, clock)  # 100 tokens a second
    assert bucket.reserve(100) == 0.0
    bucket.adjust(200)  # the request used 200 more than estimated
    assert bucket.reserve(50) == pytest.approx(2.5)
    bucket.adjust(-1000)  # a refund never fills above capacity
    assert bucket.reserve(100) == 0.0


def test_limits_wait_for_the_slower_of_requests_and_tokens():
    clock = FakeClock()
    limits = _Limits(rpm=60, tpm=600, clock=clock)  # 1 request/s, 10 tokens/s
    assert limits.reserve(10) == 0.0
    assert limits.reserve(30) == pytest.approx(3.0)  # tokens, not requests, are the bottleneck
    limits.settle(estimate=30, used=10)
    assert limits.reserve(1) == pytest.approx(2.0)
    assert _Limits(None, None, clock).reserve(10**9) == 0.0


def test_token_bucket_rejects_a_zero_rate():
    with pytest.raises(ValueError):
        TokenBucket(0)


# ---------------------------------------------------------------- the progress bar


def read_terminal(command: List[str], env: Dict[str, str]) -> tuple:
    """Run ``command`` with stdout on a pseudo-terminal; (exit code, everything it drew)."""
    import os
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(command, env={**env, "COLUMNS": "160", "TERM": "xterm"}, stdout=secondary, stderr=subprocess.DEVNULL)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    return proc.wait(timeout=60), drawn.decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(emulator, adc, run, tmp_path):
    source = write_input(tmp_path / "in.jsonl", 30)
    emulator.inject(latency_ms=20, times=None)
    command = [MISTRAL_GCP, "batch", str(source), "-o", str(tmp_path / "tty.jsonl"), "-c", "2", "--server-url", emulator.url]
    code, drawn = read_terminal(command, adc)
    assert code == 0
    bar = drawn.split("30/30 requests")[0]  # what was drawn before the summary
    assert "━" in bar and "/30" in bar and " failed" in bar and " tokens" in bar  # the live bar
    assert "30/30 requests" in drawn  # the summary
    piped = run("batch", str(source), "-o", str(tmp_path / "piped.jsonl"))
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith("30/30 requests")  # the summary alone
