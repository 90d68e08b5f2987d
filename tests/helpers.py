"""Shared test helpers: constants, and running one test body both ways (sync and async)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, List

CHAT_MODEL = "mistral-small-2503"
FIM_MODEL = "codestral-2"
USER = [{"role": "user", "content": "Who is the best French painter? Answer in one short sentence."}]


class Both:
    """Calls an SDK namespace method the sync way or the async way, with the same arguments.

    ``call(client.chat, "complete", ...)`` runs ``complete`` or awaits ``complete_async``;
    ``stream(...)`` consumes the whole stream (inside the loop, for async) and returns the events.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.is_async = mode == "async"

    def __repr__(self) -> str:
        return self.mode

    def call(self, namespace: Any, method: str, **kw: Any) -> Any:
        if not self.is_async:
            return getattr(namespace, method)(**kw)
        return asyncio.run(getattr(namespace, method + "_async")(**kw))

    def stream(self, namespace: Any, method: str = "stream", **kw: Any) -> List[Any]:
        if not self.is_async:
            with getattr(namespace, method)(**kw) as events:
                return list(events)

        async def consume() -> List[Any]:
            events = await getattr(namespace, method + "_async")(**kw)
            async with events:
                return [event async for event in events]

        return asyncio.run(consume())

    def run(self, sync_fn: Callable[[], Any], async_fn: Callable[[], Any]) -> Any:
        """Run ``sync_fn()`` or ``asyncio.run(async_fn())``."""
        return asyncio.run(async_fn()) if self.is_async else sync_fn()




@contextlib.contextmanager
def serve_fixed(status: int, body: bytes, content_type: str) -> Iterator[str]:
    """A loopback HTTP server that answers every POST with the same response (for odd bodies the
    emulator is too well-behaved to send, like a proxy's HTML page). Yields its base URL."""

    class Handler(_Quiet):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.reply(status, body, content_type)

    with _serving(Handler) as url:
        yield url


@contextlib.contextmanager
def serve_files(files: "dict[str, tuple[int, bytes, str]]") -> Iterator[str]:
    """A loopback HTTP server answering GET ``path`` with ``(status, body, content type)`` from
    ``files`` (404 otherwise); for a redirect status the body is the target. Yields its base URL."""

    class Handler(_Quiet):
        def do_GET(self) -> None:
            status, body, content_type = files.get(self.path, (404, b"not found", "text/plain"))
            if status in (301, 302, 307, 308):
                self.reply(status, b"", content_type, location=body.decode())
            else:
                self.reply(status, body, content_type)

    with _serving(Handler) as url:
        yield url


class _Quiet(BaseHTTPRequestHandler):
    def reply(self, status: int, body: bytes, content_type: str, location: str = "") -> None:
        self.send_response(status)
        if location:
            self.send_header("location", location)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serving(handler: type) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


GOOGLE_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION", "MISTRAL_GCP_EMULATOR_HOST", "CLOUDSDK_CORE_PROJECT",
)


def isolate_google_auth(monkeypatch: Any, tmp_path: Any, metadata_host_port: str) -> None:
    """No Google settings from the machine; gcloud's config in ``tmp_path``; google-auth's metadata
    server (ping and API) at ``metadata_host_port`` (its host variable is read at import, so it is patched too)."""
    from google.auth.compute_engine import _metadata

    for name in GOOGLE_ENV:
        monkeypatch.delenv(name, raising=False)
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir(exist_ok=True)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    monkeypatch.setenv("GCE_METADATA_IP", metadata_host_port)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", metadata_host_port)
