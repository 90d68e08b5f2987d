"""``batch``: a JSONL file of requests through ``mistral_gcp.batch``, with a live progress bar.

The bar (rich) shows only when stdout is a terminal; the summary always ends the run. Exit 0
when every request in the output succeeded, 1 when some failed, 2 when the files cannot be
used, 130 when interrupted (what finished is kept; a rerun does the rest).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import click

from ._common import INTERRUPTED, Target, UsageFailure, cli, target_options


def _regions(ctx: Any, param: Any, value: Optional[str]) -> List[str]:
    return [r.strip() for r in (value or "").split(",") if r.strip()]


def _progress_bar() -> Any:
    """A rich progress display (rich is imported here, only for terminals)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]:.1f}/s"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]} tokens"),
        transient=True,
    )


def _tracker(bar: Any) -> Callable[[Any], None]:
    task = bar.add_task("batch", total=None, failed=0, rate=0.0, tokens=0)

    def update(summary: Any) -> None:
        bar.update(task, total=summary.total, completed=summary.done, failed=summary.failed, rate=summary.rate, tokens=summary.tokens)

    return update


@cli.command()
@click.argument("input_file", metavar="IN.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results, one JSON line per request; rerun with the same file to resume.")
@click.option("-m", "--model", help="Model for requests that name none.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Requests in flight at once.")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True), help="Client-side limit: requests per minute.")
@click.option("--tpm", type=click.FloatRange(min=0, min_open=True), help="Client-side limit: tokens per minute.")
@click.option("--regions", callback=_regions, metavar="R1,R2", help="Spread requests over these regions; a 429 fails over to the next.")
@click.option("--retry-failed", is_flag=True, help="Run again the requests whose result in the output is an error.")
@target_options
@click.pass_context
def batch(ctx: click.Context, input_file: Path, output: Path, model: Optional[str], concurrency: int, rpm: Optional[float], tpm: Optional[float], regions: List[str], retry_failed: bool, target: Target) -> None:
    """Run every request of IN.jsonl (chat, FIM or OCR bodies, optional custom_id) into --output.

    Each output line holds the custom_id (and input line), then the response and usage, or a
    typed error. Rerunning with the same output skips what is done, also after Ctrl-C or a crash.

    \b
      mistral-gcp batch prompts.jsonl -o answers.jsonl --rpm 60 --regions us-central1,europe-west4
    """
    from .. import batch as bulk

    client = target.client(ctx)
    options = dict(concurrency=concurrency, rpm=rpm, tpm=tpm, regions=regions, model=model, retry_failed=retry_failed)
    seen: List[Any] = []

    def remember(summary: Any) -> None:
        if not seen:
            seen.append(summary)

    bar = _progress_bar() if sys.stdout.isatty() else None
    try:
        if bar is None:
            summary = bulk.run(client, input_file, output, on_progress=remember, **options)
        else:
            with bar:
                track = _tracker(bar)
                summary = bulk.run(client, input_file, output, on_progress=lambda s: (remember(s), track(s)), **options)
    except bulk.BatchInputError as exc:
        raise UsageFailure(str(exc)) from None
    except KeyboardInterrupt:
        if seen:
            seen[0].interrupted = True
            click.echo(f"Interrupted: {seen[0].describe()}. Rerun the same command to finish.", err=True)
        ctx.exit(INTERRUPTED)
    click.echo(summary.describe())
    if not summary.all_ok:
        ctx.exit(1)
