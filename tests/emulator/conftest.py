"""Shared fixtures for the emulator's Vertex-side tests.

The ``emulator`` fixture comes from ``mistral_gcp.pytest_plugin`` (imported here too, so the
tests run whether or not the package's pytest11 entry point is installed). Every test talks
to the emulator over real loopback HTTP.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import httpx2
import pytest

from mistral_gcp.pytest_plugin import emulator, mistral_gcp_emulator_session  # noqa: F401
from mistral_gcp.testing import Emulator

CHAT_MODEL = "mistral-small-2503"
FIM_MODEL = "codestral-2"
OCR_MODEL = "mistral-ocr-2505"


def chat_body(text: str = "Say hello.", model: str = CHAT_MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10) as client:
        yield client


Call = Callable[..., httpx2.Response]


@pytest.fixture
def call(emulator: Emulator, http: httpx2.Client) -> Call:
    """POST a body to a predict URL with the emulator's valid token (override anything)."""

    def post(
        body: Any = None,
        *,
        model: str = CHAT_MODEL,
        method: str = "rawPredict",
        headers: dict[str, str] | None = None,
        url: str | None = None,
        **url_options: Any,
    ) -> httpx2.Response:
        sent = {"authorization": f"Bearer {emulator.token}", **(headers or {})}
        target = url or emulator.predict_url(model, method, **url_options)
        payload = chat_body(model=model) if body is None else body
        if isinstance(payload, (bytes, str)):
            return http.post(target, content=payload, headers=sent)
        return http.post(target, json=payload, headers=sent)

    return post


def rpc_error(response: httpx2.Response) -> dict[str, Any]:
    """The google.rpc.Status inside a response, after checking its Google-shaped headers."""
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["server"] == "scaffolding on HTTPServer2"
    assert "retry-after" not in response.headers
    body = response.json()
    assert body["error"]["code"] == response.status_code
    return body["error"]


def sse_data(response: httpx2.Response) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
