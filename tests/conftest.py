"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from helpers import Both


@pytest.fixture(params=["sync", "async"])
def both(request: pytest.FixtureRequest) -> Both:
    return Both(request.param)
