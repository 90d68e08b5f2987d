"""Every failure is a typed SDK error that shows the service's own explanation."""

from __future__ import annotations

import socket

import pytest

from mistral_gcp import MistralGCP, errors, models
from mistral_gcp.utils import RetryConfig

from helpers import CHAT_MODEL, USER, serve_fixed

NO_RETRY = RetryConfig("none")

STATUS_CASES = [
    (400, errors.BadRequestError, "INVALID_ARGUMENT"),
    (401, errors.AuthenticationError, "UNAUTHENTICATED"),
    (403, errors.PermissionDeniedError, "PERMISSION_DENIED"),
    (404, errors.NotFoundError, "NOT_FOUND"),
    (408, errors.RequestTimeoutError, None),
    (429, errors.RateLimitError, "RESOURCE_EXHAUSTED"),
    (500, errors.ServerError, "INTERNAL"),
    (502, errors.ServerError, None),
    (503, errors.ServiceUnavailableError, "UNAVAILABLE"),
    (504, errors.ServerError, None),
]


@pytest.mark.parametrize("status,cls,canonical", STATUS_CASES, ids=[str(c[0]) for c in STATUS_CASES])
def test_status_maps_to_error_class_with_google_explanation(emulator, both, status, cls, canonical):
    emulator.inject(status=status, times=1)
    client = emulator.client(access_token=emulator.token)
    with pytest.raises(cls) as info:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, retries=NO_RETRY)
    error = info.value
    assert isinstance(error, models.SDKError) and isinstance(error, errors.MistralGCPError)
    assert error.status_code == status
    assert error.body and error.headers is not None and error.raw_response.status_code == status
    if canonical:
        assert error.status == canonical
        assert str(error).startswith(f"{canonical} ({status}): ")
    assert emulator.token not in str(error) and emulator.token not in repr(error)
    assert error.raw_response.request.headers["authorization"] == "[redacted]"


def test_not_found_model_explains_itself(emulator, both):
    with pytest.raises(errors.NotFoundError, match="Publisher Model .*no-such-model.* was not found"):
        both.call(emulator.client().chat, "complete", model="no-such-model", messages=USER)


def test_array_wrapped_status_on_stream_methods(emulator, both):
    emulator.configure(wrap_stream_errors=True)
    emulator.inject(status=429, times=1)
    with pytest.raises(errors.RateLimitError, match="RESOURCE_EXHAUSTED \\(429\\): Resource exhausted") as info:
        both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER, retries=NO_RETRY)
    assert info.value.body.lstrip().startswith("[")


def test_422_is_http_validation_error_with_parsed_detail(emulator, both):
    emulator.script("painter", None)  # no script: the backend validates the body itself
    client = emulator.client()
    # safe_prompt is refused by our own validation, so send an unknown nested field the backend rejects
    with pytest.raises(models.HTTPValidationError) as info:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER,
                  http_headers={}, response_format={"type": "json_object", "unknown_flag": True})
    error = info.value
    assert error.status_code == 422
    assert error.data.detail and error.data.detail[0].loc[0] == "body"
    assert "unknown_flag" in str(error)
    assert error.request_id  # the Mistral backend's id for the request


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_a_typed_connection_error(both):
    client = MistralGCP(project_id="p", access_token="t", server_url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(errors.APIConnectionError) as info:
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, retries=NO_RETRY)
    assert info.value.__cause__ is not None
    assert isinstance(info.value, errors.NoResponseError)


def test_timeout_is_a_typed_timeout_error(emulator, both):
    emulator.inject(latency_ms=2000, times=1)
    with pytest.raises(errors.APITimeoutError):
        both.call(emulator.client().chat, "complete", model=CHAT_MODEL, messages=USER, timeout_ms=200, retries=NO_RETRY)


def test_stream_cut_midway_is_never_silent(emulator, both):
    emulator.inject(cut_after=3, times=1, method="streamRawPredict")
    with pytest.raises(errors.IncompleteStreamError) as info:
        both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER, max_tokens=30)
    assert info.value.events_received <= 3


def test_stream_without_done_is_never_silent(emulator, both):
    emulator.inject(no_done=True, times=1, method="streamRawPredict")
    with pytest.raises(errors.IncompleteStreamError, match="without 'data: \\[DONE\\]'"):
        both.stream(emulator.client().chat, model=CHAT_MODEL, messages=USER, max_tokens=10)


@pytest.mark.parametrize("status,body,ctype,cls", [
    (200, b"<html>proxy says hi</html>", "text/html", errors.ResponseValidationError),
    (200, b'{"choices": "not a list"}', "application/json", errors.ResponseValidationError),
    (502, b"<html><body>Bad Gateway from the proxy</body></html>", "text/html", errors.ServerError),
    (418, b"", "text/plain", errors.SDKError),
])
def test_odd_bodies_become_typed_errors_showing_the_body(both, status, body, ctype, cls):
    with serve_fixed(status, body, ctype) as url:
        client = MistralGCP(project_id="p", access_token="t", server_url=url, retry_config=None)
        with pytest.raises(cls) as info:
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert info.value.status_code == status
    if body:
        assert body.decode()[:20] in str(info.value)
