"""``chat``, ``fim`` and ``ocr``: one request, the answer on stdout.

Chat and FIM answers stream as they arrive unless ``--no-stream``; ``--json`` prints the whole
response instead. ``chat`` with no prompt reads stdin, or, when stdin is a terminal, holds an
interactive conversation (each turn sent with the ones before it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import click

from ._common import CHAT_MODEL, FIM_MODEL, OCR_MODEL, Target, cli, target_options


def _generation_options(command: Any) -> Any:
    """--model is per command; these four are shared by chat and fim."""
    for option in reversed(
        [
            click.option("-t", "--temperature", type=float, help="Sampling temperature."),
            click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens to generate."),
            click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON (implies --no-stream)."),
            click.option("--no-stream", is_flag=True, help="Print the answer once it is complete, not as it arrives."),
        ]
    ):
        command = option(command)
    return command


def _sampling(temperature: Optional[float], max_tokens: Optional[int]) -> Dict[str, Any]:
    return {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}


def _text(content: Any) -> str:
    """Message or delta content as text: a string, None, or a list of chunks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(c, "text", None) or (c.get("text", "") if isinstance(c, dict) else "") for c in content)


def _answer(namespace: Any, params: Dict[str, Any], as_json: bool, stream: bool) -> str:
    """Send one completion, print it, and return its text."""
    if as_json or not stream:
        response = namespace.complete(**params)
        text = _text(response.choices[0].message.content) if response.choices else ""
        click.echo(response.model_dump_json(by_alias=True, exclude_unset=True, indent=2) if as_json else text)
        return text
    pieces: List[str] = []
    with namespace.stream(**params) as events:
        for event in events:
            piece = _text(event.data.choices[0].delta.content) if event.data.choices else ""
            if piece:
                pieces.append(piece)
                click.echo(piece, nl=False)  # click.echo flushes: each piece shows as it arrives
    click.echo()
    return "".join(pieces)


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@cli.command()
@click.argument("prompt", nargs=-1)
@click.option("-m", "--model", default=CHAT_MODEL, show_default=True, help="Chat model id.")
@click.option("-s", "--system", help="A system message sent before the prompt.")
@_generation_options
@target_options
@click.pass_context
def chat(ctx: click.Context, prompt: tuple, model: str, system: Optional[str], temperature: Optional[float], max_tokens: Optional[int], as_json: bool, no_stream: bool, target: Target) -> None:
    """Ask a chat model; the answer streams to the terminal.

    PROMPT is the words after the options; without it the prompt is read from stdin, and when
    stdin is a terminal you get an interactive conversation (Ctrl-D to leave).

    \b
      mistral-gcp chat "Who is the best French painter?"
      git diff | mistral-gcp chat --system "Review this patch"
      mistral-gcp chat --emulator
    """
    text = " ".join(prompt)
    interactive = not text and _stdin_is_terminal()
    if not text and not interactive:
        text = sys.stdin.read().strip()
        if not text:
            raise click.UsageError("no prompt: give one as an argument or on stdin")
    messages = [{"role": "system", "content": system}] if system else []
    client = target.client(ctx)
    params = {"model": model, **_sampling(temperature, max_tokens)}
    if not interactive:
        _answer(client.chat, {**params, "messages": messages + [{"role": "user", "content": text}]}, as_json, not no_stream)
        return
    _converse(client, params, messages, as_json, not no_stream)


def _converse(client: Any, params: Dict[str, Any], messages: List[Dict[str, Any]], as_json: bool, stream: bool) -> None:
    from ..errors import MistralGCPError

    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:  # pragma: no cover - Windows
        pass
    click.echo(f"Chatting with {params['model']}. Ctrl-D or /exit to leave.", err=True)
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            click.echo(err=True)
            return
        if line in ("/exit", "/quit"):
            return
        if not line:
            continue
        messages.append({"role": "user", "content": line})
        try:
            reply = _answer(client.chat, {**params, "messages": messages}, as_json, stream)
        except MistralGCPError as exc:  # one failed turn does not end the conversation
            messages.pop()
            click.echo(f"Error: {exc}", err=True)
            continue
        messages.append({"role": "assistant", "content": reply})


@cli.command()
@click.option("-p", "--prompt", required=True, help="The code before the gap.")
@click.option("--suffix", help="The code after the gap.")
@click.option("-m", "--model", default=FIM_MODEL, show_default=True, help="FIM (Codestral) model id.")
@_generation_options
@target_options
@click.pass_context
def fim(ctx: click.Context, prompt: str, suffix: Optional[str], model: str, temperature: Optional[float], max_tokens: Optional[int], as_json: bool, no_stream: bool, target: Target) -> None:
    """Fill in the middle: the code between --prompt and --suffix.

    \b
      mistral-gcp fim --prompt "def fib(n):" --suffix "print(fib(10))"
    """
    params = {"model": model, "prompt": prompt, **_sampling(temperature, max_tokens)}
    if suffix is not None:
        params["suffix"] = suffix
    _answer(target.client(ctx).fim, params, as_json, not no_stream)


class PageList(click.ParamType):
    """``0,2-4`` → ``[0, 2, 3, 4]`` (page numbers start at 0, as in the API)."""

    name = "PAGES"

    def convert(self, value: Any, param: Any, ctx: Any) -> List[int]:
        if isinstance(value, list):
            return value
        pages: List[int] = []
        try:
            for part in filter(None, (p.strip() for p in str(value).split(","))):
                first, _, last = part.partition("-")
                start, end = int(first), int(last or first)
                if start < 0 or end < start:
                    raise ValueError
                pages.extend(range(start, end + 1))
        except ValueError:
            self.fail(f"{value!r} is not a page list such as 0,2-4", param, ctx)
        if not pages:
            self.fail("no pages given", param, ctx)
        return pages


@cli.command()
@click.argument("document", metavar="FILE_OR_URL")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write the markdown here instead of stdout.")
@click.option("--pages", type=PageList(), help="Only these pages, numbered from 0: 0,2-4.")
@click.option("-m", "--model", default=OCR_MODEL, show_default=True, help="OCR model id.")
@click.option("--json", "as_json", is_flag=True, help="Write the whole response as JSON instead of markdown.")
@target_options
@click.pass_context
def ocr(ctx: click.Context, document: str, output: Optional[Path], pages: Optional[List[int]], model: str, as_json: bool, target: Target) -> None:
    """Read a PDF or image (a file, or an http(s) URL) into markdown.

    \b
      mistral-gcp ocr invoice.pdf -o invoice.md
      mistral-gcp ocr https://example.com/scan.png --pages 0
    """
    is_url = document.startswith(("http://", "https://"))
    if not is_url and not Path(document).is_file():
        raise click.BadParameter(f"{document!r} is neither a file nor an http(s) URL", param_hint="FILE_OR_URL")
    params: Dict[str, Any] = {"model": model, "document": document if is_url else Path(document)}
    if pages is not None:
        params["pages"] = pages
    response = target.client(ctx).ocr.process(**params)
    if as_json:
        text = response.model_dump_json(by_alias=True, exclude_unset=True, indent=2) + "\n"
    else:
        text = "\n\n".join(page.markdown for page in response.pages) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {len(response.pages)} page(s) to {output}", err=True)
