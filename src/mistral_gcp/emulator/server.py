"""Running the emulator: uvicorn around :class:`~mistral_gcp.emulator.app.VertexApp`.

- :func:`serve` runs it in the calling thread until interrupted (Ctrl-C).
- :func:`run_forever` is what ``mistral-gcp emulator`` calls: it prints
  ``Vertex emulator listening on http://HOST:PORT`` once the socket is served, then blocks.
- :class:`BackgroundServer` runs it on a thread with its own event loop (``testing.Emulator``).
- ``python -m mistral_gcp.emulator.server --port 0`` is the same as the CLI command, with
  options generated from :func:`~mistral_gcp.emulator.app.cli_options`.

We bind the socket ourselves so that port 0 resolves to a real port before uvicorn starts,
and subclass ``uvicorn.Server`` only to learn, through a ``threading.Event``, when it is
accepting connections — no sleeping or polling.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
from typing import Any, Callable, Sequence

import uvicorn

from .app import EmulatorConfig, VertexApp, build_app, cli_options

READY_TIMEOUT = 30.0
GRACEFUL_SHUTDOWN = 1.0  # seconds uvicorn waits for in-flight requests before cancelling them

try:  # the C parser is much faster; h11 is the pure-Python fallback
    import httptools  # noqa: F401

    HTTP_IMPL = "httptools"
except ImportError:  # pragma: no cover - depends on the install
    HTTP_IMPL = "h11"


class _Server(uvicorn.Server):
    """uvicorn.Server that reports readiness and never touches signal handlers off the main thread."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._on_ready()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without
    # it every response (headers and body are two writes) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn_config(app: VertexApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=HTTP_IMPL,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        backlog=2048,
        server_header=False,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    config: EmulatorConfig | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in this thread until interrupted; ``on_ready(url)`` runs once connections are accepted."""
    app = build_app(config)
    sock = bind(host, port)
    url = url_of(sock)
    server = _Server(_uvicorn_config(app), lambda: on_ready(url) if on_ready else None)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        pass
    finally:
        sock.close()


def run_forever(host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
    """Print ``Vertex emulator listening on URL`` and serve until interrupted (the CLI command).

    ``options`` are :class:`EmulatorConfig` fields (see ``cli_options()`` for help texts).
    """

    def announce(url: str) -> None:
        print(f"Vertex emulator listening on {url}", flush=True)

    serve(host, port, EmulatorConfig(**options), announce)


class BackgroundServer:
    """The emulator on a daemon thread with its own event loop; ``start()``/``stop()``."""

    def __init__(self, app: VertexApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host, self.port = host, port
        self.url = ""
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def start(self) -> str:
        if self._thread is not None:
            return self.url
        sock = bind(self.host, self.port)
        self.url = url_of(sock)
        self._ready.clear()
        self._server = _Server(_uvicorn_config(self.app), self._mark_ready)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="vertex-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT) or not self._server.started:
            self.stop()
            raise RuntimeError(f"the Vertex emulator did not start: {self._error!r}")
        return self.url

    def _mark_ready(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready.set()

    def _run(self, sock: socket.socket) -> None:
        try:
            assert self._server is not None
            self._server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start(); SystemExit included
            self._error = exc
        finally:
            sock.close()
            self._ready.set()  # unblock start() if startup failed

    def stop(self) -> None:
        """Release hanging requests, ask uvicorn to exit, and wait for the thread."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None or server is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.app.release_hangs)
            except RuntimeError:  # the loop closed in between
                pass
        server.should_exit = True
        thread.join()
        self._thread = self._server = self._loop = None


def _parse_args(argv: Sequence[str] | None) -> tuple[str, int, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m mistral_gcp.emulator.server", description="Local Vertex AI emulator for Mistral models.")
    parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on.")
    parser.add_argument("--port", type=int, default=0, help="Port to listen on (0: any free port).")
    for option in cli_options():
        if option.kind is bool:
            parser.add_argument(option.flag, dest=option.name, action=argparse.BooleanOptionalAction, default=option.default, help=option.help)
        elif option.multiple:
            parser.add_argument(option.flag, dest=option.name, action="append", default=[], help=option.help + " (repeatable)")
        else:
            parser.add_argument(option.flag, dest=option.name, type=option.kind, default=option.default, help=option.help)
    args = vars(parser.parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    return host, port, options


def main(argv: Sequence[str] | None = None) -> int:
    host, port, options = _parse_args(argv)
    run_forever(host, port, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
