"""The emulator's model catalogue: which Mistral models exist on Vertex, where, and their quotas.

The table follows PROTOCOL.md §1.3. A lookup answers one question, "does this
(model, location) pair serve requests?"; everything else (retired models, legacy
``name@version`` ids, the ``global``/``us``/``eu`` locations, a region the model is not
offered in) gets the same "Publisher Model ... was not found" 404, as on the real service.
Tests and users can add models (``Catalogue(extra=...)`` or ``"id=region,region"`` strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

US_EU = frozenset({"us-central1", "europe-west4"})


@dataclass(frozen=True)
class ModelSpec:
    """One publisher model: its URL id, regions and per-region quotas (None = no limit)."""

    id: str
    regions: frozenset[str] = US_EU
    qpm: int | None = None
    input_tpm: int | None = None
    output_tpm: int | None = None
    retired: bool = False

    @classmethod
    def parse(cls, spec: str) -> "ModelSpec":
        """``"my-model"`` or ``"my-model=us-central1,europe-west4"`` (the CLI form)."""
        model_id, _, regions = spec.partition("=")
        names = frozenset(r.strip() for r in regions.split(",") if r.strip())
        return cls(model_id.strip(), names or US_EU)


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("mistral-medium-3", qpm=90, input_tpm=315_000),
    ModelSpec("codestral-2", qpm=1_100, input_tpm=1_100_000, output_tpm=110_000),
    ModelSpec("mistral-ocr-2505", qpm=30),
    # Quotas for Small 3.1 are not published; assumed to look like the others [I].
    ModelSpec("mistral-small-2503", qpm=60, input_tpm=400_000),
    # Shut down on 2026-01-23; kept so their old quotas stay documented.
    ModelSpec("codestral-2501", qpm=60, input_tpm=400_000, retired=True),
    ModelSpec("mistral-large-2411", qpm=60, input_tpm=400_000, retired=True),
)

ModelLike = Union[ModelSpec, str]


class Catalogue:
    """An O(1) (model, location) → ModelSpec map over the built-in table plus extras."""

    def __init__(self, extra: Iterable[ModelLike] = ()) -> None:
        self._models: dict[str, ModelSpec] = {m.id: m for m in MODELS}
        self._served: dict[tuple[str, str], ModelSpec] = {}
        for model in extra:
            self.add(model)
        self._reindex()

    def add(self, model: ModelLike) -> ModelSpec:
        spec = ModelSpec.parse(model) if isinstance(model, str) else model
        self._models[spec.id] = spec
        self._reindex()
        return spec

    def _reindex(self) -> None:
        self._served = {
            (m.id, region): m for m in self._models.values() if not m.retired for region in m.regions
        }

    def find(self, model: str, location: str) -> ModelSpec | None:
        """The model if it serves requests in ``location``; None means a 404."""
        return self._served.get((model, location))

    def get(self, model: str) -> ModelSpec | None:
        return self._models.get(model)

    def __iter__(self):
        return iter(self._models.values())
