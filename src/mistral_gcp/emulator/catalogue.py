"""The emulator's model catalogue: which Mistral models exist on Vertex, where, and their quotas.

The table (PROTOCOL.md §1.3) is the SDK's own, shared with the client. A lookup answers one question, "does this
(model, location) pair serve requests?"; everything else (retired models, legacy
``name@version`` ids, the ``global``/``us``/``eu`` locations, a region the model is not
offered in) gets the same "Publisher Model ... was not found" 404, as on the real service.
Tests and users can add models (``Catalogue(extra=...)`` or ``"id=region,region"`` strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

from .._catalogue import MODELS as _KNOWN

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


# One table for the SDK and the emulator: the SDK's catalogue (mistral_gcp/_catalogue.py).
MODELS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(
        m.id,
        frozenset(m.regions),
        qpm=m.qpm,
        input_tpm=m.tpm,
        output_tpm=m.output_tpm,
        retired=m.retired is not None,
    )
    for m in _KNOWN.values()
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
