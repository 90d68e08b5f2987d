"""Every example of the official client's README runs unchanged but for the import prefix.

Each runs in a fresh interpreter, as a user's script would, with only the environment set up:
``GOOGLE_APPLICATION_CREDENTIALS`` names a service-account key whose ``token_uri`` is the
emulator (so real google-auth fetches a real token from it) and ``MISTRAL_GCP_EMULATOR_HOST``
points the client at the emulator. The seed shows the same streaming snippet three times (streaming,
endpoint construction, authentication); it is kept once, as ``03_stream.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "seed_examples"
EXAMPLES = sorted(SEED.glob("*.py"))


def test_the_examples_are_the_seed_with_only_the_prefix_changed():
    assert len(EXAMPLES) == 8
    for path in EXAMPLES:
        text = path.read_text()
        assert "mistralai.gcp.client" not in text
        assert re.search(r"from mistral_gcp(\.\w+)? import", text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_seed_example_runs(emulator, tmp_path, path):
    key = tmp_path / "key.json"
    key.write_text(json.dumps(emulator.service_account_info()))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "GCP_PROJECT_ID": emulator.project,
        "GCP_REGION": "us-central1",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key),
        "MISTRAL_GCP_EMULATOR_HOST": emulator.host_port,
        "NO_GCE_CHECK": "true",
    }
    done = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = (path.with_suffix(".expect").read_text().strip() if path.with_suffix(".expect").exists() else "")
    if expected:
        assert re.search(expected, done.stdout), done.stdout
    posts = [r for r in emulator.requests if r.path.endswith("Predict")]
    calls = len(re.findall(r"\.(complete|stream)(_async)?\(", path.read_text()))
    assert len(posts) == calls
    assert all(r.headers["authorization"].startswith("Bearer ya29.") for r in posts)
