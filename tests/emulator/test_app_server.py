"""Starting and stopping the emulator: in-process, as a command, and the options it takes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import httpx2

from mistral_gcp.emulator.app import EmulatorConfig, cli_options
from mistral_gcp.testing import Emulator

from .conftest import CHAT_MODEL, chat_body


def test_emulator_starts_on_a_free_port_and_stops_cleanly() -> None:
    threads_before = threading.active_count()
    with Emulator(project="p1", region="us-central1") as emu:
        assert emu.url.startswith("http://127.0.0.1:") and not emu.url.endswith(":0")
        assert emu.predict_url(CHAT_MODEL).startswith(f"{emu.url}/v1/projects/p1/locations/us-central1/")
        response = httpx2.post(emu.predict_url(CHAT_MODEL), json=chat_body(), headers={"authorization": f"Bearer {emu.token}"})
        assert response.status_code == 200
    assert threading.active_count() == threads_before
    assert "not running" in repr(emu)


def test_command_prints_its_url_and_stops_on_interrupt() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "mistral_gcp.emulator.server", "--port", "0", "--permissive-auth", "--faults", "status=503,times=1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as server:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("Vertex emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        predict = f"{url}/v1/projects/p/locations/europe-west4/publishers/mistralai/models/{CHAT_MODEL}:rawPredict"
        statuses = [httpx2.post(predict, json=chat_body(), headers={"authorization": "Bearer any"}).status_code for _ in range(2)]
        assert statuses == [503, 200]
        server.send_signal(signal.SIGINT)
        assert server.wait(10) == 0


def test_every_config_field_is_a_documented_cli_option() -> None:
    options = {option.name: option for option in cli_options()}
    assert set(options) == set(EmulatorConfig.__dataclass_fields__)
    assert all(option.help for option in options.values())
    assert options["token_lifetime"].flag == "--token-lifetime" and options["token_lifetime"].kind is int
    assert options["permissive_auth"].kind is bool
    assert options["faults"].multiple and options["faults"].kind is str
