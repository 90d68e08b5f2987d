"""No access token in anything the command line prints or writes, failures included."""

from __future__ import annotations

import json

from helpers import CHAT_MODEL


def test_tokens_never_reach_cli_output_or_batch_files(emulator, run, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(
        json.dumps({"custom_id": f"q{i}", "model": CHAT_MODEL, "messages": [{"role": "user", "content": f"q{i}"}]}) + "\n"
        for i in range(4)
    ))
    out = tmp_path / "out.jsonl"
    emulator.inject(status=403, times=None, operation="chat")
    failed_chat = run("chat", "--no-stream", "Hi")
    failed_batch = run("batch", str(source), "-o", str(out), "--concurrency", "1")
    emulator.faults.clear()
    ok_chat = run("chat", "Hi")
    outputs = [failed_chat.stdout, failed_chat.stderr, failed_batch.stdout, failed_batch.stderr,
               ok_chat.stdout, ok_chat.stderr, out.read_text()]
    assert failed_chat.exit_code == 1 and failed_batch.exit_code == 1 and ok_chat.exit_code == 0
    assert "error" in out.read_text()  # the failures were written, with their explanation
    tokens = {r.token for r in emulator.requests if r.token}
    assert tokens  # the calls were authenticated
    for token in tokens:
        assert all(token not in text for text in outputs)
