"""The one boundary where the HTTP library's exceptions become ours.

Both ``httpx`` and ``httpx2`` are accepted (a user may hand us either's client), so exceptions are
recognised by the names in their class hierarchy rather than by importing either library.
"""

from __future__ import annotations

from . import errors

#: transport exception class name → our error class; the first name found in the MRO wins.
_TABLE = (
    ("TimeoutException", errors.APITimeoutError),
    ("TransportError", errors.APIConnectionError),
)


def is_transport_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "TransportError" for cls in type(exc).__mro__)


def translate_transport_error(exc: BaseException) -> errors.MistralGCPError:
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, cls in _TABLE:
        if name in names:
            kind = "timed out" if cls is errors.APITimeoutError else "failed"
            return cls(f"the request {kind}: {type(exc).__name__}: {exc}")
    return errors.APIConnectionError(f"the request failed: {type(exc).__name__}: {exc}")
