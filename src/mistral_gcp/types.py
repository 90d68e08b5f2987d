"""Small shared types: the ``UNSET`` sentinel and the pydantic base every model derives from.

``UNSET`` tells "not given" apart from an explicit ``None`` (which is sent as JSON ``null``).
"""

from __future__ import annotations

from typing import Any, TypeVar, Union

from pydantic import BaseModel as _PydanticBaseModel
from pydantic import ConfigDict

__all__ = ["UNSET", "BaseModel", "Nullable", "OptionalNullable", "Unset"]


from ._unset import UNSET, UNSET_SENTINEL, Unset  # noqa: E402  (kept importable from here, as in the official client)

T = TypeVar("T")
Nullable = Union[T, None]
OptionalNullable = Union[T, None, Unset]


class BaseModel(_PydanticBaseModel):
    """Base of all models: keeps fields it does not know, so a new server field never breaks a client."""

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        allow_inf_nan=False,
        protected_namespaces=(),
        arbitrary_types_allowed=True,
        defer_build=True,  # schemas built on first use: a program pays only for the models it uses
    )
