"""Issue 21: `retrovue watch` hears a Plex server's notifications (the real CLI in a subprocess,
plexapi's real ``AlertListener`` over the fake server's websocket).

The resync is an hour: whatever the watch does within these tests' timeouts, it does because of
a notification or a reconnect, never because of the resync.  Nothing here is timed.
"""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset
from tests.watch_helpers import WatchProcess

TOKEN_ENV = "TEST_PLEX_TOKEN"
MOVIES = 10  # one deleted is 10 %, under the mass-missing guard's 20 %


@pytest.fixture
def plex_watch(fake_plex, tmp_path, db_url, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake_plex.token)
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    films = [fake_plex.add_movie(section, f"Film {i}", year=1990 + i) for i in range(MOVIES)]
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Den Plex",
                "type": "plex",
                "config": {"base_url": fake_plex.url, "token": "${" + TOKEN_ENV + "}"},
                "resync": "1h",
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    config = tmp_path / "retrovue.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config, section, films


def _start(config, db_url) -> WatchProcess:
    started = WatchProcess(config, db_url)
    started.wait_for(lambda: started.said("watch-start of source"), "the first reconcile")
    return started


def _asset(engine, rating_key: int):
    with engine.connect() as conn:
        return conn.execute(
            select(Asset.c.title, Asset.c.missing_since).where(
                Asset.c.source_uri == f"plex://{rating_key}"
            )
        ).first()


def _connected(watch: WatchProcess, times: int = 1) -> bool:
    return sum("notifications connected" in line for line in watch.lines) >= times


def test_an_added_item_is_ingested_on_its_notification(fake_plex, plex_watch, db_url, engine):
    config, section, _films = plex_watch
    watch = _start(config, db_url)
    try:
        watch.wait_for(lambda: _connected(watch), "the notification stream")
        added = fake_plex.add_movie(section, "Arrival", year=2016)
        assert _asset(engine, added.rating_key) is None  # not there before its notification
        fake_plex.log.clear()
        fake_plex.timeline(section, [added], state=5)
        watch.wait_for(lambda: _asset(engine, added.rating_key) is not None, "the new asset")
        watch.wait_for(lambda: watch.said('watch-event of source "Den Plex": ok'), "the report")
        assert not watch.said("watch-resync")
        # the item alone was read (by the plan, then by the executor), never the section
        assert fake_plex.requests_to(r"/library/sections/1/all") == []
        assert len(fake_plex.requests_to(rf"/library/metadata/{added.rating_key}")) == 2
        assert fake_plex.token not in watch.err
        assert watch.stop() == 0
    finally:
        watch.kill()


def test_a_burst_of_entries_is_one_reconcile(fake_plex, plex_watch, db_url, engine):
    """A season's worth of entries (each item's states 0…5, then the next's) is taken as one
    reconcile of the section; entries of other states and other identifiers are ignored."""
    config, section, _films = plex_watch
    watch = _start(config, db_url)
    try:
        watch.wait_for(lambda: _connected(watch), "the notification stream")
        added = [fake_plex.add_movie(section, f"Burst {i}", year=2000 + i) for i in range(5)]
        for item in added:
            for state in (0, 1, 2, 3, 4, 5):
                fake_plex.timeline(section, [item], state=state)
        fake_plex.activity(section)
        watch.wait_for(
            lambda: all(_asset(engine, i.rating_key) is not None for i in added), "all five"
        )
        watch.wait_for(lambda: watch.said('watch-event of source "Den Plex": ok'), "the report")
        events = [x for x in watch.lines if 'watch-event of source "Den Plex"' in x]
        assert len(events) == 1, events
        assert watch.stop() == 0
    finally:
        watch.kill()


def test_a_deletion_notification_marks_the_asset_missing(fake_plex, plex_watch, db_url, engine):
    config, section, films = plex_watch
    watch = _start(config, db_url)
    try:
        watch.wait_for(lambda: _connected(watch), "the notification stream")
        gone = films[0]
        fake_plex.remove(gone)
        fake_plex.timeline(section, [gone], state=9)
        watch.wait_for(
            lambda: (
                (row := _asset(engine, gone.rating_key)) is not None
                and row.missing_since is not None
            ),
            "the deleted item marked missing",
        )
        assert _asset(engine, films[1].rating_key).missing_since is None
        assert watch.stop() == 0
    finally:
        watch.kill()


def test_deleting_most_of_a_section_is_held_by_the_mass_missing_guard(
    fake_plex, plex_watch, db_url, engine
):
    config, section, films = plex_watch
    watch = _start(config, db_url)
    try:
        watch.wait_for(lambda: _connected(watch), "the notification stream")
        for film in films[:5]:
            fake_plex.remove(film)
        fake_plex.timeline(section, films[:5], state=9)
        watch.wait_for(lambda: watch.said("mass-missing guard held"), "the guard")
        assert all(_asset(engine, f.rating_key).missing_since is None for f in films)
        assert watch.stop() == 0
    finally:
        watch.kill()


def test_a_closed_stream_and_a_restarted_server_are_caught_up(
    fake_plex, plex_watch, db_url, engine
):
    """The server closes the websocket: the watch reconnects.  The server then stops, an item is
    added while it is down (no one hears of it) and it restarts on the same port: the watch
    reconnects with backoff and re-lists the source, so the item is ingested all the same."""
    config, section, _films = plex_watch
    watch = _start(config, db_url)
    try:
        watch.wait_for(lambda: _connected(watch), "the notification stream")
        fake_plex.close_notifications()
        watch.wait_for(
            lambda: watch.said("notifications lost: the server closed the stream; reconnecting"),
            "the loss reported",
        )
        watch.wait_for(lambda: _connected(watch, 2), "the reconnect")
        port = fake_plex.port
        fake_plex.stop()
        unheard = fake_plex.add_movie(section, "Unheard", year=2020)
        watch.wait_for(lambda: watch.said("Connection refused"), "the server down")
        fake_plex.start(port)
        watch.wait_for(lambda: _asset(engine, unheard.rating_key) is not None, "the catch-up")
        assert watch.said("re-listing the source")
        assert "Traceback" not in watch.err
        assert fake_plex.token not in watch.err
        assert watch.proc.poll() is None
        # and the new stream works
        added = fake_plex.add_movie(section, "After", year=2021)
        fake_plex.timeline(section, [added])
        watch.wait_for(lambda: _asset(engine, added.rating_key) is not None, "the new asset")
        assert watch.stop() == 0
    finally:
        watch.kill()


def test_a_refused_websocket_token_is_reported_and_the_watch_runs_on(
    fake_plex, plex_watch, db_url, engine
):
    config, section, _films = plex_watch
    fake_plex.ws_token = "another-token-entirely"
    doc = yaml.safe_load(config.read_text())
    doc["sources"][0]["resync"] = "2s"  # here the resync is what still keeps it in line
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    watch = _start(config, db_url)
    try:
        watch.wait_for(
            lambda: watch.said("notifications unavailable: the server rejected the token (401"),
            "the refusal",
        )
        assert "Traceback" not in watch.err and fake_plex.token not in watch.err
        # still running: the resync still ingests what no notification told
        added = fake_plex.add_movie(section, "Heard Anyway", year=2022)
        watch.wait_for(lambda: _asset(engine, added.rating_key) is not None, "the resync")
        # the report line follows the commit the asset showed: waited for, not raced
        watch.wait_for(
            lambda: watch.said('watch-resync of source "Den Plex": ok'), "the resync's report"
        )
        assert watch.stop() == 0
    finally:
        watch.kill()
