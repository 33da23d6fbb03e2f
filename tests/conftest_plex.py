"""Pytest plugin with the fake Plex server fixtures (register: ``pytest_plugins = ["conftest_plex"]``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakeplex import FakePlex


@pytest.fixture
def fake_plex() -> Iterator[FakePlex]:
    """A running, empty fake Plex server; stopped after the test."""
    plex = FakePlex().start()
    try:
        yield plex
    finally:
        plex.stop()
