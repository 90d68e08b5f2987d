"""mistral-gcp: Mistral AI models (chat, FIM, OCR) on Google Cloud Vertex AI.

>>> from mistral_gcp import MistralGCP
>>> client = MistralGCP(project_id="my-project", region="europe-west4")

Names are imported on first use, so ``import mistral_gcp`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import errors, models, utils
    from ._client import MistralGCP
    from ._retry import BackoffStrategy, RetryConfig
    from .streaming import EventStream, EventStreamAsync
    from .types import UNSET

VERSION = __version__

_LAZY = {
    "MistralGCP": ("._client", "MistralGCP"),
    "RetryConfig": ("._retry", "RetryConfig"),
    "BackoffStrategy": ("._retry", "BackoffStrategy"),
    "EventStream": (".streaming", "EventStream"),
    "EventStreamAsync": (".streaming", "EventStreamAsync"),
    "UNSET": (".types", "UNSET"),
    "models": (".models", None),
    "errors": (".errors", None),
    "utils": (".utils", None),
    "httpclient": (".httpclient", None),
    "types": (".types", None),
}

__all__ = ["VERSION", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mistral_gcp' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(__all__)
