"""Pytest plugin with the fake Plex server fixture; tests/conftest.py registers it via
``pytest_plugins = ["tests.fakeplex_fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeplex import FakePlex


@pytest.fixture
def fake_plex() -> Iterator[FakePlex]:
    """A running, empty fake Plex server; stopped after the test."""
    plex = FakePlex().start()
    try:
        yield plex
    finally:
        plex.stop()
