"""Endpoints: the right host for every location, overrides, ``@version`` ids, path segments that
cannot be bent, and warnings (not errors) outside the known catalogue."""

from __future__ import annotations

import warnings
from typing import List

import httpx2
import pytest

from mistral_gcp import MistralGCP
from mistral_gcp.errors import ConfigurationError, NotFoundError, RequestValidationError

from helpers import CHAT_MODEL, USER

from .conftest import predictions

PATH = "/v1/projects/p1/locations/{location}/publishers/mistralai/models/mistral-small-2503:rawPredict"


def recording_client(both, seen: List[str], **kw) -> MistralGCP:
    """A client whose transport records the URLs it is asked for and answers 404 (no network)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(404, json={"error": {"code": 404, "message": "not here", "status": "NOT_FOUND"}})

    transport = httpx2.MockTransport(handler)
    http = {"async_client": httpx2.AsyncClient(transport=transport)} if both.is_async else {"client": httpx2.Client(transport=transport)}
    return MistralGCP(project_id="p1", access_token="ya29.t", **http, **kw)


@pytest.mark.parametrize(
    "kw, url",
    [
        ({"region": "europe-west4"}, "https://europe-west4-aiplatform.googleapis.com" + PATH.format(location="europe-west4")),
        ({"region": "us-central1"}, "https://us-central1-aiplatform.googleapis.com" + PATH.format(location="us-central1")),
        ({"region": "global"}, "https://aiplatform.googleapis.com" + PATH.format(location="global")),
        ({"region": "us"}, "https://aiplatform.us.rep.googleapis.com" + PATH.format(location="us")),
        ({"region": "eu"}, "https://aiplatform.eu.rep.googleapis.com" + PATH.format(location="eu")),
        ({"region": "europe-west4", "server": "global"}, "https://aiplatform.googleapis.com" + PATH.format(location="europe-west4")),
        ({"region": "us-central1", "server_url": "https://proxy.example.com/vertex"},
         "https://proxy.example.com/vertex" + PATH.format(location="us-central1")),
        ({"region": "us-central1", "server_url": "https://{host}", "url_params": {"host": "vertex.internal"}},
         "https://vertex.internal" + PATH.format(location="us-central1")),
    ],
)
def test_each_location_is_sent_to_its_host(both, kw, url):
    seen: List[str] = []
    client = recording_client(both, seen, **kw)
    with pytest.raises(NotFoundError):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert seen == [url]


def test_url_params_fill_a_server_url_template_for_the_emulator(emulator, both):
    host, port = emulator.host_port.split(":")
    client = MistralGCP(
        project_id="p1", access_token=emulator.token, server_url="http://{host}:{port}", url_params={"host": host, "port": port}
    )
    both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [r.status for r in predictions(emulator)] == [200]


def test_a_versioned_model_keeps_its_version_in_the_url_and_not_in_the_body(emulator, both):
    emulator.configure(extra_models=("mistral-small@2503",))
    client = emulator.client()
    with pytest.warns(UserWarning, match="not in mistral-gcp's catalogue"):
        both.call(client.chat, "complete", model="mistral-small@2503", messages=USER)
    sent = predictions(emulator)[0]
    assert sent.path.endswith("/models/mistral-small@2503:rawPredict")
    assert sent.body["model"] == "mistral-small"
    assert sent.status == 200


BENT = ["../x", "a/b", "a?alt=json", "a#frag", "a%2Fb", "a b", "..", ""]


@pytest.mark.parametrize("value", BENT)
def test_a_project_cannot_bend_the_path(emulator, both, monkeypatch, value):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", value)
    for client in (emulator.client(project_id=value or None), emulator.client(project_id=None)):
        with pytest.raises(ConfigurationError):
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert emulator.requests == []


@pytest.mark.parametrize("value", [v for v in BENT if v])  # an empty region means "not given"
def test_a_region_cannot_bend_the_path(monkeypatch, value):
    with pytest.raises(ConfigurationError, match="invalid region"):
        MistralGCP(project_id="p1", access_token="t", region=value)
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", value)
    with pytest.raises(ConfigurationError, match="invalid region"):
        MistralGCP(project_id="p1", access_token="t")


@pytest.mark.parametrize("value", BENT + ["mistral-small-2503/../../x", "mistral-small-2503:streamRawPredict", "m@1@2", "m@../x"])
def test_a_model_cannot_bend_the_path(emulator, both, value):
    client = emulator.client()
    with pytest.raises(RequestValidationError, match="invalid model id"):
        both.call(client.chat, "complete", model=value, messages=USER)
    assert emulator.requests == []


def test_an_unknown_model_warns_and_is_sent(emulator, both):
    emulator.configure(extra_models=("mistral-next-2601",))
    client = emulator.client()
    with pytest.warns(UserWarning, match="'mistral-next-2601' is not in mistral-gcp's catalogue"):
        both.call(client.chat, "complete", model="mistral-next-2601", messages=USER)
    assert [r.status for r in predictions(emulator)] == [200]


def test_a_retired_model_warns_and_is_sent(emulator, both):
    client = emulator.client()
    with pytest.warns(UserWarning, match="retired"), pytest.raises(NotFoundError):
        both.call(client.chat, "complete", model="codestral-2501", messages=USER)
    assert [r.status for r in predictions(emulator)] == [404]


def test_an_unknown_region_warns_and_is_used():
    with pytest.warns(UserWarning, match="not known to be served in 'asia-northeast1'"):
        client = MistralGCP(project_id="p1", access_token="t", region="asia-northeast1")
    assert client.server_url == "https://asia-northeast1-aiplatform.googleapis.com"


@pytest.mark.parametrize("region", ["europe-west4", "us-central1", "global", "us", "eu"])
def test_known_locations_and_models_do_not_warn(emulator, region):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MistralGCP(project_id="p1", access_token="t", region=region)
        emulator.client().chat.complete(model=CHAT_MODEL, messages=USER)
