"""Pytest plugin with the fake Jellyfin and Emby server fixtures; tests/conftest.py registers it
via ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakejellyfin import FakeJellyfin


@pytest.fixture(params=["jellyfin", "emby"])
def fake_media_server(request) -> Iterator[FakeJellyfin]:
    """A running, empty fake server of each flavour (the test runs once per type)."""
    server = FakeJellyfin(flavor=request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_jellyfin() -> Iterator[FakeJellyfin]:
    """A running, empty fake Jellyfin server."""
    server = FakeJellyfin().start()
    try:
        yield server
    finally:
        server.stop()
