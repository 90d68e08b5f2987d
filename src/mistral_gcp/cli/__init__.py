"""The ``mistral-gcp`` command line.

    mistral-gcp chat "prompt"        mistral-gcp fim --prompt ... --suffix ...
    mistral-gcp ocr FILE_OR_URL      mistral-gcp doctor
    mistral-gcp batch in.jsonl -o out.jsonl
    mistral-gcp emulator --port 8080

``_common`` holds the group (the one place where SDK errors become a line on stderr and an exit
code), the options every command shares and the client they build; each command lives in its
own module. Only click is imported up front: the SDK, the emulator and rich load when a command
runs, so ``--help`` stays quick.
"""

from __future__ import annotations

from . import _batch, _doctor, _emulator, _talk  # noqa: F401  (each registers its commands)
from ._common import cli, main

__all__ = ["cli", "main"]
