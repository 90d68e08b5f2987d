"""chat, fim, emulator and the shared conventions: --help, exit codes, errors on stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mistral_gcp import MistralGCP
from mistral_gcp.cli import _talk

from helpers import CHAT_MODEL, FIM_MODEL

MISTRAL_GCP = str(Path(sys.executable).with_name("mistral-gcp"))
COMMANDS = ["chat", "fim", "ocr", "doctor", "batch", "emulator"]


def test_chat_streams_the_answer(emulator, run):
    emulator.script("painter", "Claude Monet, without a doubt.")
    result = run("chat", "Who", "is", "the", "best", "French", "painter?")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Claude Monet, without a doubt.\n"
    request = emulator.last_request
    assert request.path.endswith(f"/models/{CHAT_MODEL}:streamRawPredict")
    assert request.body["messages"] == [{"role": "user", "content": "Who is the best French painter?"}]
    assert request.chunks > 1  # it came as a stream


def test_chat_options_reach_the_request(emulator, run):
    result = run("chat", "--model", "mistral-medium-3", "--system", "Be brief.", "-t", "0.2", "--max-tokens", "7", "--no-stream", "Hi")
    assert result.exit_code == 0, result.output
    request = emulator.last_request
    assert request.path.endswith("/models/mistral-medium-3:rawPredict")
    assert request.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.2, 7)


def test_chat_reads_the_prompt_from_stdin(emulator, run):
    emulator.script("piped question", "piped answer")
    result = run("chat", input="a piped question\n")
    assert result.exit_code == 0 and result.stdout == "piped answer\n"


def test_chat_json_prints_the_raw_response(emulator, run):
    emulator.script("Hi", "Hello!")
    result = run("chat", "--json", "Hi")
    response = json.loads(result.stdout)
    assert response["choices"][0]["message"]["content"] == "Hello!"
    assert response["usage"]["total_tokens"] > 0
    assert emulator.last_request.path.endswith(":rawPredict")


def test_chat_is_a_conversation_when_stdin_is_a_terminal(emulator, run, monkeypatch):
    monkeypatch.setattr(_talk, "_stdin_is_terminal", lambda: True)
    emulator.script("first", "Reply one.")
    emulator.script("second", "Reply two.")
    result = run("chat", "--system", "S", input="first turn\nsecond turn\n")
    assert result.exit_code == 0, result.output
    assert "Reply one." in result.stdout and "Reply two." in result.stdout
    second = emulator.requests[-1].body["messages"]
    assert second == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "first turn"},
        {"role": "assistant", "content": "Reply one."},
        {"role": "user", "content": "second turn"},
    ]


def test_a_failed_turn_does_not_end_the_conversation(emulator, run, monkeypatch):
    monkeypatch.setattr(_talk, "_stdin_is_terminal", lambda: True)
    emulator.inject(status=400, times=1)
    result = run("chat", input="broken\nfine\n")
    assert result.exit_code == 0
    assert "Error: " in result.stderr
    assert emulator.requests[-1].body["messages"] == [{"role": "user", "content": "fine"}]


def test_fim(emulator, run):
    emulator.script("def fib", "    return n")
    result = run("fim", "--prompt", "def fib(n):\n", "--suffix", "print(fib(3))", "--max-tokens", "9")
    assert result.exit_code == 0, result.output
    assert result.stdout == "    return n\n"
    body = emulator.last_request.body
    assert emulator.last_request.path.endswith(f"/models/{FIM_MODEL}:streamRawPredict")
    assert (body["prompt"], body["suffix"], body["max_tokens"]) == ("def fib(n):\n", "print(fib(3))", 9)


@pytest.mark.parametrize("status, kind", [(403, "PERMISSION_DENIED"), (404, "NOT_FOUND"), (400, "")])
def test_sdk_errors_are_one_line_on_stderr_and_exit_1(emulator, run, status, kind):
    emulator.inject(status=status, times=None)
    result = run("chat", "--no-stream", "Hi")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and kind in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["chat", "--emulator", "--server-url", "http://127.0.0.1:1", "hi"], "cannot be used together"),
        (["chat", "--max-tokens", "0", "hi"], "--max-tokens"),
        (["chat", "--frobnicate"], "No such option"),
        (["chat"], "no prompt"),
        (["ocr", "no-such-file.pdf"], "neither a file nor"),
        (["ocr", "--pages", "3-1", "x.pdf"], "page list"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_a_message(run, args, message):
    result = run(*args, target=False, input="")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_missing_credentials_are_explained_without_a_traceback(run, monkeypatch):
    monkeypatch.setattr("google.auth.compute_engine._metadata._GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    result = run("chat", "--project", "p", "hi")
    assert result.exit_code == 1
    assert "no Google credentials found" in result.stderr and "gcloud auth application-default login" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_the_shared_options(run, command):
    result = run(command, "--help", target=False)
    assert result.exit_code == 0 and result.stdout.startswith(f"Usage: mistral-gcp {command}")
    if command != "emulator":
        for option in ("--project", "--region", "--emulator", "--server-url"):
            assert option in result.stdout


def test_help_loads_neither_the_sdk_the_emulator_nor_rich():
    code = (
        "import sys\nfrom mistral_gcp.cli import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('rich', 'mistral_gcp._client', 'mistral_gcp.emulator.app', 'httpx2', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")


def test_the_readme_command_streams_from_the_embedded_emulator(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCE_", "MISTRAL_GCP_"))}
    env["CLOUDSDK_CONFIG"] = str(tmp_path)
    done = subprocess.run([MISTRAL_GCP, "chat", "--emulator", "Who is the best French painter?"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) > 20 and done.stderr == ""


def test_emulator_command_serves_until_interrupted():
    proc = subprocess.Popen(
        [MISTRAL_GCP, "emulator", "--port", "0", "--permissive-auth", "--faults", "status=503,times=1", "--project", "cli-project"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Vertex emulator listening on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].strip()
        with MistralGCP(project_id="cli-project", access_token="anything", server_url=url) as client:
            answer = client.chat.complete(model=CHAT_MODEL, messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
