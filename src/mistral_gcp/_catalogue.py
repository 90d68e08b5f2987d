"""What we know of Mistral models on Vertex AI (see PROTOCOL.md §1.3): a table, not code.

The client only warns about ids and locations outside this table (Google adds models faster
than SDKs ship); the emulator uses the same table to decide its 404s and quotas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

SERVED_REGIONS = ("us-central1", "europe-west4")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    kind: str  # "chat", "fim" (also chat-capable), "ocr"
    regions: Tuple[str, ...] = SERVED_REGIONS
    retired: Optional[str] = None  # date of shutdown, for retired models
    qpm: Optional[int] = None
    tpm: Optional[int] = None  # input tokens per minute
    output_tpm: Optional[int] = None
    context: Optional[int] = None
    max_pages: Optional[int] = None
    extra: Mapping[str, object] = field(default_factory=dict)


MODELS: Mapping[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo("mistral-medium-3", "chat", qpm=90, tpm=315_000, context=128_000),
        ModelInfo("codestral-2", "fim", qpm=1_100, tpm=1_100_000, output_tpm=110_000, context=128_000),
        ModelInfo("mistral-ocr-2505", "ocr", qpm=30, max_pages=30),
        ModelInfo("mistral-small-2503", "chat", qpm=60, tpm=400_000, context=128_000),
        ModelInfo("codestral-2501", "fim", retired="2026-01-23", qpm=60, tpm=400_000, context=32_000),
        ModelInfo("mistral-large-2411", "chat", retired="2026-01-23", qpm=60, tpm=400_000, context=128_000),
        ModelInfo("mistral-large@2407", "chat", retired="2025-04"),
        ModelInfo("mistral-nemo@2407", "chat", retired="2025-04"),
        ModelInfo("codestral@2405", "fim", retired="2025-04"),
    )
}

#: Locations Vertex knows that are not regions: served from their own hosts.
SPECIAL_LOCATIONS = ("global", "us", "eu")


def lookup(model: str) -> Optional[ModelInfo]:
    return MODELS.get(model)
