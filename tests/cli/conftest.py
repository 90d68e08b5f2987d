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
from google.auth.compute_engine import _metadata

from mistral_gcp.cli import cli
from mistral_gcp.testing import Emulator

GOOGLE_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION", "MISTRAL_GCP_EMULATOR_HOST", "CLOUDSDK_CORE_PROJECT",
)


@pytest.fixture
def adc(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Dict[str, str]:
    """ADC through the emulator's metadata server; returns the environment for subprocesses."""
    for name in GOOGLE_ENV:
        monkeypatch.delenv(name, raising=False)
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    monkeypatch.setenv("GCE_METADATA_IP", emulator.host_port)
    monkeypatch.setenv("GCE_METADATA_HOST", emulator.host_port)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", emulator.host_port)  # read at import
    return dict(os.environ)


@pytest.fixture
def run(adc: Dict[str, str], emulator: Emulator) -> Any:
    """``run("chat", "hi")``: the CLI in process, aimed at the session emulator."""

    def invoke(*args: str, input: Any = None, target: bool = True) -> Result:
        where = ["--server-url", emulator.url] if target else []
        return CliRunner().invoke(cli, [*args, *where], input=input)

    return invoke
