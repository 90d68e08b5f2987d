"""Fixtures of the feature tests."""

from __future__ import annotations

import pytest

from features.documents import pdf_bytes, png_bytes


@pytest.fixture(scope="session")
def pdf() -> bytes:
    return pdf_bytes()


@pytest.fixture(scope="session")
def png() -> bytes:
    return png_bytes()
