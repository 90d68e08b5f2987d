"""doctor: each step ok or failed with its fix; never a token in the output."""

from __future__ import annotations

from typing import List

from helpers import CHAT_MODEL

STEPS = ["project", "region", "endpoint", "credentials", "quota project", "token", "request"]


def lines(output: str) -> List[str]:
    return [line for line in output.splitlines() if not line.startswith(" ")]


def marks(output: str) -> List[tuple]:
    """(mark, step) per line, e.g. ("ok", "token")."""
    found = []
    for line in lines(output):
        mark, rest = line.split(None, 1)
        found.append((mark, next(step for step in STEPS if rest.startswith(step))))
    return found


def test_all_green_against_the_embedded_emulator(run):
    result = run("doctor", "--emulator", target=False)
    assert result.exit_code == 0, result.output
    assert marks(result.stdout) == [("ok", step) for step in STEPS]
    assert f"/locations/europe-west4/publishers/mistralai/models/{CHAT_MODEL}:rawPredict" in result.stdout


def test_reports_the_metadata_server_principal_and_never_the_token(emulator, run):
    result = run("doctor", "--region", "us-central1")
    assert result.exit_code == 0, result.output
    assert "test-project (from the credentials)" in result.stdout
    assert "us-central1 (from the command line)" in result.stdout
    assert f"metadata server (GCE, Cloud Run, GKE), principal {emulator.config.service_account}" in result.stdout
    tokens = {r.token for r in emulator.requests if r.token}
    assert tokens and emulator.last_request.path.endswith(":rawPredict") and emulator.last_request.body["max_tokens"] == 1
    assert not any(token in result.output for token in tokens)


def test_a_refused_request_fails_with_the_iam_fix(emulator, run):
    emulator.inject(status=403, times=None)
    result = run("doctor")
    assert result.exit_code == 1
    assert marks(result.stdout)[-1] == ("failed", "request")
    assert "PermissionDeniedError" in result.stdout and "roles/aiplatform.user" in result.stdout


def test_a_region_that_does_not_serve_the_model_is_flagged(run):
    result = run("doctor", "--region", "asia-southeast1")
    assert result.exit_code == 1
    assert ("failed", "region") in marks(result.stdout)
    assert "fix: --region us-central1 or europe-west4" in result.stdout


def test_no_credentials_says_how_to_log_in(run, monkeypatch):
    monkeypatch.setattr("google.auth.compute_engine._metadata._GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    result = run("doctor", "--project", "my-project")
    assert result.exit_code == 1
    assert marks(result.stdout) == [
        ("ok", "project"), ("ok", "region"), ("ok", "endpoint"), ("failed", "credentials"), ("failed", "token"), ("failed", "request")
    ]
    assert "gcloud auth application-default login" in result.stdout and "not tried: no credentials" in result.stdout
