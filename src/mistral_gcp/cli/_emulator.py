"""``emulator``: the local Vertex emulator in the foreground; its options come from ``EmulatorConfig``."""

from __future__ import annotations

from typing import Any, List

import click

from ._common import cli


class _EmulatorCommand(click.Command):
    """Its options are one per ``EmulatorConfig`` field, from ``cli_options()``; they are built on
    first use, so importing the emulator (~0.2 s) is paid only by ``mistral-gcp emulator``."""

    _config_added = False

    def get_params(self, ctx: click.Context) -> List[click.Parameter]:
        if not self._config_added:
            self._config_added = True
            self.params.extend(_config_params())
        return super().get_params(ctx)


def _config_params() -> List[click.Parameter]:
    try:
        from ..emulator.app import cli_options
    except ImportError:  # the command itself says what to install
        return []
    params: List[click.Parameter] = []
    for option in cli_options():
        if option.kind is bool:
            params.append(click.Option([f"{option.flag}/--no-{option.flag[2:]}", option.name], default=option.default, show_default=True, help=option.help))
        elif option.multiple:
            params.append(click.Option([option.flag, option.name], multiple=True, help=option.help + " Repeatable."))
        else:
            params.append(click.Option([option.flag, option.name], type=option.kind, default=option.default, show_default=True, help=option.help))
    return params


@cli.command(cls=_EmulatorCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port to listen on (0: any free port).")
def emulator(host: str, port: int, **options: Any) -> None:
    """Serve the Vertex AI emulator until Ctrl-C.

    Point the SDK at it with MISTRAL_GCP_EMULATOR_HOST=HOST:PORT (or server_url=).

    \b
      mistral-gcp emulator --port 8080 --permissive-auth --faults status=429,times=3
    """
    try:
        from ..emulator.server import run_forever
    except ImportError as exc:
        raise click.ClickException(f"the emulator needs its extra ({exc}): pip install 'mistral-gcp[emulator]'") from None
    run_forever(host, port, **options)
