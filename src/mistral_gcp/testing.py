"""Test helpers: the Vertex emulator in-process, on a free port, for one test or a session.

    from mistral_gcp.testing import Emulator

    with Emulator() as emu:
        emu.inject(status=503, times=1)              # the next request gets a 503
        emu.script("hello", "Hi there!")             # canned answer for a user message
        client = emu.client()                        # MistralGCP aimed at the emulator
        ...
        assert emu.last_request.status == 200

Auth is strict by default, as on Vertex: the API accepts only tokens this emulator issued.
``emu.token`` is one, issued at start; ``emu.client()`` uses it. ``emu.issue_token()`` mints
more, ``emu.expire_tokens()`` expires all of them, and ``emu.advance(seconds)`` moves the
emulator's clock (token expiry, quota windows) without sleeping. Pass
``permissive_auth=True`` to accept any bearer token.

The pytest plugin (``mistral_gcp.pytest_plugin``) provides an ``emulator`` fixture: one
server per session, reset before every test.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the emulator needs the [emulator] extra; import it only when used
    from .emulator.app import EmulatorConfig, EmulatorState, RequestRecord
    from .emulator.faults import Fault, FaultBook, QuotaBook

__all__ = ["Emulator"]


class Emulator:
    """A Vertex AI emulator served by uvicorn on a background thread.

    Options are :class:`~mistral_gcp.emulator.app.EmulatorConfig` fields, e.g.
    ``Emulator(permissive_auth=True, quotas=True, faults=[{"status": 429, "times": 1}])``.
    """

    def __init__(
        self,
        config: "EmulatorConfig | None" = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        **options: Any,
    ) -> None:
        from .emulator.app import EmulatorConfig, build_app

        base = config or EmulatorConfig()
        if "faults" in options:
            options["faults"] = tuple(options["faults"])
        self._config = dataclasses.replace(base, **options)
        self._app = build_app(self._config, clock)
        self._host, self._port = host, port
        self._server: Any = None
        self._key: Any = None
        self.token = ""

    # -- life cycle ----------------------------------------------------------

    def start(self) -> "Emulator":
        from .emulator.server import BackgroundServer

        if self._server is None:
            self._server = BackgroundServer(self._app, self._host, self._port)
            self._server.start()
            self.token = self.issue_token()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the start configuration: no faults, scripts, records or quota use; clock at now."""
        self.state.reset(self._config)
        if self.state.tokens.expires_at(self.token) is None:
            self.token = self.issue_token()

    def configure(self, **options: Any) -> None:
        """Change EmulatorConfig fields while running (``reset()`` restores the start values)."""
        self.state.configure(dataclasses.replace(self.state.config, **options))

    # -- where it is ---------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return self._server.url

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``, the form ``GCE_METADATA_HOST``/``GCE_METADATA_IP`` take."""
        return self.url.split("://", 1)[1]

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def iam_endpoint(self, email: str) -> str:
        """The full ``generateAccessToken`` URL for impersonating ``email`` (``iam_endpoint_override``)."""
        return f"{self.url}/v1/projects/-/serviceAccounts/{email}:generateAccessToken"

    @property
    def state(self) -> "EmulatorState":
        return self._app.state

    @property
    def config(self) -> "EmulatorConfig":
        return self.state.config

    @property
    def project(self) -> str:
        return self.config.project

    @property
    def region(self) -> str:
        return self.config.region

    # -- clients -------------------------------------------------------------

    def _client_options(self, kw: dict[str, Any]) -> dict[str, Any]:
        options = {"project_id": self.project, "region": self.region, "access_token": self.token, "server_url": self.url}
        options.update(kw)
        return options

    def client(self, **kw: Any) -> Any:
        """A ``mistral_gcp.MistralGCP`` aimed at this emulator with a valid token."""
        from mistral_gcp import MistralGCP  # type: ignore[attr-defined]

        return MistralGCP(**self._client_options(kw))

    def async_client(self, **kw: Any) -> Any:
        """The same client, for use with the ``*_async`` methods."""
        return self.client(**kw)

    def predict_url(self, model: str, method: str = "rawPredict", *, project: str | None = None, region: str | None = None, version: str = "v1") -> str:
        project, region = project or self.project, region or self.region
        return f"{self.url}/{version}/projects/{project}/locations/{region}/publishers/mistralai/models/{model}:{method}"

    # -- auth ------------------------------------------------------------------

    def issue_token(self, lifetime: int | None = None) -> str:
        """A new access token the API accepts until ``lifetime`` seconds (default from config) pass."""
        return self.state.tokens.issue(lifetime).token

    def expire_tokens(self) -> None:
        """Expire every token issued so far (the next API call gets 401 ACCESS_TOKEN_EXPIRED)."""
        self.state.tokens.expire_all()

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward (token expiry, quota windows)."""
        advance = getattr(self.state.clock, "advance", None)
        if advance is None:
            raise RuntimeError("this emulator runs on a clock you supplied; advance that one")
        advance(seconds)

    def service_account_info(self, email: str | None = None, *, project_id: str | None = None) -> dict[str, Any]:
        """A service-account key (JSON dict) whose ``token_uri`` is this emulator.

        The RSA key is generated once per Emulator and registered, so the token endpoint
        checks the JWT signatures made with it.
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if self._key is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = email or self.config.service_account
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.state.public_keys[email] = public
        return {
            "type": "service_account",
            "project_id": project_id or self.project,
            "private_key_id": "emulator-key-1",
            "private_key": pem,
            "client_email": email,
            "client_id": "100000000000000000001",
            "token_uri": self.token_uri,
        }

    # -- behaviour on demand ----------------------------------------------------

    @property
    def faults(self) -> "FaultBook":
        return self.state.faults

    @property
    def quotas(self) -> "QuotaBook":
        return self.state.quotas

    def inject(self, status: int | None = None, *, times: int | None = 1, **options: Any) -> "Fault":
        """Add a fault rule; by default the next matching request gets ``status``.

        ``emu.inject(status=503, times=2)``, ``emu.inject(chunk_delay_ms=5, times=None)``,
        ``emu.inject(cut_after=3, method="streamRawPredict")``. See ``Fault`` for the options.
        """
        return self.faults.add(status=status, times=times, **options)

    def script(self, matcher: Any, reply: Any = None, *, model: str | None = None) -> None:
        """Answer matching requests with ``reply``.

        ``matcher`` is a regex (a plain substring works) searched in the last user message,
        or a callable ``(body) -> reply | None``. A ``str`` reply becomes the generated text;
        a ``dict`` is sent as the whole response (or as one stream chunk); a list of dicts is
        sent as the stream's chunks.
        """
        self.state.scripts.add(matcher, reply, model=model)

    # -- what happened ----------------------------------------------------------

    @property
    def requests(self) -> "list[RequestRecord]":
        return list(self.state.records)

    @property
    def last_request(self) -> "RequestRecord | None":
        records = self.state.records
        return records[-1] if records else None

    def requests_to(self, model: str | None = None, *, path_contains: str | None = None) -> "list[RequestRecord]":
        return [
            r
            for r in self.requests
            if (model is None or r.model == model) and (path_contains is None or path_contains in r.path)
        ]

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not running"
        return f"<Emulator {where}>"
