"""Secrets: the access token shows up nowhere but in the ``Authorization`` header of our own host.

A canary token (accepted by the emulator in permissive mode) goes through successes and every
kind of failure, with DEBUG logging on for every logger (ours, httpx, google-auth, the
emulator's) and request bodies logged. It must appear in no log record, no exception message,
``repr`` or traceback, and in no header still reachable from an error (the request kept on an
error, the transport exception chained as its cause). Then the ways a token could travel to
another host: redirects (our clients do not follow them; httpx strips the header from a user
client's cross-origin redirect), proxies (an HTTPS proxy sees a CONNECT, never the header; a
loopback URL does not go through a proxy from the environment), TLS verification (on: a server
with a self-signed certificate gets no request) and plain ``http://`` (loopback only, unless
``allow_http=True``). Last, the command line and the batch runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx2
import pytest

from mistral_gcp import MistralGCP, errors
from mistral_gcp.utils import BackoffStrategy, RetryConfig

from helpers import CHAT_MODEL, FIM_MODEL, USER, serve_fixed

CANARY = "ya29.CANARY-7f3e9c1d5b2a4e6f8091a2b3c4d5e6f7"
FAST = RetryConfig("backoff", BackoffStrategy(1, 2, 1.0, 2_000), True, max_retries=1)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """DEBUG for every logger; returns a function giving all records as formatted text (with tracebacks)."""
    caplog.set_level(logging.DEBUG)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return lambda: "\n".join(formatter.format(r) + repr(r.args) for r in caplog.records)


def _texts_of_error(exc: BaseException) -> List[str]:
    """Everything a program or a log handler might render from an error, and every header it can reach."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: List[Any] = []
    pending: List[Any] = [exc]
    while pending:
        item = pending.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        texts.append(repr(item))
        headers = getattr(item, "headers", None)
        if headers is not None and hasattr(headers, "items"):
            texts.extend(f"{k}: {v}" for k, v in headers.items())  # real values, not httpx's masked repr
        if isinstance(item, BaseException):
            texts.append(str(item))
            pending += [item.__cause__, item.__context__, getattr(item, "raw_response", None)]
            with contextlib.suppress(RuntimeError):  # httpx errors raise if no request is attached
                pending.append(getattr(item, "request", None))
        else:
            pending.append(getattr(item, "request", None))
    return texts


def _failure_cases(emulator: Any) -> Dict[str, Callable[[], Dict[str, Any]]]:
    """name → set-up returning client options; each makes a call fail in one way."""

    def inject(**fault: Any) -> Callable[[], Dict[str, Any]]:
        return lambda: (emulator.inject(**fault), {})[1]

    return {
        "401": inject(status=401, times=None),
        "403": inject(status=403),
        "404 model": inject(status=404),
        "429 after retries": inject(status=429, times=None),
        "500 after retries": inject(status=500, times=None),
        "stall": lambda: (emulator.inject(hang=True, times=None), {"timeout_ms": 300})[1],
        "stream cut": inject(cut_after=2, method="streamRawPredict"),
        "stream without [DONE]": inject(no_done=True, method="streamRawPredict"),
        "connection refused": lambda: {"server_url": _closed_port_url()},
    }


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % s.getsockname()[1]


@pytest.mark.parametrize(
    "case",
    ["401", "403", "404 model", "429 after retries", "500 after retries", "stall", "stream cut", "stream without [DONE]", "connection refused"],
)
def test_the_token_is_in_no_log_error_repr_or_traceback(emulator, both, every_log, case):
    emulator.configure(permissive_auth=True)
    options = _failure_cases(emulator)[case]()
    client = emulator.client(access_token=CANARY, log_bodies=True, retry_config=FAST, **options)
    stream = case.startswith("stream")
    with pytest.raises(errors.MistralGCPError) as caught:
        if stream:
            both.stream(client.chat, model=CHAT_MODEL, messages=USER)
        else:
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    texts = _texts_of_error(caught.value) + [every_log(), repr(client), repr(client._auth)]
    leaks = [t for t in texts if CANARY in t]
    assert leaks == []
    if case != "connection refused":
        assert emulator.last_request.token == CANARY  # the token was really sent, to our host


def test_the_token_is_in_no_repr_of_results_streams_or_responses(emulator, both, every_log):
    emulator.configure(permissive_auth=True)
    client = emulator.client(access_token=CANARY, log_bodies=True)

    def sync_run() -> List[str]:
        res = client.chat.complete(model=CHAT_MODEL, messages=USER)
        stream = client.fim.stream(model=FIM_MODEL, prompt="def f(x):")
        first = repr(stream) + repr(stream.response) + repr(stream.response.request.headers.items())
        return [repr(res), first, repr(list(stream))]

    async def async_run() -> List[str]:
        res = await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
        stream = await client.fim.stream_async(model=FIM_MODEL, prompt="def f(x):")
        first = repr(stream) + repr(stream.response) + repr(stream.response.request.headers.items())
        return [repr(res), first, repr([e async for e in stream])]

    texts = both.run(sync_run, async_run) + [every_log(), repr(client)]
    assert not [t for t in texts if CANARY in t]
    assert "rawPredict" in texts[-2]  # DEBUG logging was on and wrote request lines
    assert all(r.token == CANARY for r in emulator.requests)


# ---------------------------------------------------------------- other hosts


class Recorder:
    """A loopback HTTP server that records each request's line and headers, then answers ``reply``."""

    def __init__(self, reply: Callable[["Recorder", BaseHTTPRequestHandler], None]) -> None:
        self.seen: List[Dict[str, Any]] = []
        self.accepted = 0  # connections
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                recorder.accepted += 1
                super().setup()

            def _any(self) -> None:
                recorder.seen.append({"line": self.requestline, "headers": dict(self.headers)})
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                reply(recorder, self)

            do_POST = do_GET = do_CONNECT = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Recorder":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def text(self) -> str:
        return json.dumps(self.seen)


def _answer(status: int, body: bytes = b"", **headers: str) -> Callable[[Recorder, BaseHTTPRequestHandler], None]:
    def reply(_recorder: Recorder, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"content-type": "application/json", "content-length": str(len(body)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def test_redirects_to_another_host_never_carry_the_token(emulator, both):
    """Owned clients do not follow redirects; a user's client that does (httpx) drops the header
    when the redirect leaves the origin: another port on the same address is another origin."""
    emulator.configure(permissive_auth=True)
    with Recorder(_answer(503)) as elsewhere:
        target = f"{elsewhere.url}/v1/somewhere"
        with Recorder(_answer(307, location=target)) as redirector:
            owned = MistralGCP(project_id="p", access_token=CANARY, server_url=redirector.url, retry_config=None)
            with pytest.raises(errors.SDKError) as caught:
                both.call(owned.chat, "complete", model=CHAT_MODEL, messages=USER)
            assert caught.value.status_code == 307 and elsewhere.seen == []

            following = MistralGCP(
                project_id="p", access_token=CANARY, server_url=redirector.url, retry_config=None,
                client=httpx2.Client(follow_redirects=True), async_client=httpx2.AsyncClient(follow_redirects=True),
            )
            with pytest.raises(errors.ServiceUnavailableError):
                both.call(following.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [s["headers"]["authorization"] for s in redirector.seen] == [f"Bearer {CANARY}"] * 2
    assert len(elsewhere.seen) == 1 and "authorization" not in {k.lower() for k in elsewhere.seen[0]["headers"]}
    assert CANARY not in elsewhere.text()


def test_an_https_proxy_sees_a_connect_and_never_the_token(both, monkeypatch):
    with Recorder(_answer(502)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        client = MistralGCP(project_id="p", region="europe-west4", access_token=CANARY, retry_config=None)
        with pytest.raises(errors.APIConnectionError):
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert [s["line"].split()[:2] for s in proxy.seen] == [["CONNECT", "europe-west4-aiplatform.googleapis.com:443"]]
    assert CANARY not in proxy.text()


def test_a_loopback_server_is_reached_directly_whatever_proxy_the_environment_names(emulator, both, monkeypatch):
    """Plain http goes only to loopback (the emulator); a forward proxy would see the whole request."""
    emulator.configure(permissive_auth=True)
    with Recorder(_answer(502)) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        client = emulator.client(access_token=CANARY)
        assert both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER).choices
    assert proxy.seen == []
    assert emulator.last_request.token == CANARY


def _self_signed_server() -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


COMPLETION = json.dumps({
    "id": "c1", "object": "chat.completion", "model": CHAT_MODEL, "created": 1,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "over TLS"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}).encode()


@contextlib.contextmanager
def _tls_recorder(tmp_path: Path) -> Iterator[Recorder]:
    cert, key = _self_signed_server()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with Recorder(_answer(200, COMPLETION)) as recorder:
        recorder.server.socket = context.wrap_socket(recorder.server.socket, server_side=True)
        recorder.url = recorder.url.replace("http://", "https://")
        yield recorder


def test_tls_is_verified_by_default(both, tmp_path):
    with _tls_recorder(tmp_path) as server:
        client = MistralGCP(project_id="p", access_token=CANARY, server_url=server.url, retry_config=None)
        with pytest.raises(errors.APIConnectionError) as caught:
            both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert server.seen == []  # no request, so no header, reached the unverified server


def test_tls_to_a_server_the_trust_store_holds_carries_calls_and_keeps_its_connection(both, tmp_path, monkeypatch):
    """The other half of verification: with the server's certificate in the trust store
    (``SSL_CERT_FILE``), owned clients speak TLS to it, with its name checked, and reuse the connection."""
    with _tls_recorder(tmp_path) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        client = MistralGCP(project_id="p", access_token=CANARY, server_url=server.url, retry_config=None)

        def calls():
            return [client.chat.complete(model=CHAT_MODEL, messages=USER) for _ in range(3)]

        async def calls_async():
            return [await client.chat.complete_async(model=CHAT_MODEL, messages=USER) for _ in range(3)]

        answers = both.run(calls, calls_async)
        accepted = server.accepted
    assert [a.choices[0].message.content for a in answers] == ["over TLS"] * 3
    assert [seen["headers"]["authorization"] for seen in server.seen] == [f"Bearer {CANARY}"] * 3
    assert accepted == 1  # one TLS connection carried the three calls


@pytest.mark.parametrize("url", ["http://example.com", "http://10.1.2.3:8080", "http://[2001:db8::1]", "http://localhost.evil.example"])
def test_plain_http_is_refused_off_loopback_unless_opted_in(url):
    with pytest.raises(errors.ConfigurationError, match="allow_http=True"):
        MistralGCP(project_id="p", access_token=CANARY, server_url=url)
    assert MistralGCP(project_id="p", access_token=CANARY, server_url=url, allow_http=True).server_url == url


def test_a_per_call_plain_http_server_is_refused_before_sending(emulator, both):
    client = emulator.client()
    with pytest.raises(errors.ConfigurationError, match="allow_http=True"):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER, server_url="http://203.0.113.7")
    assert emulator.requests == []
