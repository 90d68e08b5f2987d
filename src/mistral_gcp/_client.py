"""``MistralGCP``: settings, HTTP clients, and the one request path shared by sync and async.

A call goes: public method → ``_operations.prepare`` (validate, serialise once) → ``_flow``,
a generator that holds every decision of the exchange — auth headers, URL, retries, the one
refresh-and-retry on 401, error classification, decoding — and *yields* the few actions that
need I/O (get auth headers, send, read, close, sleep). ``_run`` and ``_run_async`` are the two
thin shells that perform those actions, so sync and async share all the logic.

No I/O happens in the constructor: credentials, the project and the HTTP clients are created on
the first request. Owned clients are closed by ``close()``/``aclose()``, the context managers,
or when the client is garbage-collected; clients passed in are never closed. Owned async clients
are kept per event loop, so one ``MistralGCP`` serves successive ``asyncio.run()`` calls.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Dict, Generator, Optional, Tuple, Union

from . import _endpoints
from ._auth import Auth, TokenProvider
from ._retry import DEFAULT_RETRY_CONFIG, RetryConfig, RetryState
from ._transport_errors import is_transport_error, translate_transport_error
from ._usage import ResponseMeta, Usage, UsageCounter, count_tokens
from ._version import __version__
from .errors import ConfigurationError, ResponseValidationError, body_preview, error_for_response
from ._unset import UNSET

if TYPE_CHECKING:
    import asyncio
  # the request models (pydantic) load on the first call, not at import
    from ._operations import Operation, Prepared
    from ._resources import Chat, Fim, Ocr

__all__ = ["MistralGCP"]

DEFAULT_REGION = "europe-west4"
REGION_ENV = ("GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION")
#: ``host:port`` of a local Vertex emulator; when set, code that names no server talks to it.
EMULATOR_ENV = "MISTRAL_GCP_EMULATOR_HOST"
#: Owned clients: generous keep-alive pool (high concurrency must not churn connections),
#: 10 s to connect, 10 minutes to read (long generations), no redirects.
DEFAULT_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 10.0
POOL_SIZE = 1000

logger = logging.getLogger("mistral_gcp")
_USER_AGENT = f"mistral-gcp/{__version__} python/{platform.python_version()}"
_API_CLIENT = f"gl-python/{platform.python_version()} mistral-gcp/{__version__}"
_REDACTED = "[redacted]"

Action = Tuple[Any, ...]


def _httpx() -> Any:
    try:
        import httpx2 as httpx
    except ImportError:  # Python 3.10: httpx2 needs 3.11
        import httpx  # type: ignore[no-redef]
    return httpx


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: Optional[str], cert_dir: Optional[str]) -> Any:
    """The verifying SSL context of owned clients, built once (per ``SSL_CERT_FILE``/``SSL_CERT_DIR``):
    loading the CA bundle costs ~20 ms, which every new client paid before. Sharing it is safe.
    The trust store is httpx2's choice (``SSL_CERT_FILE``/``SSL_CERT_DIR``, else the system's)."""
    try:
        import httpcore2
    except ImportError:  # Python 3.10: classic httpx
        return _httpx().create_ssl_context()
    return httpcore2.default_ssl_context()


def _verify() -> Any:
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


#: Loopback hosts are reached directly, whatever proxy the environment names: plain http is only
#: allowed to loopback, and a forward proxy would receive the whole request, token included.
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_DIRECT_TO_LOOPBACK = {f"all://{host}": None for host in _LOOPBACK}
_PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _proxied(url: str) -> bool:
    """Whether a proxy named in the environment could apply to ``url`` (loopback never does).

    Owned clients speak HTTP/1.1 themselves (``_http11``); with a proxy in the environment they
    use httpx2, which implements proxies (and ``NO_PROXY``)."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", 1)[0] + "]"
    return host.lower() not in _LOOPBACK


class _LoopClient:
    """An owned AsyncClient bound to one event loop, closed on that loop when it shuts down.

    An httpx AsyncClient's connections belong to the loop that opened them. The client is
    closed by a tiny async generator that asyncio itself finalises: ``asyncio.run()`` (and
    ``loop.shutdown_asyncgens()``) closes every async generator started on the loop, while the
    loop still runs. So a client used from successive ``asyncio.run()`` calls leaves no open
    sockets behind. A loop closed without that step is noticed later and :meth:`abandon`-ed.
    """

    __slots__ = ("client", "loop", "_to_close", "_closer")

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.client: Any = client
        self.loop = loop
        self._to_close = [client]  # shared with the closer (not ``self``: no reference cycle)
        self._closer = _close_at_shutdown(self._to_close)
        _step(self._closer.asend(None))  # started on this loop: asyncio now tracks it

    def abandon(self) -> None:
        """Finish the closer without awaiting (its loop is gone, or the client is closed already)."""
        self._to_close[0] = None
        _step(self._closer.aclose())


async def _close_at_shutdown(to_close: list) -> Any:
    try:
        yield
    finally:
        if to_close[0] is not None:
            await to_close[0].aclose()


def _step(awaitable: Any) -> None:
    """Drive an async generator step that never suspends, without an event loop."""
    try:
        awaitable.send(None)
    except StopIteration:
        pass


class _Owned:
    """The HTTP clients this SDK created (and so must close). Holds no reference to the SDK object.

    Each kind is made on first use: ``api`` — our own HTTP/1.1 client (``_http11``), or httpx2
    when the environment names a proxy; ``httpx`` — an httpx2 client (proxied calls, document
    downloads, which follow redirects to any host); ``auth_http`` — google-auth's token requests.
    """

    def __init__(self, limits: int) -> None:
        self.lock = threading.Lock()
        self.sync: Dict[str, Any] = {}
        self.auth_http: Any = None
        self.by_loop: Dict[Tuple[asyncio.AbstractEventLoop, str], _LoopClient] = {}
        self.limits = limits
        self.proxy_env: Optional[bool] = None

    def _make(self, kind: str, is_async: bool) -> Any:
        if kind == "api":
            from . import _http11

            cls = _http11.AsyncClient if is_async else _http11.Client
            return cls(timeout=DEFAULT_TIMEOUT_S, connect_timeout=CONNECT_TIMEOUT_S,
                       max_connections=self.limits, ssl_context=_verify)
        httpx = _httpx()
        cls = httpx.AsyncClient if is_async else httpx.Client
        return cls(
            timeout=httpx.Timeout(DEFAULT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_connections=self.limits, max_keepalive_connections=self.limits),
            follow_redirects=False,
            verify=_verify(),
            mounts=_DIRECT_TO_LOOPBACK,
        )

    def sync_client(self, kind: str = "api") -> Any:
        client = self.sync.get(kind)
        if client is None:
            with self.lock:
                client = self.sync.get(kind)
                if client is None:
                    client = self.sync[kind] = self._make(kind, is_async=False)
        return client

    def auth_client(self) -> Any:
        """A separate client for google-auth's token requests (no user headers, short timeouts)."""
        if self.auth_http is None:
            with self.lock:
                if self.auth_http is None:
                    self.auth_http = _httpx().Client(
                        timeout=30.0, follow_redirects=False, verify=_verify(), mounts=_DIRECT_TO_LOOPBACK
                    )
        return self.auth_http

    def async_client(self, kind: str = "api") -> Any:
        import asyncio  # loaded with the first async call, not at import
        loop = asyncio.get_running_loop()
        entry = self.by_loop.get((loop, kind))
        if entry is None:
            entry = _LoopClient(self._make(kind, is_async=True), loop)
            with self.lock:
                for key in [k for k, e in self.by_loop.items() if e.loop.is_closed()]:
                    self.by_loop.pop(key).abandon()
                self.by_loop[(loop, kind)] = entry
        return entry.client

    def for_url(self, url: str, is_async: bool) -> Any:
        """The client for a call to ``url``: ours, unless a proxy from the environment applies.
        The environment is read once, on the first call (as httpx reads it when a client is made)."""
        if self.proxy_env is None:
            self.proxy_env = any(os.environ.get(name) for name in _PROXY_ENV)
        kind = "httpx" if self.proxy_env and _proxied(url) else "api"
        return self.async_client(kind) if is_async else self.sync_client(kind)

    def close(self) -> None:
        with self.lock:
            clients = [*self.sync.values(), self.auth_http]
            self.sync, self.auth_http = {}, None
        for client in clients:
            if client is not None:
                client.close()

    async def aclose(self) -> None:
        self.close()
        import asyncio  # loaded with the first async call, not at import
        loop = asyncio.get_running_loop()
        with self.lock:
            entries = [self.by_loop.pop(key) for key in [k for k in self.by_loop if k[0] is loop]]
        for entry in entries:
            await entry.client.aclose()
            entry.abandon()


#: ``_resources`` (the namespaces and, through them, the models) once first needed: an import
#: statement in the ``chat`` property would cost a trip through the import system on every call.
_resources: Any = None


def _load_resources() -> Any:
    global _resources
    from . import _resources as module

    _resources = module
    return module


class MistralGCP:
    """Mistral models on Vertex AI.

    >>> client = MistralGCP(project_id="my-project", region="europe-west4")
    >>> res = client.chat.complete(model="mistral-small-2503", messages=[{"role": "user", "content": "Hi"}])
    >>> print(res.choices[0].message.content)

    Nothing is looked up here: credentials (``access_token``, ``credentials`` or Application
    Default Credentials) and the project are resolved on the first request.
    """

    def __init__(
        self,
        project_id: Optional[str] = None,
        region: Optional[str] = None,
        access_token: Union[str, TokenProvider, None] = None,
        credentials: Any = None,
        server: Optional[str] = None,
        server_url: Optional[str] = None,
        url_params: Optional[Dict[str, str]] = None,
        client: Any = None,
        async_client: Any = None,
        retry_config: Optional[RetryConfig] = UNSET,
        timeout_ms: Optional[int] = None,
        debug_logger: Optional[logging.Logger] = None,
        *,
        quota_project_id: Optional[str] = None,
        allow_http: bool = False,
        log_bodies: bool = False,
        max_connections: int = POOL_SIZE,
    ) -> None:
        region = region or next((os.environ[k] for k in REGION_ENV if os.environ.get(k)), DEFAULT_REGION)
        self.region: str = _endpoints.check_region(region)
        if server_url is not None and server is not None:
            raise ConfigurationError("give server_url or server, not both")
        emulator_host = os.environ.get(EMULATOR_ENV) if server_url is None and server is None else None
        if emulator_host:
            server_url, allow_http = f"http://{emulator_host}", True
        base = server_url if server_url is not None else _endpoints.base_url(self.region, server)
        if url_params:
            base = _endpoints.template_url(base, url_params)
        self._allow_http = allow_http
        self.server_url: str = _endpoints.check_base_url(base, allow_http)
        if retry_config is UNSET:
            retry_config = DEFAULT_RETRY_CONFIG
        self.retry_config: Optional[RetryConfig] = retry_config
        if timeout_ms is not None and timeout_ms <= 0:
            raise ConfigurationError("timeout_ms must be a positive number of milliseconds")
        self.timeout_ms = timeout_ms
        self._logger = debug_logger or logger
        self._log_bodies = log_bodies
        self._client = client
        self._async_client = async_client
        self._owned = _Owned(max_connections)
        self._usage = UsageCounter()
        self._auth = Auth(
            access_token=access_token,
            credentials=credentials,
            project_id=project_id,
            quota_project_id=quota_project_id,
            http_factory=self._owned.auth_client,
        )
        self._headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "x-goog-api-client": _API_CLIENT,
        }
        weakref.finalize(self, self._owned.close)

    def __repr__(self) -> str:
        return f"MistralGCP(region={self.region!r}, server_url={self.server_url!r}, auth={self._auth!r})"

    # ------------------------------------------------------------------ namespaces
    # Built on access (they are two pointers): caching them on self would make a reference cycle.

    @property
    def chat(self) -> "Chat":
        return (_resources or _load_resources()).Chat(self)

    @property
    def fim(self) -> "Fim":
        return (_resources or _load_resources()).Fim(self)

    @property
    def ocr(self) -> "Ocr":
        return (_resources or _load_resources()).Ocr(self)

    # ------------------------------------------------------------------ accounting

    @property
    def usage(self) -> Usage:
        """Tokens and OCR pages used by this client's successful calls so far (a snapshot)."""
        return self._usage.snapshot()

    def reset_usage(self) -> Usage:
        """Start counting from zero; returns the totals up to now."""
        return self._usage.snapshot(reset=True)

    def count_tokens(self, messages: Any, model: str, tools: Any = None, tokenizer: Any = None) -> int:
        """Tokens a chat prompt takes, counted locally with mistral-common (the ``tokenizer`` extra).

        >>> client.count_tokens(messages=[{"role": "user", "content": "Hi"}], model="mistral-small-2503")
        """
        return count_tokens(messages, model, tools, tokenizer)

    @property
    def project_id(self) -> Optional[str]:
        """The project, if known without I/O (an argument, the environment, or already resolved)."""
        return self._auth._project

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the HTTP clients this SDK created (not the ones passed in)."""
        self._owned.close()

    async def aclose(self) -> None:
        await self._owned.aclose()

    def __enter__(self) -> MistralGCP:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> MistralGCP:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the request path

    def _call(self, operation: Operation, params: Dict[str, Any]) -> Any:
        prepared = operation.prepare(params)
        http = self._client if self._client is not None else self._owned.for_url(self._base_of(prepared), False)
        flow = self._flow(prepared, http)
        action: Action = next(flow)
        while True:
            kind = action[0]
            try:
                if kind == "send":
                    result: Any = http.send(action[1], stream=action[2])
                elif kind == "auth":
                    result = self._auth.headers()
                elif kind == "project":
                    result = self._auth.project()
                elif kind == "read":
                    result = action[1].read()
                elif kind == "close":
                    result = action[1].close()
                elif kind == "sleep":
                    result = time.sleep(action[1])
                else:  # "done"
                    if operation.stream:
                        from .streaming import EventStream

                        return _owned_by(EventStream(action[1], operation.decode, action[2], self._usage.record_stream), self)
                    return action[1]
            except Exception as exc:
                action = flow.throw(exc)
            else:
                action = flow.send(result)

    async def _call_async(self, operation: Operation, params: Dict[str, Any]) -> Any:
        prepared = operation.prepare(params)
        http = self._async_client if self._async_client is not None else self._owned.for_url(self._base_of(prepared), True)
        flow = self._flow(prepared, http)
        action: Action = next(flow)
        while True:
            kind = action[0]
            try:
                if kind == "send":
                    result: Any = await http.send(action[1], stream=action[2])
                elif kind == "auth":
                    result = await self._auth.aheaders()
                elif kind == "project":
                    result = await self._auth.aproject()
                elif kind == "read":
                    result = await action[1].aread()
                elif kind == "close":
                    result = await action[1].aclose()
                elif kind == "sleep":
                    import asyncio  # loaded with the first async call, not at import
                    result = await asyncio.sleep(action[1])
                else:  # "done"
                    if operation.stream:
                        from .streaming import EventStreamAsync

                        return _owned_by(EventStreamAsync(action[1], operation.decode, action[2], self._usage.record_stream), self)
                    return action[1]
            except Exception as exc:
                action = flow.throw(exc)
            else:
                action = flow.send(result)

    def _base_of(self, prepared: Prepared) -> str:
        return prepared.options.get("server_url") or self.server_url

    def _flow(self, prepared: Prepared, http: Any) -> Generator[Action, Any, None]:
        """Every decision of one call. Yields I/O actions; the value sent back is their result."""
        options = prepared.options
        operation = prepared.operation
        retry_config = options["retries"] if "retries" in options else self.retry_config
        retry = RetryState(retry_config, time.monotonic, time.time)
        timeout_ms = options.get("timeout_ms") or self.timeout_ms
        base = options.get("server_url")
        base = _endpoints.check_base_url(base, self._allow_http) if base else self.server_url
        headers = dict(self._headers)
        headers["accept"] = "text/event-stream" if operation.stream else "application/json"
        extra_headers = options.get("http_headers")
        if extra_headers:
            headers.update(extra_headers)
        build_kwargs: Dict[str, Any] = {"content": prepared.body}
        if timeout_ms is not None:
            build_kwargs["timeout"] = timeout_ms / 1000
        if self._auth.project_known:
            project = self._auth.project()
        else:
            project = yield ("project",)
        _endpoints.check_project(project)
        url = base + _endpoints.path_for(project, self.region, prepared.model, prepared.via_stream)
        log = self._logger
        if self._log_bodies and log.isEnabledFor(logging.DEBUG):
            log.debug("%s request body: %s", operation.name, prepared.body.decode("utf-8", "replace"))
        refreshed = False
        began = time.monotonic()
        while True:
            auth_headers = yield ("auth",)
            request = http.build_request("POST", url, headers={**headers, **auth_headers}, **build_kwargs)
            started = time.monotonic()
            try:
                response = yield ("send", request, operation.stream)
            except Exception as exc:
                if not is_transport_error(exc):
                    raise
                error = translate_transport_error(exc)
                delay = retry.after_connection_error()
                log.debug("%s %s failed: %s (retry in %s s)", operation.name, url, error, delay)
                if delay is None:
                    _redact(request)  # the transport exception chained below keeps this request
                    raise error from exc
                yield ("sleep", delay)
                continue
            status = response.status_code
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s POST %s -> %s in %.1f ms (attempt %d)",
                    operation.name, url, status, (time.monotonic() - started) * 1000, retry.retries + 1,
                )
            if status < 300:
                break
            if status == 401 and not refreshed and self._auth.can_refresh:
                refreshed = True
                yield ("close", response)
                self._auth.invalidate(auth_headers)
                continue
            delay = retry.after_status(status, response.headers)
            if delay is not None:
                yield ("close", response)
                yield ("sleep", delay)
                continue
            if operation.stream:
                yield ("read", response)
            _redact(request)
            raise error_for_response(_public(response))
        _redact(request)
        meta = ResponseMeta(status, response.headers, retry.retries, (time.monotonic() - began) * 1000)
        if operation.stream:
            yield ("done", response, meta)
            return
        if self._log_bodies and log.isEnabledFor(logging.DEBUG):
            log.debug("%s response body: %s", operation.name, response.text)
        try:
            result = operation.decode(response.content)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ResponseValidationError(
                f"{operation.name}: the {status} response is not a valid {operation.name} result: "
                f"{body_preview(response.text) or '(empty body)'}",
                _public(response),
            ) from exc
        object.__setattr__(result, "_meta", meta)  # outside the fields: not dumped, not compared
        self._usage.record(result)
        yield ("done", result)


def _redact(request: Any) -> None:
    """Errors and responses keep their request; it must not carry the token."""
    if "authorization" in request.headers:
        request.headers["authorization"] = _REDACTED


def _public(response: Any) -> Any:
    """Errors carry an httpx2 ``Response`` whichever client got the answer (ours converts on demand)."""
    as_httpx = getattr(response, "as_httpx", None)
    return as_httpx() if as_httpx is not None else response


def _owned_by(stream: Any, client: MistralGCP) -> Any:
    """A stream keeps its client alive: the client's finaliser closes the HTTP clients the stream reads from."""
    stream._client = client
    return stream
