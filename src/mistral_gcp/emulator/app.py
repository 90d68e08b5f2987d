"""The emulator's ASGI application: the Vertex side of a fake ``aiplatform.googleapis.com``.

One raw ASGI callable (no framework, so a small request costs little) serves, on one port:

    POST /v1|/v1beta1/projects/{p}/locations/{loc}/publishers/{pub}/models/{id}:rawPredict
    POST …:streamRawPredict                      Mistral chat / FIM / OCR (backend.py)
    POST /token                                  OAuth token endpoint (auth.token_grant)
    GET  / and /computeMetadata/v1/…             GCE metadata server (auth.metadata_reply)
    POST /v1/projects/-/serviceAccounts/{e}:generateAccessToken   IAM Credentials
    GET|POST|DELETE /_emulator/…                 admin: faults, requests, reset, tokens, scripts

A predict request goes: route → read body → platform checks (auth, catalogue, IAM, enablement:
:meth:`EmulatorState.platform_problem`, pure) → JSON → operation → fault plan → quota →
backend validation → scripted or generated answer. Platform problems are google.rpc.Status
bodies (rpc.py); body problems are the backend's Mistral-style JSON. Nothing is sent as SSE
until the first chunk exists, so an error found before a stream starts is a plain JSON reply.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import secrets
from collections import deque
from dataclasses import dataclass, field, fields, replace
from itertools import chain
from typing import Any, Awaitable, Callable, Iterable, Iterator, Mapping, Union
from urllib.parse import parse_qsl

from . import auth, backend, rpc
from .catalogue import Catalogue, ModelLike
from .faults import NO_FAULTS, Fault, FaultBook, Plan, QuotaBook, ScriptBook

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

MiB = 1024 * 1024
STREAM_BATCH = 48 * 1024  # bytes joined into one send when chunks need no pacing
DONE = b"data: [DONE]\n\n"


def _opt(help: str, default: Any, multiple: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "multiple": multiple})


@dataclass
class EmulatorConfig:
    """Everything the emulator can be told at start; each field is also a CLI option.

    ``cli_options()`` lists them with help texts for ``mistral-gcp emulator``. Tuple fields
    take strings on the command line (repeat the option) and objects in Python.
    """

    project: str = _opt("Project id the metadata server reports and Emulator clients use.", default="test-project")
    project_number: str = _opt("Project number the metadata server reports.", default="123456789012")
    region: str = _opt("Region Emulator clients use.", default="europe-west4")
    service_account: str = _opt(
        "Service-account email the metadata server reports.",
        default="emulator@test-project.iam.gserviceaccount.com",
    )
    token_lifetime: int = _opt("Lifetime in seconds of the access tokens it issues.", default=3599)
    short_lived_tokens: bool = _opt(
        f"Issue {auth.SHORT_LIFETIME}s tokens (stale at once for google-auth) to exercise refresh paths.",
        default=False,
    )
    permissive_auth: bool = _opt("Accept any bearer token, not only tokens this emulator issued.", default=False)
    token_latency_ms: int = _opt(
        "Delay in ms before the OAuth, metadata and IAM side-services hand out a token (a slow token service).",
        default=0,
    )
    token_error: str = _opt(
        "Make the OAuth token endpoint refuse every grant with this OAuth error code, e.g. invalid_grant.", default=""
    )
    require_quota_project: bool = _opt(
        "Answer 403 SERVICE_DISABLED when x-goog-user-project is missing.", default=False
    )
    denied_projects: tuple[str, ...] = _opt("Projects that get 403 PERMISSION_DENIED.", default=(), multiple=True)
    enabled_models: Any = _opt(
        "PROJECT=MODEL,MODEL: only these models are enabled for PROJECT (others: 400 FAILED_PRECONDITION). "
        "Projects not named have every model enabled.",
        default=(),
        multiple=True,
    )
    extra_models: tuple[ModelLike, ...] = _opt(
        "MODEL[=REGION,REGION]: serve another model id (default regions us-central1, europe-west4).",
        default=(),
        multiple=True,
    )
    quotas: bool = _opt("Enforce per-minute request and token quotas from the model catalogue.", default=False)
    quota_limits: Any = _opt(
        "MODEL=QPM[,TPM]: override a model's quota (switches quotas on).", default=(), multiple=True
    )
    wrap_stream_errors: bool = _opt(
        "Wrap google.rpc.Status errors in a one-element JSON array on streamRawPredict.", default=False
    )
    require_model: bool = _opt("Reject bodies without a 'model' field (422).", default=True)
    allow_remote_urls: bool = _opt("Let OCR documents be http(s) URLs, not only data: URIs.", default=False)
    max_body_bytes: int = _opt("Largest request body on rawPredict (413 above).", default=10 * MiB)
    max_stream_body_bytes: int = _opt("Largest request body on streamRawPredict (413 above).", default=30 * MiB)
    gzip: bool = _opt("Gzip JSON replies when the client accepts gzip.", default=False)
    record_limit: int = _opt("How many recent requests to keep for inspection.", default=10_000)
    seed: int = _opt("Seed for the random draws of rate-based faults.", default=0)
    faults: tuple[Any, ...] = _opt(
        "KEY=VALUE,…: a fault rule, e.g. status=503,times=2 or chunk_delay_ms=5,method=streamRawPredict. "
        "Keys: status message rate times latency_ms chunk_delay_ms cut_after no_done hang model method operation region.",
        default=(),
        multiple=True,
    )


@dataclass(frozen=True)
class CliOption:
    """One command-line option derived from an EmulatorConfig field."""

    name: str
    flag: str
    kind: type
    default: Any
    help: str
    multiple: bool = False


def cli_options() -> list[CliOption]:
    """The EmulatorConfig fields as CLI options (bool → flag, tuple → repeatable string)."""
    kinds = {"str": str, "int": int, "bool": bool}
    options = []
    for f in fields(EmulatorConfig):
        multiple = bool(f.metadata.get("multiple"))
        kind = str if multiple else kinds.get(str(f.type), str)
        options.append(CliOption(f.name, "--" + f.name.replace("_", "-"), kind, f.default, f.metadata["help"], multiple))
    return options


def _pairs(specs: Any) -> dict[str, str]:
    """``("a=x", "b=y")`` or a mapping → ``{"a": "x", "b": "y"}`` (values kept as given)."""
    if isinstance(specs, Mapping):
        return dict(specs)
    return dict(spec.split("=", 1) for spec in specs)


def _fault(value: Any) -> Fault:
    """A fresh rule from a Fault (copied: rules count down), a mapping or a CLI string."""
    if isinstance(value, Fault):
        return replace(value)
    return Fault.from_mapping(value) if isinstance(value, Mapping) else Fault.parse(value)


def _names(value: Any) -> frozenset[str]:
    return frozenset(value.split(",") if isinstance(value, str) else value)


# ---------------------------------------------------------------- records


class RequestRecord:
    """One request as received, and what was answered. The token stays in memory only:
    ``repr`` and ``to_json`` show its last four characters."""

    __slots__ = ("method", "path", "query", "headers", "body", "time", "status", "chunks", "model", "operation", "client_port")

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], time: float) -> None:
        self.method, self.path, self.query, self.headers, self.time = method, path, query, headers, time
        self.body: Any = None
        self.status = 0
        self.chunks = 0
        self.model: str | None = None
        self.operation: str | None = None
        self.client_port: int | None = None  # the caller's TCP port: tells connection reuse apart from new connections

    @property
    def user_project(self) -> str | None:
        return self.headers.get("x-goog-user-project")

    @property
    def token(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value[:7].lower() == "bearer " else None

    def to_json(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if "authorization" in headers:
            headers["authorization"] = "Bearer …" + (self.token or "")[-4:]
        data = {name: getattr(self, name) for name in self.__slots__}
        data["headers"] = headers
        return data

    def __repr__(self) -> str:
        return f"<RequestRecord {self.method} {self.path} → {self.status} chunks={self.chunks}>"


# ---------------------------------------------------------------- state


class EmulatorState:
    """The mutable world behind the app: tokens, faults, quotas, scripts, records."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or auth.OffsetClock()
        self.tokens = auth.TokenBook(self.clock)
        self.public_keys: dict[str, bytes] = {}
        self.records: deque[RequestRecord] = deque()
        self.configure(config or EmulatorConfig())

    def configure(self, config: EmulatorConfig) -> None:
        """Apply ``config``: rebuilds catalogue, faults, quotas and scripts; keeps tokens and records."""
        self.config = cfg = config
        self.catalogue = Catalogue(cfg.extra_models)
        self.tokens.lifetime = auth.SHORT_LIFETIME if cfg.short_lived_tokens else cfg.token_lifetime
        self.faults = FaultBook(cfg.seed, (_fault(f) for f in cfg.faults))
        self.quotas = QuotaBook(self.catalogue, self.clock, cfg.quotas)
        for model, limits in _pairs(cfg.quota_limits).items():
            qpm, _, tpm = str(limits).partition(",")
            self.quotas.set_limit(model, int(qpm) if qpm else None, int(tpm) if tpm else None)
        self.scripts = ScriptBook()
        if self.records.maxlen != cfg.record_limit:
            self.records = deque(self.records, maxlen=cfg.record_limit)
        self.identity = auth.Identity(cfg.project, cfg.project_number, cfg.service_account)
        self.enabled = {p: _names(m) for p, m in _pairs(cfg.enabled_models).items()}
        self.denied = frozenset(cfg.denied_projects)

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Forget faults, scripts, records and quota windows; put the clock back."""
        self.configure(config or self.config)
        self.records.clear()
        if isinstance(self.clock, auth.OffsetClock):
            self.clock.offset = 0.0
        self.tokens.forget_expired()

    def platform_problem(
        self, headers: Mapping[str, str], project: str, location: str, publisher: str, model: str, method: str
    ) -> rpc.Problem | None:
        """The Google-side verdict on a predict call before its body matters, or None."""
        cfg = self.config
        problem = auth.check_bearer(headers.get("authorization"), self.tokens, method, cfg.permissive_auth)
        if problem:
            return problem
        if publisher != "mistralai" or self.catalogue.find(model, location) is None:
            return rpc.model_not_found(rpc.model_resource(project, location, model, publisher))
        if project in self.denied:
            return rpc.permission_denied(rpc.model_resource(project, location, model))
        if cfg.require_quota_project and not headers.get("x-goog-user-project"):
            return rpc.quota_project_required(project)
        allowed = self.enabled.get(project)
        if allowed is not None and model not in allowed:
            return rpc.model_not_enabled(project, rpc.model_resource(project, location, model))
        return None


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class Route:
    kind: str
    params: tuple[str, ...] = ()


_ID = r"[^/]+"
ROUTES: tuple[tuple[re.Pattern[str], str, frozenset[str]], ...] = (
    (
        re.compile(
            rf"/(v1|v1beta1)/projects/({_ID})/locations/({_ID})/publishers/({_ID})/models/([^/:%]+)"
            r"(?::|%3[aA])(rawPredict|streamRawPredict)"
        ),
        "predict",
        frozenset({"POST"}),
    ),
    (re.compile(rf"/v1/projects/-/serviceAccounts/([^/:]+)(?::|%3[aA])generateAccessToken"), "iam", frozenset({"POST"})),
    (re.compile(r"/token"), "token", frozenset({"POST"})),
    (re.compile(r"/|/computeMetadata/v1/.*"), "metadata", frozenset({"GET"})),
    (re.compile(r"/_emulator/(\w+)"), "admin", frozenset({"GET", "POST", "DELETE"})),
)


def route(method: str, path: str) -> Route | rpc.Problem:
    """Which handler serves ``method path``; a 404 or 405 Problem when none does."""
    for pattern, kind, methods in ROUTES:
        found = pattern.fullmatch(path)
        if found:
            if method not in methods:
                return rpc.from_status(405, f"Method {method} is not allowed on {path}.")
            return Route(kind, found.groups())
    return rpc.path_not_found(path)


# ---------------------------------------------------------------- response headers

_GFE: Headers = [
    (b"server", b"scaffolding on HTTPServer2"),
    (b"vary", b"Origin, X-Origin, Referer"),
    (b"x-xss-protection", b"0"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
]
STATUS_HEADERS: Headers = _GFE + [(b"content-type", b"application/json; charset=UTF-8")]
BACKEND_JSON_HEADERS: Headers = _GFE + [
    (b"x-vertex-ai-internal-prediction-backend", b"harpoon"),
    (b"content-type", b"application/json"),
]
SSE_HEADERS: Headers = _GFE + [
    (b"x-vertex-ai-internal-prediction-backend", b"harpoon"),
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]
PLAIN_JSON_HEADERS: Headers = [(b"content-type", b"application/json; charset=utf-8")]


def _with_request_id(base: Headers) -> Headers:
    request_id = secrets.token_hex(16).encode()
    return base + [(b"x-request-id", request_id), (b"mistral-correlation-id", request_id)]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _sse(chunk: Any) -> bytes:
    return b"data: " + _dumps(chunk) + b"\n\n"


_STREAM_BYTES = getattr(backend, "stream_bytes", None)


def _generated_stream(body: dict, operation: str, **options: Any) -> Iterator[bytes]:
    if _STREAM_BYTES is not None:
        return iter(_STREAM_BYTES(body, operation, **options))
    return chain(map(_sse, backend.stream_chunks(body, operation, **options)), (DONE,))


class ConnectionDropped(Exception):
    """Raised inside the app after a stream started, so that uvicorn drops the connection."""


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_DROP_FILTER = _HideDeliberateDrops()


# ---------------------------------------------------------------- the ASGI app


class VertexApp:
    """ASGI callable over an :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState | None = None) -> None:
        self.state = state or EmulatorState()
        self._hangs: set[asyncio.Future[None]] = set()
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
        self._admin: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = {
            ("GET", "requests"): lambda _: (200, {"requests": [r.to_json() for r in list(self.state.records)]}),
            ("GET", "faults"): lambda _: (200, self._faults_json()),
            ("POST", "faults"): self._add_faults,
            ("DELETE", "faults"): lambda _: (self.state.faults.clear(), (200, self._faults_json()))[1],
            ("POST", "reset"): lambda _: (self.state.reset(), (200, {"reset": True}))[1],
            ("POST", "tokens"): lambda b: (200, self.state.tokens.issue((b or {}).get("lifetime")).oauth_json()),
            ("DELETE", "tokens"): lambda _: (self.state.tokens.expire_all(), (200, {"expired": True}))[1],
            ("POST", "clock"): self._advance_clock,
            ("POST", "scripts"): self._add_script,
            ("DELETE", "scripts"): lambda _: (self.state.scripts.clear(), (200, {"scripts": 0}))[1],
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        found = route(method, path)
        if isinstance(found, rpc.Problem):
            await _respond(send, None, found.status, STATUS_HEADERS, found.encode())
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if found.kind == "admin":
            await self._serve_admin(method, found.params[0], receive, send)
            return
        record = RequestRecord(method, path, scope["query_string"].decode("latin-1"), headers, self.state.clock())
        record.client_port = (scope.get("client") or (None, None))[1]
        self.state.records.append(record)
        if found.kind == "predict":
            await self._predict(found.params, headers, record, receive, send)
        elif found.kind == "metadata":
            if path.endswith("/token"):
                await self._token_latency()
            status, kind, text = auth.metadata_reply(
                path, dict(parse_qsl(record.query)), headers.get("metadata-flavor"), self.state.tokens, self.state.identity
            )
            meta_headers = [(b"metadata-flavor", b"Google"), (b"content-type", kind.encode())]
            await _respond(send, record, status, meta_headers, text.encode())
        else:
            raw = await _read_body(receive, self.state.config.max_body_bytes)
            await self._token_latency()
            status, reply = self._side_service(found, headers, raw or b"", record)
            await _respond(send, record, status, PLAIN_JSON_HEADERS, _dumps(reply))

    # -- auth side-services ------------------------------------------------

    async def _token_latency(self) -> None:
        """``token_latency_ms``: a slow token service that leaves the emulator's own loop free."""
        delay = self.state.config.token_latency_ms
        if delay > 0:
            await asyncio.sleep(delay / 1000)

    def _side_service(self, found: Route, headers: Mapping[str, str], raw: bytes, record: RequestRecord) -> tuple[int, Any]:
        state = self.state
        if found.kind == "token":
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
            record.body = {k: v for k, v in form.items() if k not in auth.SECRET_FORM_FIELDS}
            return auth.token_grant(form, state.tokens, state.public_keys, refuse=state.config.token_error)
        # IAM generateAccessToken
        method = "google.iam.credentials.v1.IAMCredentials.GenerateAccessToken"
        problem = auth.check_bearer(headers.get("authorization"), state.tokens, method, state.config.permissive_auth)
        if problem:
            return problem.status, problem.to_json()
        try:
            record.body = json.loads(raw or b"null")
        except ValueError:
            return 400, rpc.invalid_json("Request body is not JSON.").to_json()
        return auth.generate_access_token(record.body, state.tokens)

    # -- admin -------------------------------------------------------------

    async def _serve_admin(self, method: str, name: str, receive: Receive, send: Send) -> None:
        handler = self._admin.get((method, name))
        raw = await _read_body(receive, self.state.config.max_body_bytes)
        if handler is None:
            problem = rpc.path_not_found(f"/_emulator/{name}")
            await _respond(send, None, problem.status, STATUS_HEADERS, problem.encode())
            return
        try:
            status, reply = handler(json.loads(raw) if raw else None)
        except (ValueError, TypeError) as exc:
            problem = rpc.from_status(400, str(exc))
            status, reply = problem.status, problem.to_json()
        await _respond(send, None, status, PLAIN_JSON_HEADERS, _dumps(reply))

    def _faults_json(self) -> dict[str, Any]:
        return {"faults": [f.to_json() for f in self.state.faults]}

    def _add_faults(self, body: Any) -> tuple[int, Any]:
        items = body if isinstance(body, list) else [body]
        rules = [Fault.from_mapping(item) for item in items]  # all parsed before any is added
        for rule in rules:
            self.state.faults.add(rule)
        return 200, self._faults_json()

    def _advance_clock(self, body: Any) -> tuple[int, Any]:
        clock = self.state.clock
        if not isinstance(clock, auth.OffsetClock):
            raise ValueError("this emulator runs on an external clock")
        clock.advance(float((body or {}).get("advance", 0)))
        return 200, {"offset": clock.offset}

    def _add_script(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or "pattern" not in body or "reply" not in body:
            raise ValueError("a script needs 'pattern' and 'reply'")
        self.state.scripts.add(body["pattern"], body["reply"], model=body.get("model"))
        return 200, {"added": True}

    # -- predict -----------------------------------------------------------

    async def _predict(
        self, params: tuple[str, ...], headers: dict[str, str], record: RequestRecord, receive: Receive, send: Send
    ) -> None:
        _version, project, location, publisher, model, method = params
        state, cfg = self.state, self.state.config
        record.model = model
        streaming = method == "streamRawPredict"
        wrap = streaming and cfg.wrap_stream_errors
        limit = cfg.max_stream_body_bytes if streaming else cfg.max_body_bytes
        raw = await _read_body(receive, limit)
        compress = cfg.gzip and "gzip" in headers.get("accept-encoding", "")

        async def fail(problem: rpc.Problem) -> None:
            await _respond(send, record, problem.status, STATUS_HEADERS, problem.encode(wrap), compress)

        problem = state.platform_problem(headers, project, location, publisher, model, method)
        if problem is None and raw is None:
            problem = rpc.payload_too_large(limit)
        if problem is not None:
            return await fail(problem)
        try:
            body = json.loads(raw)  # type: ignore[arg-type]
        except ValueError as exc:
            return await fail(rpc.invalid_json(str(exc)))
        if not isinstance(body, dict):
            return await fail(rpc.invalid_json("The request body must be a JSON object."))
        record.body = body
        try:
            operation = record.operation = backend.operation_of(body)
            plan = state.faults.plan(model, method, operation, location)
            if plan is not NO_FAULTS:
                if plan.latency:
                    await asyncio.sleep(plan.latency)
                if plan.hang:
                    await self._hang(receive)
                    return await fail(rpc.from_status(503, "The emulator is shutting down."))
                if plan.problem is not None:
                    return await fail(plan.problem)
            quota_project = headers.get("x-goog-user-project") or project
            if state.quotas.enabled:
                tokens = backend.count_tokens(raw.decode("utf-8", "replace"))  # type: ignore[union-attr]
                problem = state.quotas.charge(quota_project, location, model, tokens)
                if problem is not None:
                    return await fail(problem)
            backend.validate(body, operation, require_model=cfg.require_model)
            reply = state.scripts.answer(body, model) if state.scripts else None
            if operation == "ocr":
                result, extra = backend.ocr(body, allow_remote_urls=cfg.allow_remote_urls)
                extra_headers = [(k.lower().encode(), str(v).encode()) for k, v in extra.items()]
                return await self._json(send, record, result, compress, extra_headers)
            # the URL's model stands in for a missing body model; `created` follows the emulator clock
            options = {"text": reply if isinstance(reply, str) else None, "model": model, "created": int(state.clock())}
            if not streaming:
                result = reply if isinstance(reply, dict) else backend.complete(body, operation, **options)
                return await self._json(send, record, result, compress)
            pieces = _scripted_stream(reply) if isinstance(reply, (dict, list)) else _generated_stream(body, operation, **options)
            first = next(pieces)  # a body error surfaces here, before any SSE is sent
        except backend.BodyError as exc:
            status = exc.status
            await _respond(send, record, status, _with_request_id(BACKEND_JSON_HEADERS), _dumps(exc.payload), compress)
            return
        await self._stream(send, record, plan, first, pieces)

    async def _json(
        self, send: Send, record: RequestRecord, result: Any, compress: bool, extra: Headers | None = None
    ) -> None:
        headers = _with_request_id(BACKEND_JSON_HEADERS) + (extra or [])
        await _respond(send, record, 200, headers, _dumps(result), compress)

    async def _hang(self, receive: Receive) -> None:
        """Wait until the client goes away or the server stops (the caller then sends a 503,
        which a departed client never reads)."""
        released: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hangs.add(released)
        disconnect = asyncio.ensure_future(receive())
        try:
            await asyncio.wait({released, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._hangs.discard(released)
            disconnect.cancel()

    def release_hangs(self) -> None:
        """End every hanging request (call on the server's loop, e.g. before shutdown)."""
        for waiter in list(self._hangs):
            if not waiter.done():
                waiter.set_result(None)

    async def _stream(self, send: Send, record: RequestRecord, plan: Plan, first: bytes, rest: Iterator[bytes]) -> None:
        record.status = 200
        await send({"type": "http.response.start", "status": 200, "headers": _with_request_id(SSE_HEADERS)})
        if plan.plain_stream:
            batch, size, count = [first], len(first), 1
            for piece in rest:
                batch.append(piece)
                size += len(piece)
                count += 1
                if size >= STREAM_BATCH:
                    await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                    batch, size = [], 0
            record.chunks = count - 1  # the last piece is [DONE]
            await send({"type": "http.response.body", "body": b"".join(batch)})
            return
        for piece in chain((first,), rest):
            if piece == DONE and plan.no_done:
                break
            if plan.cut_after is not None and record.chunks >= plan.cut_after:
                raise ConnectionDropped(f"stream cut after {record.chunks} chunks")
            if plan.chunk_delay:
                await asyncio.sleep(plan.chunk_delay)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            record.chunks += piece != DONE
        await send({"type": "http.response.body", "body": b""})


def _scripted_stream(reply: Union[dict, list]) -> Iterator[bytes]:
    chunks: Iterable[Any] = reply if isinstance(reply, list) else [reply]
    return chain(map(_sse, chunks), (DONE,))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past ``limit``."""
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body if len(body) <= limit else None
    parts, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return b"".join(parts)


async def _respond(
    send: Send,
    record: RequestRecord | None,
    status: int,
    headers: Headers,
    body: bytes,
    compress: bool = False,
) -> None:
    if record is not None:
        record.status = status
    if compress and len(body) > 512:
        body = gzip.compress(body, compresslevel=1)
        headers = headers + [(b"content-encoding", b"gzip")]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + [(b"content-length", str(len(body)).encode())]}
    )
    await send({"type": "http.response.body", "body": body})


def build_app(config: EmulatorConfig | None = None, clock: Callable[[], float] | None = None) -> VertexApp:
    """A ready ASGI app for ``config``."""
    return VertexApp(EmulatorState(config, clock))
