"""Fixtures for the credential tests: real google-auth against the emulator, never the network.

Every test starts from an empty Google environment: no project, region, quota project or key
file variables, an empty gcloud config directory, and a "metadata server" that hangs up at
once (so google-auth's GCE check never leaves the machine). Tests then add what they exercise.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from google.auth.compute_engine import _metadata
from google.oauth2 import service_account

from mistral_gcp import MistralGCP
from mistral_gcp.testing import Emulator

from helpers import isolate_google_auth



class HangUpServer:
    """A loopback TCP port that accepts and closes every connection, counting them."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.host_port = "127.0.0.1:%d" % self._sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(scope="session")
def hang_up_server() -> Iterator[HangUpServer]:
    server = HangUpServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hang_up_server: HangUpServer) -> HangUpServer:
    isolate_google_auth(monkeypatch, tmp_path, hang_up_server.host_port)
    return hang_up_server


@pytest.fixture
def metadata_server(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """google-auth's metadata client aimed at the emulator (the host variable is read at import)."""
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", emulator.host_port)
    monkeypatch.setenv("GCE_METADATA_IP", emulator.host_port)
    return emulator


@pytest.fixture
def key_file(emulator: Emulator, tmp_path: Path) -> Callable[..., Path]:
    """Write a service-account key (token_uri = the emulator) and return its path."""

    def write(name: str = "key.json", **info: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({**emulator.service_account_info(), **info}))
        return path

    return write


@pytest.fixture
def adc(key_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Application Default Credentials: a key file named by GOOGLE_APPLICATION_CREDENTIALS."""
    path = key_file("adc.json", project_id="adc-project")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


@pytest.fixture
def sa_credentials(emulator: Emulator) -> Callable[..., service_account.Credentials]:
    """Service-account credentials whose token endpoint is the emulator (no scopes: the SDK adds them)."""
    return lambda **info: service_account.Credentials.from_service_account_info({**emulator.service_account_info(), **info})


def to_emulator(emulator: Emulator, **kw: Any) -> MistralGCP:
    """A client aimed at the emulator that finds its own credentials (no token given)."""
    return MistralGCP(**{"region": emulator.region, "server_url": emulator.url, **kw})


def token_requests(emulator: Emulator) -> List[Any]:
    """Requests that fetched a token: OAuth /token, the metadata server's token, IAM generateAccessToken."""
    return [r for r in emulator.requests if r.path.endswith("/token") or r.path.endswith(":generateAccessToken")]


def predictions(emulator: Emulator) -> List[Any]:
    return [r for r in emulator.requests if ":rawPredict" in r.path or ":streamRawPredict" in r.path]


def statuses(records: List[Any]) -> List[int]:
    return [r.status for r in records]


def kinds(emulator: Emulator) -> List[str]:
    """The emulator's requests, named: "token", "iam", "metadata", "predict 200" ..."""
    named: Dict[str, str] = {":generateAccessToken": "iam", ":rawPredict": "predict", ":streamRawPredict": "stream"}
    out = []
    for record in emulator.requests:
        kind = next((v for k, v in named.items() if k in record.path), None)
        if kind is None:
            kind = "token" if record.path == "/token" else "metadata token" if record.path.endswith("/token") else "metadata"
        out.append(f"{kind} {record.status}")
    return out
