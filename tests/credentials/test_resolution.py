"""Project, region and quota project: one precedence (argument → environment → credentials), and
errors that say what was tried and how to fix it when nothing is found."""

from __future__ import annotations

import pytest

from mistral_gcp import MistralGCP
from mistral_gcp.errors import ConfigurationError, CredentialsError

from helpers import CHAT_MODEL, USER

from .conftest import kinds, predictions, to_emulator


@pytest.mark.parametrize(
    "argument, environment, expected",
    [
        ("arg-project", {"GOOGLE_CLOUD_PROJECT": "env-project", "GCLOUD_PROJECT": "old-env"}, "arg-project"),
        (None, {"GOOGLE_CLOUD_PROJECT": "env-project", "GCLOUD_PROJECT": "old-env"}, "env-project"),
        (None, {"GCLOUD_PROJECT": "old-env"}, "old-env"),
        (None, {}, "key-project"),
    ],
)
def test_project_precedence(emulator, both, sa_credentials, monkeypatch, argument, environment, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    client = to_emulator(emulator, project_id=argument, credentials=sa_credentials(project_id="key-project"))
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert f"/v1/projects/{expected}/locations/" in predictions(emulator)[0].path
    assert client.project_id == expected


@pytest.mark.parametrize(
    "argument, environment, expected",
    [
        ("us-central1", {"GOOGLE_CLOUD_LOCATION": "europe-west4", "CLOUD_ML_REGION": "europe-west4"}, "us-central1"),
        (None, {"GOOGLE_CLOUD_LOCATION": "us-central1", "CLOUD_ML_REGION": "europe-west4"}, "us-central1"),
        (None, {"CLOUD_ML_REGION": "us-central1"}, "us-central1"),
        (None, {}, "europe-west4"),  # the official client's default
    ],
)
def test_region_precedence(emulator, both, monkeypatch, argument, environment, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    client = MistralGCP(project_id="p1", region=argument, access_token=emulator.token, server_url=emulator.url)
    assert client.region == expected
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert f"/locations/{expected}/publishers/mistralai/" in predictions(emulator)[0].path


@pytest.mark.parametrize(
    "argument, environment, own, expected",
    [
        ("arg-quota", "env-quota", "own-quota", "arg-quota"),
        (None, "env-quota", "own-quota", "env-quota"),
        (None, None, "own-quota", "own-quota"),
        (None, None, None, None),
    ],
)
def test_quota_project_precedence(emulator, both, sa_credentials, monkeypatch, argument, environment, own, expected):
    if environment:
        monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", environment)
    creds = sa_credentials()
    if own:
        creds = creds.with_quota_project(own)
    client = to_emulator(emulator, credentials=creds, quota_project_id=argument)
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert predictions(emulator)[0].user_project == expected


def test_quota_project_with_a_fixed_token_and_with_adc(emulator, both, adc, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota")
    fixed = MistralGCP(project_id="p1", access_token=emulator.token, server_url=emulator.url)
    both.call(fixed.chat, "complete", model=CHAT_MODEL, messages=USER)
    from_adc = to_emulator(emulator)
    both.call(from_adc.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [r.user_project for r in predictions(emulator)] == ["env-quota", "env-quota"]


def test_a_service_that_requires_a_quota_project_is_satisfied(emulator, both, sa_credentials):
    emulator.configure(require_quota_project=True)
    client = to_emulator(emulator, credentials=sa_credentials(), quota_project_id="billing")
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [r.status for r in predictions(emulator)] == [200]


def test_no_project_says_what_was_tried_and_how_to_fix_it(emulator, both):
    client = MistralGCP(access_token=emulator.token, server_url=emulator.url)
    with pytest.raises(ConfigurationError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    message = str(caught.value)
    tried = [message.index(s) for s in ("project_id= argument", "GOOGLE_CLOUD_PROJECT", "project of the credentials")]
    assert tried == sorted(tried)
    for fix in ('MistralGCP(project_id="my-project"', "export GOOGLE_CLOUD_PROJECT=", "gcloud config set project"):
        assert fix in message
    assert emulator.requests == []


def test_no_credentials_says_what_was_tried_and_how_to_fix_it(emulator, both, no_google_environment):
    client = to_emulator(emulator, project_id="p1")
    pings = no_google_environment.connections
    with pytest.raises(CredentialsError) as caught:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    message = str(caught.value)
    tried = [
        message.index(s)
        for s in ("access_token= and credentials=", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud's application-default", "metadata server")
    ]
    assert tried == sorted(tried)
    for fix in ("gcloud auth application-default login", "export GOOGLE_APPLICATION_CREDENTIALS=", "MistralGCP(credentials="):
        assert fix in message
    assert caught.value.reason and "default credentials were not found" in caught.value.reason
    # Fast: the metadata server that is not there was asked once, not three times with back-off.
    assert no_google_environment.connections - pings == 1
    assert emulator.requests == []


def test_credentials_that_appear_later_are_found_by_the_next_call(emulator, both, key_file, monkeypatch):
    client = to_emulator(emulator, project_id="p1")
    with pytest.raises(CredentialsError):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file()))
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert kinds(emulator) == ["token 200", "predict 200"]
