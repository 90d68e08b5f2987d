"""Routes and Google-shaped errors: what the emulator answers before and around the backend."""

from __future__ import annotations

import json

import httpx2
import pytest

from mistral_gcp.emulator import app as app_module
from mistral_gcp.emulator import rpc
from mistral_gcp.testing import Emulator

from .conftest import CHAT_MODEL, FIM_MODEL, OCR_MODEL, Call, chat_body, rpc_error, sse_data

PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
@pytest.mark.parametrize("region", ["europe-west4", "us-central1"])
def test_chat_raw_predict_answers_json_with_backend_headers(call: Call, version: str, region: str) -> None:
    response = call(version=version, region=region)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-vertex-ai-internal-prediction-backend"] == "harpoon"
    assert response.headers["server"] == "scaffolding on HTTPServer2"
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["mistral-correlation-id"] == response.headers["x-request-id"]
    assert response.json()["choices"][0]["message"]["role"] == "assistant"


def test_encoded_colon_reaches_the_same_method(emulator: Emulator, call: Call) -> None:
    url = emulator.predict_url(CHAT_MODEL).replace(":rawPredict", "%3ArawPredict")
    assert call(url=url).status_code == 200
    assert emulator.last_request.path.endswith(":rawPredict")


def test_stream_raw_predict_sends_sse_ending_in_done(emulator: Emulator, call: Call) -> None:
    response = call(chat_body(stream=True), method="streamRawPredict")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    data = sse_data(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert emulator.last_request.chunks == len(chunks)


def test_fim_body_is_dispatched_as_fim(emulator: Emulator, call: Call) -> None:
    response = call({"model": FIM_MODEL, "prompt": "def add(a, b):", "suffix": "\n"}, model=FIM_MODEL)
    assert response.status_code == 200
    assert emulator.last_request.operation == "fim"
    assert "content" in response.json()["choices"][0]["message"]


@pytest.mark.parametrize("method", ["rawPredict", "streamRawPredict"])
def test_ocr_answers_plain_json_on_both_methods(emulator: Emulator, call: Call, method: str) -> None:
    body = {"model": OCR_MODEL, "document": {"type": "image_url", "image_url": PNG_1PX}}
    response = call(body, model=OCR_MODEL, method=method)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert emulator.last_request.operation == "ocr"
    assert response.json()["pages"]
    assert "x-pages-processed" in response.headers


@pytest.mark.parametrize(
    ("model", "region"),
    [
        ("mistral-large@2407", "europe-west4"),  # legacy @ id
        ("codestral@2405", "us-central1"),
        ("codestral-2501", "us-central1"),  # retired
        ("mistral-large-2411", "europe-west4"),
        ("no-such-model", "europe-west4"),
        (CHAT_MODEL, "global"),
        (CHAT_MODEL, "us"),
        (CHAT_MODEL, "eu"),
        (CHAT_MODEL, "asia-east1"),
    ],
)
def test_unserved_models_and_locations_are_publisher_model_not_found(call: Call, model: str, region: str) -> None:
    response = call(chat_body(model=model), model=model, region=region)
    assert response.status_code == 404
    error = rpc_error(response)
    assert error["status"] == "NOT_FOUND"
    resource = f"projects/test-project/locations/{region}/publishers/mistralai/models/{model}"
    assert error["message"].startswith(f"Publisher Model `{resource}` was not found or your project does not have access to it.")


def test_other_publishers_are_not_found(emulator: Emulator, call: Call) -> None:
    url = emulator.predict_url(CHAT_MODEL).replace("/publishers/mistralai/", "/publishers/anthropic/")
    assert rpc_error(call(url=url))["status"] == "NOT_FOUND"


def test_extra_models_can_be_served(emulator: Emulator, call: Call) -> None:
    emulator.configure(extra_models=("my-test-model=asia-east1",))
    assert call(chat_body(model="my-test-model"), model="my-test-model", region="asia-east1").status_code == 200
    assert call(chat_body(model="my-test-model"), model="my-test-model").status_code == 404


def test_unknown_path_is_json_not_found(emulator: Emulator, http: httpx2.Client) -> None:
    response = http.get(emulator.url + "/v1/projects/p/locations/l/endpoints")
    assert response.status_code == 404
    assert rpc_error(response)["status"] == "NOT_FOUND"


def test_wrong_http_method_is_405(emulator: Emulator, http: httpx2.Client) -> None:
    response = http.get(emulator.predict_url(CHAT_MODEL))
    assert response.status_code == 405
    assert rpc_error(response)["code"] == 405


def test_body_that_is_not_json_is_invalid_argument(call: Call) -> None:
    response = call(b"{not json")
    assert response.status_code == 400
    error = rpc_error(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("Invalid JSON payload received.")


def test_body_that_is_not_an_object_is_invalid_argument(call: Call) -> None:
    assert rpc_error(call([1, 2]))["status"] == "INVALID_ARGUMENT"


def test_errors_are_pretty_printed_with_two_spaces(call: Call) -> None:
    text = call(b"nope").text
    assert text.startswith('{\n  "error": {\n    "code": 400,')


def test_body_errors_come_back_mistral_style(call: Call) -> None:
    response = call({"messages": [{"role": "user", "content": "hi"}]})  # no model
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-vertex-ai-internal-prediction-backend"] == "harpoon"
    assert "error" not in response.json() or not isinstance(response.json()["error"], dict)


def test_body_errors_on_stream_methods_are_json_not_sse(call: Call) -> None:
    response = call(chat_body(safe_prompt=True, stream=True), method="streamRawPredict")
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/json"


def test_model_can_be_optional(emulator: Emulator, call: Call) -> None:
    emulator.configure(require_model=False)
    assert call({"messages": [{"role": "user", "content": "hi"}]}).status_code == 200


def test_model_not_enabled_is_failed_precondition(emulator: Emulator, call: Call) -> None:
    emulator.configure(enabled_models={"test-project": [FIM_MODEL]})
    error = rpc_error(call())
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["message"].startswith("Project `test-project` is not allowed to use Publisher Model `projects/test-project/")
    assert call({"model": FIM_MODEL, "prompt": "x"}, model=FIM_MODEL).status_code == 200


def test_denied_project_is_permission_denied(emulator: Emulator, call: Call) -> None:
    emulator.configure(denied_projects=("test-project",))
    response = call()
    assert response.status_code == 403
    error = rpc_error(response)
    assert error["status"] == "PERMISSION_DENIED"
    assert "aiplatform.endpoints.predict" in error["message"]
    assert call(project="other-project").status_code == 200


def test_quota_project_mode_wants_x_goog_user_project(emulator: Emulator, call: Call) -> None:
    emulator.configure(require_quota_project=True)
    response = call()
    assert response.status_code == 403
    error = rpc_error(response)
    assert error["details"][0]["reason"] == "SERVICE_DISABLED"
    assert call(headers={"x-goog-user-project": "billing-project"}).status_code == 200
    assert emulator.last_request.user_project == "billing-project"


def test_stream_errors_can_be_wrapped_in_an_array(emulator: Emulator, call: Call) -> None:
    emulator.configure(wrap_stream_errors=True)
    streamed = call(chat_body(model="gone"), model="gone", method="streamRawPredict")
    assert streamed.status_code == 404
    assert streamed.json()[0]["error"]["status"] == "NOT_FOUND"
    assert isinstance(call(chat_body(model="gone"), model="gone").json(), dict)  # rawPredict stays bare


def test_too_large_bodies_are_refused(emulator: Emulator, call: Call) -> None:
    emulator.configure(max_body_bytes=1000)
    response = call(chat_body("x" * 2000))
    assert response.status_code == 413
    assert "exceeds the limit: 1000 bytes" in rpc_error(response)["message"]
    assert call(chat_body("x" * 2000, stream=True), method="streamRawPredict").status_code == 200


def test_gzip_when_configured_and_accepted(emulator: Emulator, call: Call) -> None:
    emulator.configure(gzip=True)
    emulator.script("zip", "z" * 2000)
    response = call(chat_body("zip me"), headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["choices"][0]["message"]["content"] == "z" * 2000  # httpx decodes it
    assert "content-encoding" not in call(chat_body("zip me"), headers={"accept-encoding": "identity"}).headers


def test_route_table_is_pure() -> None:
    found = app_module.route("POST", "/v1/projects/p/locations/l/publishers/mistralai/models/m:streamRawPredict")
    assert found == app_module.Route("predict", ("v1", "p", "l", "mistralai", "m", "streamRawPredict"))
    assert isinstance(app_module.route("PUT", "/token"), rpc.Problem)
    assert app_module.route("GET", "/nowhere").status == 404  # type: ignore[union-attr]
