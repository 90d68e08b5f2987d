"""The ``UNSET`` sentinel, in a module of its own so the client can use it without importing pydantic."""

from __future__ import annotations

from typing import Any


class Unset:
    """The type of :data:`UNSET`: a value that was not given at all."""

    _instance: "Unset | None" = None

    def __new__(cls) -> "Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()
UNSET_SENTINEL = "~?~unset~?~sentinel~?~"
