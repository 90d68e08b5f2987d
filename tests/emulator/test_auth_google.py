"""Auth end to end with the real google-auth library against the emulator's side-services."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import google.auth
import google.auth.transport.requests
import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions, impersonated_credentials
from google.auth.compute_engine import _metadata
from google.auth.compute_engine import credentials as gce_credentials
from google.oauth2 import service_account

from mistral_gcp.emulator import auth
from mistral_gcp.testing import Emulator

from .conftest import Call, rpc_error

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


@pytest.fixture
def request_() -> google.auth.transport.requests.Request:
    return google.auth.transport.requests.Request()


@pytest.fixture
def metadata_server(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point google-auth's metadata client at the emulator (its host is read at import)."""
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", emulator.host_port)
    monkeypatch.setenv("GCE_METADATA_IP", emulator.host_port)
    return emulator


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_service_account_key_refreshes_against_the_token_endpoint(emulator: Emulator, call: Call, request_) -> None:
    creds = service_account.Credentials.from_service_account_info(emulator.service_account_info(), scopes=[CLOUD_PLATFORM])
    creds.refresh(request_)
    assert creds.token.startswith("ya29.")
    assert creds.valid
    assert call(headers=bearer(creds.token)).status_code == 200
    grant = emulator.requests_to(path_contains="/token")[0]
    assert grant.body["grant_type"] == auth.JWT_BEARER
    assert "assertion" not in grant.body  # the signed JWT is not kept


def test_google_auth_default_reads_the_key_file(emulator: Emulator, call: Call, request_, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(emulator.service_account_info(project_id="adc-project")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GCLOUD_PROJECT", raising=False)
    creds, project = google.auth.default(scopes=[CLOUD_PLATFORM])
    assert project == "adc-project"
    creds.refresh(request_)
    assert call(headers=bearer(creds.token), project=project).status_code == 200


def test_a_forged_signature_is_refused(emulator: Emulator, request_) -> None:
    info = emulator.service_account_info()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    with pytest.raises(exceptions.RefreshError, match="invalid_grant"):
        creds.refresh(request_)


def test_token_endpoint_rejects_bad_assertions(emulator: Emulator, http: httpx2.Client) -> None:
    unsigned = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
        for part in ({"alg": "RS256"}, {"iss": "x@y", "aud": emulator.token_uri, "scope": CLOUD_PLATFORM})
    ) + ".c2ln"
    wrong_audience = http.post(emulator.token_uri, data={"grant_type": auth.JWT_BEARER, "assertion": unsigned})
    assert wrong_audience.status_code == 400
    assert wrong_audience.json()["error"] == "invalid_grant"
    garbage = http.post(emulator.token_uri, data={"grant_type": auth.JWT_BEARER, "assertion": "a.b"})
    assert garbage.json()["error"] == "invalid_grant"
    assert http.post(emulator.token_uri, data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"


def test_refresh_token_grant(emulator: Emulator, http: httpx2.Client, call: Call) -> None:
    reply = http.post(
        emulator.token_uri,
        data={"grant_type": "refresh_token", "refresh_token": "1//r", "client_id": "c", "client_secret": "s"},
    ).json()
    assert reply["token_type"] == "Bearer" and reply["expires_in"] == 3599
    assert call(headers=bearer(reply["access_token"])).status_code == 200
    assert "client_secret" not in emulator.requests_to(path_contains="/token")[0].body


def test_metadata_server_serves_google_auth(metadata_server: Emulator, call: Call, request_) -> None:
    assert _metadata.ping(request_)
    assert _metadata.get_project_id(request_) == "test-project"
    creds = gce_credentials.Credentials()
    creds.refresh(request_)
    assert creds.service_account_email == metadata_server.config.service_account
    assert call(headers=bearer(creds.token)).status_code == 200
    assert all(r.headers.get("metadata-flavor") == "Google" for r in metadata_server.requests[:-1])


def test_metadata_server_wants_the_flavor_header(emulator: Emulator, http: httpx2.Client) -> None:
    path = emulator.url + "/computeMetadata/v1/project/project-id"
    assert http.get(path).status_code == 403
    answer = http.get(path, headers={"Metadata-Flavor": "Google"})
    assert answer.text == "test-project"
    assert answer.headers["metadata-flavor"] == "Google"
    domain = http.get(emulator.url + "/computeMetadata/v1/universe/universe-domain", headers={"Metadata-Flavor": "Google"})
    assert domain.text == "googleapis.com"


def test_impersonation_through_iam_credentials(emulator: Emulator, call: Call, request_) -> None:
    source = service_account.Credentials.from_service_account_info(emulator.service_account_info(), scopes=[CLOUD_PLATFORM])
    target = "target@test-project.iam.gserviceaccount.com"
    creds = impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=target,
        target_scopes=[CLOUD_PLATFORM],
        lifetime=600,
        iam_endpoint_override=emulator.iam_endpoint(target),
    )
    creds.refresh(request_)
    assert creds.token.startswith("ya29.")
    assert call(headers=bearer(creds.token)).status_code == 200
    iam_call = emulator.requests_to(path_contains=":generateAccessToken")[0]
    assert iam_call.body["lifetime"] == "600s"
    assert iam_call.token != creds.token
    assert emulator.state.tokens.expires_at(iam_call.token) is not None  # a source token we issued


def test_impersonation_needs_a_valid_source_token(emulator: Emulator, http: httpx2.Client) -> None:
    url = emulator.iam_endpoint("t@p.iam.gserviceaccount.com")
    assert http.post(url, json={"scope": [CLOUD_PLATFORM]}).status_code == 401
    assert http.post(url, json={"scope": [CLOUD_PLATFORM]}, headers=bearer("ya29.unknown")).status_code == 401
    assert http.post(url, json={"lifetime": "60s"}, headers=bearer(emulator.token)).status_code == 400
    ok = http.post(url, json={"scope": [CLOUD_PLATFORM], "lifetime": "60s"}, headers=bearer(emulator.token)).json()
    assert ok["expireTime"].endswith("Z") and ok["accessToken"].startswith("ya29.")


# ---------------------------------------------------------------- the API's own checks


def test_missing_credentials(call: Call) -> None:
    error = rpc_error(call(headers={"authorization": ""}))
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
    assert error["details"][0]["metadata"] == {
        "service": "aiplatform.googleapis.com",
        "method": "google.cloud.aiplatform.v1.PredictionService.RawPredict",
    }


def test_unknown_token_is_refused_unless_permissive(emulator: Emulator, call: Call) -> None:
    error = rpc_error(call(headers=bearer("ya29.made-up"), method="streamRawPredict"))
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    assert error["details"][0]["metadata"]["method"].endswith("PredictionService.StreamRawPredict")
    emulator.configure(permissive_auth=True)
    assert call(headers=bearer("ya29.made-up")).status_code == 200


def test_tokens_expire_on_the_emulator_clock(emulator: Emulator, call: Call, request_) -> None:
    creds = service_account.Credentials.from_service_account_info(emulator.service_account_info(), scopes=[CLOUD_PLATFORM])
    creds.refresh(request_)
    assert call(headers=bearer(creds.token)).status_code == 200
    emulator.advance(3599)
    response = call(headers=bearer(creds.token))
    assert response.status_code == 401
    assert rpc_error(response)["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    creds.refresh(request_)  # google-auth signs with real time; the emulator accepts it
    assert call(headers=bearer(creds.token)).status_code == 200


def test_issue_and_expire_tokens(emulator: Emulator, call: Call) -> None:
    short = emulator.issue_token(lifetime=10)
    assert call(headers=bearer(short)).status_code == 200
    emulator.advance(10)
    assert call(headers=bearer(short)).status_code == 401
    emulator.expire_tokens()
    assert rpc_error(call())["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    emulator.reset()
    assert call().status_code == 200  # reset issues a fresh emulator.token


def test_short_lived_tokens_are_stale_for_google_auth(emulator: Emulator, request_) -> None:
    emulator.configure(short_lived_tokens=True)
    creds = service_account.Credentials.from_service_account_info(emulator.service_account_info(), scopes=[CLOUD_PLATFORM])
    creds.refresh(request_)
    assert creds.token_state == google.auth.credentials.TokenState.STALE


def test_check_bearer_is_pure() -> None:
    clock = auth.OffsetClock()
    book = auth.TokenBook(clock, lifetime=100)
    token = book.issue().token
    assert auth.check_bearer(f"Bearer {token}", book, "rawPredict") is None
    assert auth.check_bearer(f"bearer {token}", book, "rawPredict") is None
    clock.advance(100)
    problem = auth.check_bearer(f"Bearer {token}", book, "rawPredict")
    assert problem is not None and problem.details[0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    assert auth.check_bearer("Basic abc", book, "rawPredict").details[0]["reason"] == "CREDENTIALS_MISSING"  # type: ignore[union-attr]
