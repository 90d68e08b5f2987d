"""The CLI tests run the real command line against the emulator.

In process (click's runner) and in subprocesses alike, credentials come the way they would on
Google Cloud: Application Default Credentials find the metadata server — here the emulator,
which hands out tokens it accepts. No Google environment of the machine leaks in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

import pytest
from click.testing import CliRunner, Result

from mistral_gcp.cli import cli
from mistral_gcp.testing import Emulator

from helpers import isolate_google_auth



@pytest.fixture
def adc(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Dict[str, str]:
    """ADC through the emulator's metadata server; returns the environment for subprocesses."""
    isolate_google_auth(monkeypatch, tmp_path, emulator.host_port)
    monkeypatch.setenv("GCE_METADATA_HOST", emulator.host_port)  # for subprocesses, which import google-auth afresh
    return dict(os.environ)


@pytest.fixture
def run(adc: Dict[str, str], emulator: Emulator) -> Any:
    """``run("chat", "hi")``: the CLI in process, aimed at the session emulator."""

    def invoke(*args: str, input: Any = None, target: bool = True) -> Result:
        where = ["--server-url", emulator.url] if target else []
        return CliRunner().invoke(cli, [*args, *where], input=input)

    return invoke
