"""Logging goes through the ``mistral_gcp`` logger (or ``debug_logger``); tokens never appear; bodies only on request."""

from __future__ import annotations

import logging

from helpers import CHAT_MODEL, USER

SECRET_WORDS = "zebra-quartz-canary"


def test_debug_logging_shows_requests_but_never_the_token(emulator, both, caplog):
    caplog.set_level(logging.DEBUG, logger="mistral_gcp")
    client = emulator.client()
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=[{"role": "user", "content": SECRET_WORDS}])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "rawPredict -> 200" in text
    assert emulator.token not in text
    assert SECRET_WORDS not in text  # bodies are not logged unless asked for


def test_bodies_are_logged_only_on_opt_in(emulator, both, caplog):
    caplog.set_level(logging.DEBUG, logger="mistral_gcp")
    client = emulator.client(log_bodies=True)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=[{"role": "user", "content": SECRET_WORDS}])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET_WORDS in text
    assert emulator.token not in text


def test_a_debug_logger_receives_the_records(emulator, both):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    mine = logging.getLogger("my.app.sdk")
    mine.setLevel(logging.DEBUG)
    mine.addHandler(Collect())
    both.call(emulator.client(debug_logger=mine).chat, "complete", model=CHAT_MODEL, messages=USER)
    assert any("-> 200" in m for m in records)
    assert not any(emulator.token in m for m in records)
