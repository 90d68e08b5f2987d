"""pytest plugin: an ``emulator`` fixture backed by one in-process Vertex emulator per session.

Registered through the ``pytest11`` entry point. Importing this module costs nothing and
needs nothing beyond pytest: the emulator (and uvicorn, from the ``[emulator]`` extra) is
imported only when a test asks for the fixture.

    def test_retries_on_503(emulator):
        emulator.inject(status=503, times=1)
        reply = emulator.client().chat.complete(model="mistral-small-2503", messages=[...])
        assert [r.status for r in emulator.requests] == [503, 200]

Every test starts from the session server's start configuration: no faults, scripts,
records or quota use, the clock at now, and a valid ``emulator.token``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from mistral_gcp.testing import Emulator


@pytest.fixture(scope="session")
def mistral_gcp_emulator_session() -> "Iterator[Emulator]":
    """The session's emulator server (started on first use, stopped at the end)."""
    from mistral_gcp.testing import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(mistral_gcp_emulator_session: "Emulator") -> "Iterator[Emulator]":
    """The session's emulator, reset before and after the test."""
    mistral_gcp_emulator_session.reset()
    yield mistral_gcp_emulator_session
    mistral_gcp_emulator_session.reset()
