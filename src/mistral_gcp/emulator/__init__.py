"""A local Vertex AI emulator for Mistral models.

Two halves: ``backend.py`` answers like Mistral's own service (pure functions over request
bodies), and the Vertex side (``app.py`` with ``rpc``, ``auth``, ``faults``, ``catalogue``)
routes, authenticates, throttles and breaks requests like Google's front end does.
``server.py`` runs it under uvicorn; ``mistral_gcp.testing.Emulator`` runs it in-process.

Names are imported lazily so that ``import mistral_gcp.emulator`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EmulatorConfig": "app",
    "EmulatorState": "app",
    "VertexApp": "app",
    "build_app": "app",
    "cli_options": "app",
    "Fault": "faults",
    "ModelSpec": "catalogue",
    "serve": "server",
    "run_forever": "server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
