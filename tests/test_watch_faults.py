"""Issue 21, "Bad input and faults": a season copied in one go, a file rewritten without a pause,
a folder inside a collection deleted, a folder made unreadable, PostgreSQL lost mid-watch (the
inotify queue overflowing, found on the way).  Each through the real CLI in a
subprocess, on SQLite and PostgreSQL; each is reported, loses nothing and recovers without a
restart.  Nothing here is timed: every wait polls with a generous timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retrovue.database.tables import Asset
from tests.helpers import fs_config, make_tree
from tests.watch_helpers import FILES, WatchProcess


@pytest.fixture
def library(tmp_path):
    media = make_tree(tmp_path / "media", {"movies": FILES})
    return fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}), media


def _count(engine, prefix: Path | None = None, missing: bool | None = None) -> int:
    query = select(func.count()).select_from(Asset)
    if prefix is not None:
        query = query.where(Asset.c.canonical_uri.like(f"{prefix}{os.sep}%"))
    if missing is not None:
        query = query.where(
            Asset.c.missing_since.is_not(None) if missing else Asset.c.missing_since.is_(None)
        )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _distinct_uris(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count(func.distinct(Asset.c.canonical_uri)))).scalar_one()


def _row(engine, path: Path):
    with engine.connect() as conn:
        return conn.execute(
            select(Asset.c.id, Asset.c.size, Asset.c.missing_since).where(
                Asset.c.canonical_uri == str(path)
            )
        ).first()


def _reports(watching: WatchProcess, trigger: str) -> list[str]:
    return [line for line in watching.lines if f'{trigger} of source "Library"' in line]


def _plan_says_no_changes(config: Path, db_url: str) -> None:
    """A fresh plan finds nothing to do: nothing missed, nothing counted twice."""
    done = subprocess.run(
        [sys.executable, "-m", "retrovue", "plan", "-c", str(config), "--db", db_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "No changes." in done.stdout, done.stdout + done.stderr


# -- 1. a season copied: many files in a few new folders, written as fast as they can be -------

BURST_FOLDERS = 10
BURST_PER_FOLDER = 1000  # 10,000 files: a season (or ten) copied at once


def test_a_burst_of_10000_files_written_into_new_folders(watching, library, engine, db_url):
    config, media = library
    season = media / "movies" / "Show"
    season.mkdir()
    for f in range(BURST_FOLDERS):
        folder = season / f"Season {f + 1}"
        folder.mkdir()  # files land in it before the watcher has a watch there: listed whole
        for e in range(BURST_PER_FOLDER):
            (folder / f"Show - S{f + 1:02d}E{e:03d}.mkv").write_bytes(b"x")
    total = BURST_FOLDERS * BURST_PER_FOLDER
    watching.wait_for(lambda: _count(engine, season) == total, f"all {total} assets")
    watching.wait_for(lambda: _reports(watching, "watch-event"), "the report")
    time.sleep(1.0)  # a reconcile still to come would show in the counts below
    if watching.said("may have missed changes"):  # a batch big enough to have overflowed
        watching.wait_for(lambda: _reports(watching, "watch-resync"), "the re-list")
        assert "no changes" in _reports(watching, "watch-resync")[0]  # nothing was lost
    # folder reconciles (and a re-list if a batch was big enough to have overflowed the
    # kernel's queue), never one per file: each takes the folders settled since the last, so
    # their number follows how long the copy lasts (10 to 25 here, as the load goes), not how
    # many files it holds
    events = _reports(watching, "watch-event")
    assert 1 <= len(events) + len(_reports(watching, "watch-resync")) <= total // 100, watching.err
    # nothing counted twice
    assert _count(engine) == _distinct_uris(engine) == total + len(FILES)
    assert _count(engine, missing=True) == 0
    assert watching.proc.poll() is None
    assert watching.stop() == 0
    _plan_says_no_changes(config, db_url)


def test_events_lost_to_an_inotify_overflow_end_in_a_rescan(tmp_path, db_url, engine):
    """The kernel keeps at most fs.inotify.max_queued_events (16,384 here) events for a reader
    that falls behind, then drops the rest and says only "overflow" (IN_Q_OVERFLOW); watchfiles
    passes that on as nothing at all.  The watch is stopped (SIGSTOP: a reader descheduled)
    while 8,192 files land in one watched folder, three or four events each, then one file in
    another folder and one in the collection's root: their events are past the overflow, lost.
    They must become assets all the same, without waiting for the hourly resync."""
    # three or four events a file: half the queue's length in files overflows it
    queued = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    flood = queued // 2
    layout = [*FILES, "Extras/Trailer (2000).mkv", "Late/Early (2000).mkv"]
    media = make_tree(tmp_path / "media", {"movies": layout})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    extras = media / "movies" / "Extras"
    late = [media / "movies" / "Late" / "Late (2001).mkv", media / "movies" / "Root (2002).mkv"]
    watching = WatchProcess(config, db_url)
    try:
        watching.wait_for(lambda: watching.said("watch-start of source"), "the first reconcile")
        watching.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(flood):
                (extras / f"Extra {i:06d}.mkv").write_bytes(b"x")
            for path in late:
                path.write_bytes(b"x")
        finally:
            watching.proc.send_signal(signal.SIGCONT)
        watching.wait_for(lambda: _count(engine, extras) == flood + 1, "all the extras")
        watching.wait_for(
            lambda: all(_row(engine, p) is not None for p in late), "the files past the overflow"
        )
        assert watching.said("may have missed changes"), watching.err
        assert _count(engine) == _distinct_uris(engine) == len(layout) + flood + len(late)
        assert watching.stop() == 0
    finally:
        watching.kill()
    _plan_says_no_changes(config, db_url)


# -- 2. an event storm: one file rewritten without a pause ---------------------------------------


def test_a_file_rewritten_continuously_is_stored_once_whole_after_the_storm(
    library, db_url, engine
):
    """Rewritten every 30 ms for 5 s, each time in four flushed pieces (so it is often half
    written when looked at): while the storm lasts the file never settles, so it is neither
    stored nor reconciled for; once the writes stop it is stored once, whole."""
    config, media = library
    (media / "movies" / "Storm").mkdir()
    stormy = media / "movies" / "Storm" / "Storm (2024).mkv"
    # settle 1 s against writes 30 ms apart: a loaded machine may pause the writer for a moment
    watching = WatchProcess(config, db_url, "--settle", "1.0")
    try:
        watching.wait_for(lambda: watching.said("watch-start of source"), "the first reconcile")
        piece = b"x" * 4096
        end = time.monotonic() + 5.0
        writes = 0
        while time.monotonic() < end:
            with open(stormy, "wb") as out:
                for _ in range(4):
                    out.write(piece)
                    out.flush()
                    time.sleep(0.005)
            writes += 1
            if writes % 10 == 0:  # never stored mid-storm (neither half nor whole)
                assert _row(engine, stormy) is None, watching.err
            time.sleep(0.03)
        assert not _reports(watching, "watch-event"), watching.err  # no reconcile per write
        with open(stormy, "ab") as out:  # the last write: a size no earlier write had
            out.write(piece)
        watching.wait_for(lambda: _row(engine, stormy) is not None, "the file after the storm")
        assert _row(engine, stormy).size == 5 * 4096
        time.sleep(1.5)  # a second store would follow within a settle
        events = _reports(watching, "watch-event")
        assert len(events) == 1 and "assets +1 ~0 -0" in events[0], (writes, watching.err)
        assert watching.stop() == 0
    finally:
        watching.kill()


# -- 4. a folder inside a collection deleted, then made again ----------------------------------


def test_a_deleted_subfolder_goes_missing_and_comes_back_with_the_same_ids(
    tmp_path, db_url, engine
):
    """Two files of twelve in a folder deleted (17 %, under the mass-missing guard's 20 %):
    they go missing, the rest stays in line and is still watched; the folder made again with
    the same files: they reappear as the same assets."""
    season = ["Season 1/Show - S01E01.mkv", "Season 1/Show - S01E02.mkv"]
    media = make_tree(tmp_path / "media", {"movies": [*FILES, *season]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    folder = media / "movies" / "Season 1"
    paths = [media / "movies" / rel for rel in season]
    watching = WatchProcess(config, db_url)
    try:
        watching.wait_for(lambda: watching.said("watch-start of source"), "the first reconcile")
        ids = [_row(engine, p).id for p in paths]
        for p in paths:
            p.write_bytes(b"episode")  # a content of its own, recognised when it comes back
        watching.wait_for(lambda: all(_row(engine, p).size == 7 for p in paths), "the rewrite")

        shutil.rmtree(folder)
        watching.wait_for(
            lambda: all(_row(engine, p).missing_since is not None for p in paths),
            "the deleted folder's assets missing",
        )
        assert _count(engine, missing=True) == 2
        assert not watching.said("mass-missing guard held")
        # the rest is still watched
        added = media / "movies" / "After (2010).mkv"
        added.write_bytes(b"x")
        watching.wait_for(lambda: _row(engine, added) is not None, "a file after the deletion")

        folder.mkdir()
        for p in paths:
            p.write_bytes(b"episode")
        watching.wait_for(
            lambda: all(_row(engine, p).missing_since is None for p in paths), "the reappearance"
        )
        assert [_row(engine, p).id for p in paths] == ids  # the same assets, not new ones
        assert _count(engine) == _distinct_uris(engine) == len(FILES) + len(season) + 1
        assert watching.proc.poll() is None
        assert watching.stop() == 0
    finally:
        watching.kill()
    _plan_says_no_changes(config, db_url)


# -- 3. a folder made unreadable, then readable again ---------------------------------------------

#: capabilities that let root read any folder whatever its mode (linux/capability.h)
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
_PR_CAPBSET_DROP = 24


def _bound_by_permissions() -> None:
    """In the child, before exec: drop the two capabilities that let root ignore a folder's
    mode from the bounding set, so the watch, still uid 0 (the interpreter lives under a
    root-only home), is refused an unreadable folder as any user would be.  A test run as
    another user needs nothing: the mode bites already."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_unreadable_folder_is_reported_kept_and_caught_up_when_readable(
    tmp_path, db_url, engine
):
    """A folder of the collection made unreadable (chmod 300): the watch cannot list it, says
    so, and keeps its assets (an unlisted folder is not an empty one: nothing goes missing); a
    file written into it meanwhile waits; once the folder is readable again it is in line."""
    kept = ["Locked/Kept (2001).mkv", "Locked/Also Kept (2002).mkv"]
    media = make_tree(tmp_path / "media", {"movies": [*FILES, *kept]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    locked = media / "movies" / "Locked"
    kept_paths = [media / "movies" / rel for rel in kept]
    waiting = locked / "Written Meanwhile (2003).mkv"
    watching = WatchProcess(config, db_url, preexec_fn=_bound_by_permissions)
    try:
        watching.wait_for(lambda: watching.said("watch-start of source"), "the first reconcile")
        assert all(_row(engine, p) is not None for p in kept_paths)
        locked.chmod(0o300)  # not readable (not listable), still writable and enterable
        try:
            waiting.write_bytes(b"x")
            watching.wait_for(
                lambda: watching.said("skipped: cannot list folder: Permission denied"),
                "the report",
            )
            assert any("warning" in x and "cannot list folder" in x for x in watching.lines)
            time.sleep(1.0)  # what a wrong reconcile would do, done by now
            assert _count(engine, missing=True) == 0, watching.err
            assert _row(engine, waiting) is None
            assert watching.proc.poll() is None
            # the rest of the collection is still watched
            added = media / "movies" / "Meanwhile (2004).mkv"
            added.write_bytes(b"x")
            watching.wait_for(lambda: _row(engine, added) is not None, "a file beside it")
        finally:
            locked.chmod(0o755)
        watching.wait_for(lambda: _row(engine, waiting) is not None, "the folder caught up")
        assert _count(engine, missing=True) == 0
        assert watching.stop() == 0
    finally:
        watching.kill()
    _plan_says_no_changes(config, db_url)


# -- 5. the database lost in the middle of the watch, then back --------------------------------


class _Cuttable:
    """A TCP relay between the watch and PostgreSQL that can be cut: every live connection
    closed and new ones refused (a server restarting, a network gone), then let through again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        import socket
        import threading

        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.live: list = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self._lock:
                self.live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        self.open = False
        with self._lock:
            live, self.live = self.live, []
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.postgres
def test_a_database_lost_mid_watch_is_reported_and_caught_up(tmp_path, request):
    """PostgreSQL gone for a while (every connection cut, new ones refused) while files land:
    each reconcile fails, is reported and tried again with a growing delay (1, 2, 4 s ... at
    most 60 s, so an outage of a minute is caught up at most a minute after it ends); the
    watch keeps running, and once the server is back every file is in line.  The minute is
    scaled down: a claim lease of 2 s and an outage of 5 s, past the lease and past three
    retries, as a minute is past the default lease (60 s) and the backoff's cap; an expired
    claim no other watch took is renewed, so the watch still watches its source after it.
    SQLite has no server to lose: its file unreachable is the start case of test_watch.py."""
    from sqlalchemy.engine import make_url

    from tests.conftest import _fresh_pg

    db_url = _fresh_pg(request)
    direct = make_url(db_url)
    relay = _Cuttable((direct.host or "127.0.0.1", direct.port or 5432))
    via = direct.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    from retrovue.database.engine import DatabaseTarget, open_database

    checks = open_database(DatabaseTarget(db_url, False))
    media = make_tree(tmp_path / "media", {"movies": [*FILES, "A/Early (2000).mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    landed = [media / "movies" / "A" / "During (2001).mkv", media / "movies" / "Root (2002).mkv"]
    watching = WatchProcess(config, via, "--claim-lease", "2")
    try:
        watching.wait_for(lambda: watching.said("watch-start of source"), "the first reconcile")
        relay.cut()
        cut_at = time.monotonic()
        for path in landed:
            path.write_bytes(b"x")
        watching.wait_for(
            lambda: len([x for x in watching.lines if "watch-event" in x and "failed" in x]) >= 2,
            "the failures reported and retried",
        )
        assert watching.proc.poll() is None
        assert all(_row(checks, p) is None for p in landed)
        time.sleep(max(0.0, cut_at + 5.0 - time.monotonic()))
        assert watching.said("could not renew the watch's claims"), watching.err
        relay.open = True
        watching.wait_for(lambda: all(_row(checks, p) is not None for p in landed), "catch-up")
        # still this watch's source: a file landing now is taken as any other
        after = media / "movies" / "A" / "After (2003).mkv"
        after.write_bytes(b"x")
        watching.wait_for(lambda: _row(checks, after) is not None, "a file after the outage")
        assert not watching.said("is no longer watched"), watching.err
        assert _count(checks) == _distinct_uris(checks) == len(FILES) + 2 + len(landed)
        assert watching.stop() == 0
    finally:
        watching.kill()
        relay.close()
        checks.dispose()
    _plan_says_no_changes(config, db_url)
