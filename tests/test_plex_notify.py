"""Issue 21: a Plex server's notifications as retrovue reads them — the message shapes, the
item-scoped fetch a notification leads to, and the listener thread (plexapi's real
``AlertListener`` against the fake server's websocket)."""

from __future__ import annotations

import queue
import time

import pytest

from retrovue.importers.base import StreamState, UpstreamChange
from retrovue.importers.plex import PlexImporter
from retrovue.importers.plex_notify import changes_in
from tests.fakeplex_ws import activity, timeline_entry


def _entry(section, key, state, kind="movie", **extra):
    return {**timeline_entry(str(section), key, kind, {"title": "T"}, state), **extra}


def test_only_finished_and_deleted_library_entries_are_changes():
    """The shapes of tests/fakeplex_ws.py (sources named there): states 0-4 are a scan in
    progress, 5 done, 9 deleted; ``sectionID`` -1 names no section; other identifiers are not
    library items."""
    container = {
        "type": "timeline",
        "size": 8,
        "TimelineEntry": [
            *(_entry(1, 100, state) for state in (0, 1, 2, 3, 4)),
            _entry(1, 100, 5),
            _entry(2, 200, 9, kind="episode"),
            _entry(-1, 300, 9),
            _entry(1, 400, 5, identifier="com.plexapp.system"),
            {"identifier": "com.plexapp.plugins.library", "state": "5", "sectionID": "3",
             "itemID": 500},  # numbers as strings and strings as numbers: both read
        ],
    }  # fmt: skip
    assert changes_in(container, 7.0) == [
        UpstreamChange("1", "100", False, 7.0),
        UpstreamChange("2", "200", True, 7.0),
        UpstreamChange(None, "300", True, 7.0),
        UpstreamChange("3", "500", False, 7.0),
    ]
    assert changes_in(activity("1", "Movies", "ended")["NotificationContainer"], 7.0) == []
    assert changes_in({"type": "timeline", "TimelineEntry": [None, "x"]}, 7.0) == []


@pytest.fixture
def library(fake_plex):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    films = [fake_plex.add_movie(movies, f"Film {i}", year=2000 + i) for i in range(3)]
    shows = fake_plex.add_section("2", "TV", "show", ["/data/TV"])
    show = fake_plex.add_show(shows, "Patrol", {1: 3, 2: 2})
    importer = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    return fake_plex, importer, films, show


def test_fetch_items_reads_only_the_items_named(library):
    plex, importer, films, show = library
    plex.log.clear()
    got = list(importer.fetch_items("1", [str(films[1].rating_key)]))
    assert [a.source_uri for a in got] == [f"plex://{films[1].rating_key}"]
    assert plex.requests_to(r"/library/sections/\d+/all") == []
    # a show stands for its episodes; an item of another section is not this one's
    episodes = list(importer.fetch_items("2", [str(show.rating_key)]))
    assert len(episodes) == 5 and all(a.kind == "episode" for a in episodes)
    assert list(importer.fetch_items("2", [str(films[0].rating_key)])) == []


def test_fetch_items_skips_an_item_gone_meanwhile(library):
    plex, importer, films, _show = library
    plex.remove(films[0])
    keys = [str(films[0].rating_key), str(films[2].rating_key), "not-a-key"]
    got = list(importer.fetch_items("1", keys))
    assert [a.source_uri for a in got] == [f"plex://{films[2].rating_key}"]


def _next(events: queue.Queue, kind, timeout: float = 30.0):
    while True:
        event = events.get(timeout=timeout)
        if isinstance(event, kind):
            return event


def test_the_stream_reports_changes_losses_and_reconnects(library):
    plex, importer, films, _show = library
    events: queue.Queue = queue.Queue()
    stream = importer.change_stream()
    stream.start(events.put)
    try:
        assert _next(events, StreamState) == StreamState(True, "notifications connected")
        plex.timeline(plex.sections["1"], [films[0]], state=5)
        change = _next(events, UpstreamChange)
        assert (change.collection, change.item, change.deleted) == (
            "1",
            str(films[0].rating_key),
            False,
        )
        plex.close_notifications()
        lost = _next(events, StreamState)
        assert lost == StreamState(
            False, "notifications lost: the server closed the stream; reconnecting"
        )
        again = _next(events, StreamState)  # after the first delay, 1 s
        assert again == StreamState(True, "notifications connected", reconnected=True)
    finally:
        stream.stop()
    deadline = time.monotonic() + 10
    while plex.notifications.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert plex.notifications.connected == 0  # stop closed the socket


def test_a_refused_token_is_said_without_the_token(library):
    plex, importer, _films, _show = library
    plex.ws_token = "only-for-http-not-this"
    events: queue.Queue = queue.Queue()
    stream = importer.change_stream()
    stream.start(events.put)
    try:
        refused = _next(events, StreamState)
    finally:
        stream.stop()
    assert refused.connected is False
    assert "rejected the token (401 Unauthorized)" in refused.message
    assert plex.token not in refused.message
