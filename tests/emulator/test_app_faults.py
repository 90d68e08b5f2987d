"""Faults, quotas, scripted answers, request records and the admin endpoints."""

from __future__ import annotations

import json
import threading
import time

import httpx2
import pytest

from mistral_gcp.emulator import rpc
from mistral_gcp.emulator.faults import Fault, FaultBook, QuotaBook
from mistral_gcp.emulator.catalogue import Catalogue
from mistral_gcp.testing import Emulator

from .conftest import CHAT_MODEL, FIM_MODEL, Call, chat_body, rpc_error, sse_data

STREAM = "streamRawPredict"


@pytest.mark.parametrize("status", sorted(rpc.BY_HTTP_STATUS.keys() - {405, 413}))
def test_injected_status_has_its_google_status_body(emulator: Emulator, call: Call, status: int) -> None:
    emulator.inject(status=status)
    response = call()
    assert response.status_code == status
    error = rpc_error(response)
    assert error["status"] == rpc.BY_HTTP_STATUS[status][0]
    assert call().status_code == 200  # times=1 by default


def test_injected_500_says_internal_error(emulator: Emulator, call: Call) -> None:
    emulator.inject(status=500)
    assert rpc_error(call()) == {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}


def test_times_counts_down(emulator: Emulator, call: Call) -> None:
    emulator.inject(status=503, times=2)
    assert [call().status_code for _ in range(3)] == [503, 503, 200]
    assert [r.status for r in emulator.requests] == [503, 503, 200]


def test_rate_draws_from_a_seeded_rng(emulator: Emulator, call: Call) -> None:
    emulator.inject(status=429, rate=0.5, times=None)
    first = [call().status_code for _ in range(20)]
    emulator.reset()
    emulator.inject(status=429, rate=0.5, times=None)
    assert [call().status_code for _ in range(20)] == first
    assert set(first) == {200, 429}


def test_faults_are_scoped(emulator: Emulator, call: Call) -> None:
    emulator.inject(status=500, times=None, model=FIM_MODEL)
    emulator.inject(status=503, times=None, method=STREAM)
    emulator.inject(status=400, times=None, operation="ocr")
    assert call().status_code == 200
    assert call({"model": FIM_MODEL, "prompt": "x"}, model=FIM_MODEL).status_code == 500
    assert call(chat_body(stream=True), method=STREAM).status_code == 503


def test_latency_is_added_before_the_answer(emulator: Emulator, call: Call) -> None:
    emulator.inject(latency_ms=150)
    started = time.perf_counter()
    assert call().status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_slow_stream_paces_every_chunk(emulator: Emulator, call: Call) -> None:
    emulator.inject(chunk_delay_ms=20, method=STREAM)
    started = time.perf_counter()
    response = call(chat_body(stream=True), method=STREAM)
    elapsed = time.perf_counter() - started
    chunks = len(sse_data(response))
    assert sse_data(response)[-1] == "[DONE]"
    assert elapsed >= 0.02 * (chunks - 1)


def test_stream_cut_drops_the_connection_after_k_chunks(emulator: Emulator, http: httpx2.Client) -> None:
    emulator.inject(cut_after=2, method=STREAM)
    received: list[str] = []
    with pytest.raises(httpx2.TransportError):
        with http.stream(
            "POST", emulator.predict_url(CHAT_MODEL, STREAM), json=chat_body(stream=True),
            headers={"authorization": f"Bearer {emulator.token}"},
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received.append(line)
    assert len(received) == 2
    assert emulator.last_request.chunks == 2


def test_stream_without_done(emulator: Emulator, call: Call) -> None:
    emulator.inject(no_done=True)
    data = sse_data(call(chat_body(stream=True), method=STREAM))
    assert data and "[DONE]" not in data
    assert json.loads(data[-1])["choices"][0]["finish_reason"] is not None


async def test_hang_holds_the_request_until_the_client_gives_up(emulator: Emulator) -> None:
    emulator.inject(hang=True)
    async with httpx2.AsyncClient(timeout=0.3) as client:
        with pytest.raises(httpx2.ReadTimeout):
            await client.post(
                emulator.predict_url(CHAT_MODEL), json=chat_body(), headers={"authorization": f"Bearer {emulator.token}"}
            )
        ok = await client.post(
            emulator.predict_url(CHAT_MODEL), json=chat_body(), headers={"authorization": f"Bearer {emulator.token}"}
        )
    assert ok.status_code == 200


def test_a_hanging_request_does_not_block_shutdown() -> None:
    threads_before = threading.active_count()
    emu = Emulator(faults=[{"hang": True}]).start()
    reached = threading.Event()
    plan = emu.state.faults.plan

    def plan_and_signal(*args: str) -> object:
        try:
            return plan(*args)
        finally:
            reached.set()

    emu.state.faults.plan = plan_and_signal  # type: ignore[method-assign]
    answers: list[int] = []

    def hang() -> None:
        with httpx2.Client(timeout=30) as client:
            url, headers = emu.predict_url(CHAT_MODEL), {"authorization": f"Bearer {emu.token}"}
            answers.append(client.post(url, json=chat_body(), headers=headers).status_code)

    worker = threading.Thread(target=hang)
    worker.start()
    assert reached.wait(10)
    started = time.perf_counter()
    emu.stop()
    worker.join()
    assert time.perf_counter() - started < 5
    assert answers == [503]  # released by shutdown, not answered normally
    assert threading.active_count() == threads_before  # the server thread is gone


def test_fault_rules_parse_from_cli_strings() -> None:
    rule = Fault.parse("status=503,times=2,rate=0.5,no_done,method=streamRawPredict")
    assert rule == Fault(status=503, times=2, rate=0.5, no_done=True, method="streamRawPredict")
    with pytest.raises(ValueError):
        Fault.parse("status=302")
    with pytest.raises(ValueError):
        Fault.parse("colour=blue")


def test_fault_plan_merges_rules() -> None:
    book = FaultBook(seed=1)
    book.add(latency_ms=100, times=1)
    book.add(status=502, times=1, model="m")
    plan = book.plan("m", "rawPredict", "chat")
    assert plan.latency == pytest.approx(0.1)
    assert plan.problem is not None and plan.problem.status == 502
    assert len(book) == 0


# ---------------------------------------------------------------- quotas


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quota_window_slides() -> None:
    clock = FakeClock()
    quotas = QuotaBook(Catalogue(), clock, enabled=True)
    quotas.set_limit("m", qpm=2)
    assert quotas.charge("p", "r", "m", 1) is None
    clock.now += 30
    assert quotas.charge("p", "r", "m", 1) is None
    problem = quotas.charge("p", "r", "m", 1)
    assert problem is not None and problem.status == 429
    clock.now += 30.5  # the first request left the window
    assert quotas.charge("p", "r", "m", 1) is None
    assert quotas.charge("other-project", "r", "m", 1) is None


def test_quotas_are_off_by_default(emulator: Emulator, call: Call) -> None:
    assert all(call(model="mistral-ocr-2505", body=chat_body(model="mistral-ocr-2505")).status_code == 200 for _ in range(35))


def test_request_quota_answers_google_429(emulator: Emulator, call: Call) -> None:
    emulator.quotas.set_limit(CHAT_MODEL, qpm=3)
    assert [call().status_code for _ in range(4)] == [200, 200, 200, 429]
    response = call()
    error = rpc_error(response)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["message"] == (
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: "
        f"{CHAT_MODEL}. Please submit a quota increase request. "
        "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
    )
    emulator.advance(61)
    assert call().status_code == 200


def test_quotas_count_per_quota_project(emulator: Emulator, call: Call) -> None:
    emulator.quotas.set_limit(CHAT_MODEL, qpm=1)
    assert call(headers={"x-goog-user-project": "a"}).status_code == 200
    assert call(headers={"x-goog-user-project": "b"}).status_code == 200
    assert call(headers={"x-goog-user-project": "a"}).status_code == 429


def test_token_quota_uses_the_token_metric(emulator: Emulator, call: Call) -> None:
    emulator.configure(quota_limits={CHAT_MODEL: "100,50"})
    assert call(chat_body("short")).status_code == 200
    error = rpc_error(call(chat_body("long " * 200)))
    assert "online_prediction_input_tokens_per_minute_per_base_model" in error["message"]


def test_catalogue_quotas_apply_when_enabled(emulator: Emulator, call: Call) -> None:
    emulator.configure(quotas=True)
    ocr = "mistral-ocr-2505"
    statuses = [call(chat_body(model=ocr), model=ocr).status_code for _ in range(31)]
    assert statuses.count(429) == 1 and statuses[-1] == 429  # QPM 30


# ---------------------------------------------------------------- scripts


def test_script_by_regex_sets_the_generated_text(emulator: Emulator, call: Call) -> None:
    emulator.script(r"weather in \w+", "Sunny, 21°C.")
    assert call(chat_body("What's the weather in Paris?")).json()["choices"][0]["message"]["content"] == "Sunny, 21°C."
    assert call(chat_body("Other question")).json()["choices"][0]["message"]["content"] != "Sunny, 21°C."


def test_script_text_is_streamed_too(emulator: Emulator, call: Call) -> None:
    emulator.script("count", "one two three")
    data = sse_data(call(chat_body("count please", stream=True), method=STREAM))
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for d in data[:-1])
    assert text == "one two three"


def test_script_by_callable_and_model_scope(emulator: Emulator, call: Call) -> None:
    emulator.script(lambda body: "low temperature" if body.get("temperature") == 0 else None)
    emulator.script("hi", "codestral says hi", model=FIM_MODEL)
    assert call(chat_body(temperature=0)).json()["choices"][0]["message"]["content"] == "low temperature"
    assert call(chat_body("hi")).json()["choices"][0]["message"]["content"] != "codestral says hi"


def test_script_can_return_a_whole_response(emulator: Emulator, call: Call) -> None:
    canned = {"id": "x", "object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 0}}
    emulator.script("canned", canned)
    assert call(chat_body("canned")).json() == canned
    chunks = [{"id": "c1", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}]
    emulator.script("chunks", chunks)
    assert sse_data(call(chat_body("chunks", stream=True), method=STREAM)) == [json.dumps(chunks[0], separators=(",", ":")), "[DONE]"]


# ---------------------------------------------------------------- records and admin


def test_requests_are_recorded(emulator: Emulator, call: Call) -> None:
    call(headers={"x-goog-user-project": "billing"})
    record = emulator.last_request
    assert record.method == "POST" and record.status == 200
    assert record.model == CHAT_MODEL and record.operation == "chat"
    assert record.body == chat_body()
    assert record.user_project == "billing"
    assert record.token == emulator.token
    assert emulator.token not in repr(record)
    assert record.to_json()["headers"]["authorization"] == "Bearer …" + emulator.token[-4:]


def test_record_deque_is_bounded(emulator: Emulator, call: Call) -> None:
    emulator.configure(record_limit=3)
    for _ in range(5):
        call()
    assert len(emulator.requests) == 3


def test_admin_endpoints(emulator: Emulator, call: Call, http: httpx2.Client) -> None:
    admin = emulator.url + "/_emulator"
    added = http.post(admin + "/faults", json=[{"status": 503, "times": 1}, {"latency_ms": 1, "times": 1}])
    assert added.status_code == 200 and len(added.json()["faults"]) == 2
    assert http.get(admin + "/faults").json()["faults"][0]["status"] == 503
    assert call().status_code == 503
    assert http.post(admin + "/faults", json={"status": 302}).status_code == 400
    http.post(admin + "/faults", json={"status": 500})
    assert http.delete(admin + "/faults").json() == {"faults": []}
    assert call().status_code == 200
    recorded = http.get(admin + "/requests").json()["requests"]
    assert [r["status"] for r in recorded] == [503, 200]
    assert all(emulator.token not in json.dumps(r) for r in recorded)
    token = http.post(admin + "/tokens", json={"lifetime": 60}).json()["access_token"]
    assert call(headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert http.post(admin + "/clock", json={"advance": 61}).json()["offset"] == 61
    assert call(headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert http.post(admin + "/scripts", json={"pattern": "ping", "reply": "pong"}).status_code == 200
    assert call(chat_body("ping")).json()["choices"][0]["message"]["content"] == "pong"
    assert http.post(admin + "/reset").json() == {"reset": True}
    assert emulator.requests == []
    assert http.get(admin + "/nothing").status_code == 404
