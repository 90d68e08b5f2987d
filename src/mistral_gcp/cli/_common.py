"""The group, its error boundary and exit codes, and the options every command shares.

Exit codes: 0 success, 1 a request (or some of them) failed, 2 usage error, 130 interrupted.
Expected failures — any ``MistralGCPError`` — print one ``Error: ...`` message on stderr and no
traceback; a traceback means a bug.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import click

from .._version import __version__

CHAT_MODEL = "mistral-small-2503"
FIM_MODEL = "codestral-2"
OCR_MODEL = "mistral-ocr-2505"
INTERRUPTED = 130


class UsageFailure(click.ClickException):
    """A bad input discovered after parsing (a file that cannot be used): exit 2, like a usage error."""

    exit_code = 2


class _Group(click.Group):
    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None, standalone_mode: bool = True, **extra: Any) -> Any:  # type: ignore[override]
        try:
            code = super().main(args, prog_name or "mistral-gcp", complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            code = INTERRUPTED
        except BrokenPipeError:  # `mistral-gcp chat ... | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 1
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        from ..errors import MistralGCPError

        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except MistralGCPError as exc:
            raise click.ClickException(str(exc)) from None


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """SDK warnings (an unknown model, ...) as one line, not a source location."""
    click.echo(f"Warning: {message}", err=True)


@click.group("mistral-gcp", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mistral-gcp")
def cli() -> None:
    """Mistral models (chat, FIM, OCR) on Google Cloud Vertex AI.

    Credentials come from Application Default Credentials (gcloud auth application-default
    login, GOOGLE_APPLICATION_CREDENTIALS, or the metadata server). Add --emulator to any
    command to run it against the embedded Vertex emulator, no Google account needed.
    """


def main(argv: Optional[list] = None) -> None:
    """The ``mistral-gcp`` console script."""
    cli.main(args=argv, prog_name="mistral-gcp")


@dataclass
class Target:
    """Where a command sends its requests: the shared --project/--region/--emulator/--server-url."""

    project: Optional[str]
    region: Optional[str]
    emulator: bool
    server_url: Optional[str]

    def client(self, ctx: click.Context, **options: Any) -> Any:
        """A MistralGCP for this command; it (and an --emulator) stops when the command ends."""
        if self.emulator:
            if self.server_url:
                raise click.UsageError("--emulator and --server-url cannot be used together")
            try:
                from ..testing import Emulator

                emulator = ctx.with_resource(Emulator())
            except ImportError as exc:
                raise click.ClickException(f"--emulator needs the emulator extra ({exc}): pip install 'mistral-gcp[emulator]'") from None
            if self.region:
                options["region"] = self.region
            if self.project:
                options["project_id"] = self.project
            client = emulator.client(**options)
        else:
            from .._client import MistralGCP

            client = MistralGCP(project_id=self.project, region=self.region, server_url=self.server_url, **options)
        ctx.call_on_close(client.close)
        return client


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --project, --region, --emulator and --server-url; the command gets them as ``target``."""

    @functools.wraps(command)
    def wrapper(*args: Any, project: Optional[str], region: Optional[str], use_emulator: bool, server_url: Optional[str], **kw: Any) -> Any:
        return command(*args, target=Target(project, region, use_emulator, server_url), **kw)

    options = [
        click.option("--project", metavar="ID", help="Google Cloud project [default: $GOOGLE_CLOUD_PROJECT, else the credentials' project]."),
        click.option("--region", metavar="REGION", help="Vertex AI region [default: $GOOGLE_CLOUD_LOCATION, else europe-west4]."),
        click.option("--emulator", "use_emulator", is_flag=True, help="Run against the embedded Vertex emulator (no Google account needed)."),
        click.option("--server-url", metavar="URL", help="Send requests to this base URL instead of Google's regional host."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
