"""Response metadata on every result (outside the model's fields), and token accounting per client."""

from __future__ import annotations

import sys
import threading

import pytest

from mistral_gcp import models
from mistral_gcp._usage import _tokenizer
from mistral_gcp.errors import ConfigurationError
from mistral_gcp.utils import BackoffStrategy, RetryConfig

from features.documents import pdf_bytes
from helpers import CHAT_MODEL, FIM_MODEL, USER

FAST = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 2_000), True)


def test_results_carry_status_headers_request_id_elapsed_and_retries(emulator, both):
    emulator.inject(status=503, times=2)
    res = both.call(emulator.client(retry_config=FAST).chat, "complete", model=CHAT_MODEL, messages=USER)
    meta = res._meta
    assert isinstance(meta, models.ResponseMeta)
    assert meta.status_code == 200 and meta.retries == 2
    assert meta.request_id == meta.headers["x-request-id"] and len(meta.request_id) == 32
    assert meta.elapsed_ms > 0
    assert [r.status for r in emulator.requests] == [503, 503, 200]


def test_metadata_changes_neither_dumps_nor_equality(emulator):
    client = emulator.client()
    first = client.chat.complete(model=CHAT_MODEL, messages=USER, temperature=0)
    second = client.chat.complete(model=CHAT_MODEL, messages=USER, temperature=0)
    assert first._meta.request_id != second._meta.request_id
    assert "_meta" not in first.model_dump() and "_meta" not in first.model_dump_json()
    assert first.model_dump(exclude={"id", "created"}) == second.model_dump(exclude={"id", "created"})
    assert "ResponseMeta" not in repr(first)
    assert type(first) is models.ChatCompletionResponse


def test_streams_fim_and_ocr_carry_metadata(emulator, both):
    client = emulator.client()
    fim = both.call(client.fim, "complete", model=FIM_MODEL, prompt="def f():")
    assert fim._meta.status_code == 200 and fim._meta.retries == 0
    ocr = both.call(client.ocr, "process", model="mistral-ocr-2505", document=pdf_bytes(1))
    assert ocr._meta.headers["x-pages-processed"] == "1"
    with client.chat.stream(model=CHAT_MODEL, messages=USER) as stream:
        assert stream.meta.status_code == 200 and stream.meta.request_id
        assert stream.meta.headers["content-type"].startswith("text/event-stream")


def test_usage_is_summed_per_client_across_operations(emulator, both):
    client = emulator.client()
    assert client.usage == models.Usage()
    chat = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    fim = both.call(client.fim, "complete", model=FIM_MODEL, prompt="def f():")
    events = both.stream(client.chat, model=CHAT_MODEL, messages=USER, max_tokens=5)
    streamed = events[-1].data.usage
    ocr = both.call(client.ocr, "process", model="mistral-ocr-2505", document=pdf_bytes(3))
    usage = client.usage
    assert usage.requests == 4
    assert usage.prompt_tokens == chat.usage.prompt_tokens + fim.usage.prompt_tokens + streamed.prompt_tokens
    assert usage.completion_tokens == chat.usage.completion_tokens + fim.usage.completion_tokens + 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert (usage.ocr_pages, usage.ocr_bytes) == (3, ocr.usage_info.doc_size_bytes)
    assert emulator.client().usage == models.Usage()  # per client
    assert client.reset_usage() == usage and client.usage == models.Usage()


def test_failed_calls_and_unfinished_streams_count_nothing(emulator):
    client = emulator.client(retry_config=None)
    emulator.inject(status=400)
    with pytest.raises(models.BadRequestError):
        client.chat.complete(model=CHAT_MODEL, messages=USER)
    emulator.inject(no_done=True, method="streamRawPredict")
    with pytest.raises(models.IncompleteStreamError):
        with client.chat.stream(model=CHAT_MODEL, messages=USER) as stream:
            list(stream)
    assert client.usage == models.Usage()


def test_usage_counts_every_call_from_many_threads(emulator):
    client = emulator.client()
    results = []

    def work():
        for _ in range(5):
            results.append(client.chat.complete(model=CHAT_MODEL, messages=USER).usage.total_tokens)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.usage.requests == 40 and client.usage.total_tokens == sum(results)


def test_count_tokens_locally_with_mistral_common(emulator):
    client = emulator.client()
    short = client.count_tokens(messages=[{"role": "user", "content": "Hi"}], model=CHAT_MODEL)
    longer = client.count_tokens(messages=USER, model=CHAT_MODEL)
    assert 0 < short < longer
    with_tools = client.count_tokens(
        messages=USER, model=CHAT_MODEL,
        tools=[models.Tool(function=models.Function(name="lookup", description="Look a painter up",
                                                    parameters={"type": "object", "properties": {"q": {"type": "string"}}}))])
    assert with_tools > longer
    typed = client.count_tokens(messages=[models.UserMessage(content=USER[0]["content"])], model=CHAT_MODEL)
    assert typed == longer
    assert emulator.requests == []  # nothing was sent


def test_count_tokens_takes_a_tokenizer_of_your_own(emulator):
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    tokenizer = MistralTokenizer.v3(is_tekken=True)
    text = "one two three four five six seven"
    count = emulator.client().count_tokens(messages=[{"role": "user", "content": text}], model="any", tokenizer=tokenizer)
    assert count == len(tokenizer.instruct_tokenizer.tokenizer.encode(text, bos=False, eos=False)) + 3  # BOS [INST] ... [/INST]


def test_count_tokens_without_mistral_common_says_which_extra_to_install(emulator, monkeypatch):
    _tokenizer.cache_clear()
    monkeypatch.setitem(sys.modules, "mistral_common.tokens.tokenizers.mistral", None)
    try:
        with pytest.raises(ConfigurationError, match=r"mistral-gcp\[tokenizer\]"):
            emulator.client().count_tokens(messages=USER, model=CHAT_MODEL)
    finally:
        _tokenizer.cache_clear()
