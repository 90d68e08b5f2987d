"""Every credential source works end to end with real google-auth, looked up on the first request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.auth import identity_pool, impersonated_credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from mistral_gcp import MistralGCP
from mistral_gcp.errors import ConfigurationError

from helpers import CHAT_MODEL, USER

from .conftest import kinds, predictions, to_emulator, token_requests

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def test_the_constructor_does_no_io_and_credentials_are_found_on_the_first_request(emulator, both, key_file, monkeypatch):
    # The key file does not exist yet when the client is built: nothing is looked up until a call.
    path = Path(key_file("later.json", project_id="adc-project")).with_name("not-yet.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    client = to_emulator(emulator)
    assert emulator.requests == []
    assert client.project_id is None  # unknown without I/O
    path.write_text(json.dumps(emulator.service_account_info(project_id="adc-project")))
    reply = both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert reply.choices[0].message.content
    assert kinds(emulator) == ["token 200", "predict 200"]
    assert "/projects/adc-project/" in predictions(emulator)[0].path
    assert client.project_id == "adc-project"


def test_adc_key_file_named_by_google_application_credentials(emulator, both, adc):
    client = to_emulator(emulator)
    for _ in range(3):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200"] + ["predict 200"] * 3  # one token serves every call
    grant = token_requests(emulator)[0]
    assert grant.body["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert predictions(emulator)[0].token == predictions(emulator)[2].token


def test_gcloud_adc_file(emulator, both, monkeypatch):
    # gcloud's own login writes an authorized_user file whose token endpoint google-auth pins to
    # Google's; any key type found at that path is used the same way, so a service-account key
    # there exercises the lookup without leaving the machine.
    adc_file = Path(os.environ["CLOUDSDK_CONFIG"]) / "application_default_credentials.json"
    adc_file.write_text(json.dumps(emulator.service_account_info(project_id="gcloud-project")))
    client = to_emulator(emulator)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "predict 200"]
    assert "/projects/gcloud-project/" in predictions(emulator)[0].path


def test_metadata_server(metadata_server, both):
    client = to_emulator(metadata_server)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    seen = kinds(metadata_server)
    assert seen.count("metadata token 200") == 1
    assert seen[-2:] == ["predict 200", "predict 200"]
    assert all(r.headers.get("metadata-flavor") == "Google" for r in metadata_server.requests if "Predict" not in r.path)
    assert "/projects/test-project/" in predictions(metadata_server)[0].path  # the project the server reports


def test_metadata_server_found_through_gce_metadata_host(emulator, tmp_path):
    """The documented variables, in a fresh interpreter (google-auth reads them at import)."""
    script = (
        "from mistral_gcp import MistralGCP\n"
        f"client = MistralGCP(region={emulator.region!r}, server_url={emulator.url!r})\n"
        f"reply = client.chat.complete(model={CHAT_MODEL!r}, messages={USER!r})\n"
        "print(client.project_id, bool(reply.choices[0].message.content))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path),
        "GCE_METADATA_HOST": emulator.host_port,
        "GCE_METADATA_IP": emulator.host_port,
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["test-project", "True"]
    assert "metadata token 200" in kinds(emulator)


def test_explicit_service_account_credentials_get_the_cloud_platform_scope(emulator, both, sa_credentials):
    creds = sa_credentials()  # no scopes: the token endpoint would refuse it as is
    assert creds.requires_scopes
    client = to_emulator(emulator, credentials=creds)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "predict 200"]
    assert "/projects/test-project/" in predictions(emulator)[0].path  # the key's project_id


def test_explicit_impersonated_credentials(emulator, both, sa_credentials):
    target = "target@test-project.iam.gserviceaccount.com"
    creds = impersonated_credentials.Credentials(
        source_credentials=sa_credentials().with_scopes([CLOUD_PLATFORM]),
        target_principal=target,
        target_scopes=[CLOUD_PLATFORM],
        lifetime=900,
        iam_endpoint_override=emulator.iam_endpoint(target),
    )
    client = to_emulator(emulator, credentials=creds, project_id="p1")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "iam 200", "predict 200"]
    assert emulator.requests[1].body["lifetime"] == "900s"


def test_explicit_authorized_user_credentials(emulator, both):
    creds = user_credentials.Credentials(
        token=None,
        refresh_token="1//refresh",
        token_uri=emulator.token_uri,
        client_id="client-id.apps.googleusercontent.com",
        client_secret="secret",
        quota_project_id="billing-project",
    )
    client = to_emulator(emulator, credentials=creds, project_id="p1")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "predict 200"]
    assert token_requests(emulator)[0].body["grant_type"] == "refresh_token"
    assert predictions(emulator)[0].user_project == "billing-project"


def test_explicit_external_account_credentials(emulator, both, tmp_path):
    subject = tmp_path / "oidc-token"
    subject.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")  # what a workload's OIDC token file holds
    creds = identity_pool.Credentials.from_info({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": emulator.token_uri,
        "credential_source": {"file": str(subject)},
    })
    client = to_emulator(emulator, credentials=creds, project_id="p1")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "predict 200"]
    exchange = token_requests(emulator)[0].body
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["scope"] == CLOUD_PLATFORM
    assert "subject_token" not in exchange  # the emulator keeps no secrets


def test_fixed_access_token(emulator, both):
    client = to_emulator(emulator, access_token=emulator.token, project_id="p1")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["predict 200"]
    assert predictions(emulator)[0].token == emulator.token


def test_sync_token_provider_is_asked_on_every_call(emulator, both):
    asked = []

    def provider() -> str:
        asked.append(1)
        return emulator.token

    client = to_emulator(emulator, access_token=provider, project_id="p1")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert len(asked) == 2
    assert kinds(emulator) == ["predict 200"] * 2


def test_a_sync_token_provider_runs_off_the_event_loop(emulator):
    import asyncio
    import threading

    loop_is_free = threading.Event()

    def provider() -> str:  # blocks until the event loop has run something else
        assert loop_is_free.wait(timeout=10), "the event loop was blocked by the token provider"
        return emulator.token

    async def main():
        call = asyncio.create_task(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
        await asyncio.sleep(0)  # the call is now inside the provider
        loop_is_free.set()  # which only happens if the provider is not holding the loop
        return await call

    client = to_emulator(emulator, access_token=provider, project_id="p1")
    assert asyncio.run(main()).choices[0].message.content


def test_async_token_provider_serves_async_calls_and_refuses_sync_ones(emulator):
    import asyncio

    async def provider() -> str:
        await asyncio.sleep(0)
        return emulator.token

    client = to_emulator(emulator, access_token=provider, project_id="p1")
    asyncio.run(client.chat.complete_async(model=CHAT_MODEL, messages=USER))
    assert kinds(emulator) == ["predict 200"]
    with pytest.raises(ConfigurationError, match="async token provider"):
        client.chat.complete(model=CHAT_MODEL, messages=USER)
    assert len(emulator.requests) == 1


def test_a_token_provider_returning_nothing_is_a_credentials_error(emulator, both):
    from mistral_gcp.errors import CredentialsError

    client = to_emulator(emulator, access_token=lambda: "", project_id="p1")
    with pytest.raises(CredentialsError, match="no token"):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert emulator.requests == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"access_token": "t", "credentials": object()}, "not both"),
        ({"credentials": "ya29.a-token-string"}, "google-auth credentials object"),
        ({"access_token": ""}, "empty"),
        ({"access_token": 42}, "string or a callable"),
    ],
)
def test_credentials_arguments_are_checked_in_the_constructor(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        MistralGCP(project_id="p", **kwargs)


def test_a_service_account_key_with_a_bad_project_is_refused_before_sending(emulator, both, sa_credentials):
    client = to_emulator(emulator, credentials=sa_credentials(project_id="evil/../../x"))
    with pytest.raises(ConfigurationError, match="invalid project id"):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert emulator.requests == []
