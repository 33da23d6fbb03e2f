"""Issue 21: two `retrovue watch` processes may run at once only if their sources do not overlap.

Real CLI subprocesses on both backends.  A watch claims each source it watches for its whole
life (``watch_claims``, a renewed lease); nothing here is timed: each test polls with a
generous timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, WatchClaim
from tests.helpers import make_tree
from tests.watch_helpers import TIMEOUT, WatchProcess


def _config(path: Path, sources: dict[str, Path]) -> Path:
    """A config of filesystem sources (name -> base path), each syncing collection "movies"."""
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "movies", "sync": True}],
            }
            for name, base in sources.items()
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _media(base: Path, prefix: str) -> Path:
    return make_tree(base, {"movies": [f"{prefix} {i} ({2000 + i}).mkv" for i in range(5)]})


def _started(proc: WatchProcess, source: str) -> WatchProcess:
    proc.wait_for(lambda: proc.said(f'watch-start of source "{source}"'), "the first reconcile")
    return proc


def _exited(proc: WatchProcess) -> int:
    try:
        return proc.proc.wait(TIMEOUT)
    finally:
        proc._reader.join(5)


def _claims(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(WatchClaim.c.source_name, WatchClaim.c.pid)).all()


def _assets_under(engine, base: Path) -> int:
    with engine.connect() as conn:
        uris = conn.execute(select(Asset.c.canonical_uri)).scalars().all()
    return sum(1 for u in uris if u.startswith(str(base)))


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retrovue", *args, "--db", db_url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_an_overlapping_watch_is_refused_naming_the_holder(tmp_path, db_url, engine):
    first_media = _media(tmp_path / "nas1", "Film")
    other_media = _media(tmp_path / "nas2", "Other")
    first = _started(
        WatchProcess(_config(tmp_path / "a.yaml", {"Library": first_media}), db_url), "Library"
    )
    # the second declares the same source (by name, case aside) beside one of its own
    second_config = _config(tmp_path / "b.yaml", {"library": other_media, "Spare": other_media})
    second = WatchProcess(second_config, db_url)
    try:
        code = _exited(second)
        assert code == 1, second.err
        err = second.err
        assert 'source "Library"' in err
        assert f"pid {first.proc.pid}" in err
        assert socket.gethostname() in err
        assert "watching since" in err
        assert "Traceback" not in err
        # it reconciled nothing: neither its own source nor the overlapping one's new path
        assert not second.said("watch-start of source")
        assert _assets_under(engine, other_media) == 0
        assert [c.pid for c in _claims(engine)] == [first.proc.pid]
        # apply is not blocked by a watch's claim: it coordinates by the write locks
        applied = _cli(db_url, "apply", "-c", str(tmp_path / "a.yaml"), "--lock-timeout", "60")
        assert applied.returncode == 0, applied.stderr
        # status names the watch that holds the source
        shown = _cli(db_url, "status")
        assert "watched by:     " in shown.stdout and f"pid {first.proc.pid}" in shown.stdout
        assert first.proc.poll() is None
    finally:
        second.kill()
        first.kill()


def test_watches_of_disjoint_sources_both_run(tmp_path, db_url, engine):
    one = _media(tmp_path / "nas1", "Film")
    two = _media(tmp_path / "nas2", "Other")
    first = WatchProcess(_config(tmp_path / "a.yaml", {"NAS one": one}), db_url)
    second = WatchProcess(_config(tmp_path / "b.yaml", {"NAS two": two}), db_url)
    try:
        _started(first, "NAS one")
        _started(second, "NAS two")
        assert first.proc.poll() is None and second.proc.poll() is None
        assert sorted(_claims(engine)) == [
            ("NAS one", first.proc.pid),
            ("NAS two", second.proc.pid),
        ]
        # each keeps its own source in line while the other runs
        (two / "movies" / "New One (2024).mkv").write_bytes(b"x")
        second.wait_for(lambda: _assets_under(engine, two) == 6, "the new file as an asset")
        assert _assets_under(engine, one) == 5
        assert first.stop() == 0
        assert second.stop() == 0
        assert _claims(engine) == []
    finally:
        first.kill()
        second.kill()


def test_sigterm_releases_the_claim_at_once(tmp_path, db_url, engine):
    media = _media(tmp_path / "nas1", "Film")
    config = _config(tmp_path / "a.yaml", {"Library": media})
    # a long lease: only the release can free the source this soon
    first = _started(WatchProcess(config, db_url, "--claim-lease", "600"), "Library")
    try:
        assert [c.pid for c in _claims(engine)] == [first.proc.pid]
        assert first.stop() == 0
        assert _claims(engine) == []
        second = _started(WatchProcess(config, db_url), "Library")
        assert [c.pid for c in _claims(engine)] == [second.proc.pid]
        second.kill()
    finally:
        first.kill()


def test_a_killed_watchs_claim_is_taken_over(tmp_path, db_url, engine):
    media = _media(tmp_path / "nas1", "Film")
    config = _config(tmp_path / "a.yaml", {"Library": media})
    first = _started(WatchProcess(config, db_url, "--claim-lease", "600"), "Library")
    second = None
    try:
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        assert [c.pid for c in _claims(engine)] == [first.proc.pid]  # left behind
        # on this host its pid is seen gone: no need to wait out the 600 s lease
        second = _started(WatchProcess(config, db_url), "Library")
        assert [c.pid for c in _claims(engine)] == [second.proc.pid]
        assert second.said("took over the claim of a watch that is gone")
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_a_frozen_watchs_claim_is_taken_over_after_its_lease(tmp_path, db_url, engine):
    """SIGSTOP stands for a machine that stopped answering: its pid lives on, so only the lease
    frees the source.  Woken up, the old watch finds its claim gone and stops watching it."""
    media = _media(tmp_path / "nas1", "Film")
    config = _config(tmp_path / "a.yaml", {"Library": media})
    lease = 8.0
    first = _started(WatchProcess(config, db_url, "--claim-lease", str(lease)), "Library")
    second = third = None
    try:
        first.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        second = WatchProcess(config, db_url)
        assert _exited(second) == 1, second.err
        assert time.monotonic() - stopped_at < lease, "too slow to tell: the lease ran out"
        assert f"pid {first.proc.pid}" in second.err
        time.sleep(max(lease - (time.monotonic() - stopped_at), 0) + 1)
        third = _started(WatchProcess(config, db_url), "Library")
        assert [c.pid for c in _claims(engine)] == [third.proc.pid]
        first.proc.send_signal(signal.SIGCONT)
        first.wait_for(lambda: first.said('source "Library" is no longer watched'), "the loss")
        assert first.proc.poll() is None  # it runs on, watching nothing of another's
        assert [c.pid for c in _claims(engine)] == [third.proc.pid]
    finally:
        if first.proc.poll() is None:
            os.kill(first.proc.pid, signal.SIGCONT)
        first.kill()
        for proc in (second, third):
            if proc is not None:
                proc.kill()


def test_a_reload_adding_a_claimed_source_watches_the_rest(tmp_path, db_url, engine):
    one = _media(tmp_path / "nas1", "Film")
    two = _media(tmp_path / "nas2", "Other")
    elsewhere = _media(tmp_path / "nas3", "Elsewhere")
    first = _started(
        WatchProcess(_config(tmp_path / "a.yaml", {"Library": one}), db_url), "Library"
    )
    second_config = _config(tmp_path / "b.yaml", {"Mine": two})
    second = _started(WatchProcess(second_config, db_url), "Mine")
    try:
        _config(second_config, {"Mine": two, "Library": elsewhere})
        second.wait_for(
            lambda: second.said('source "Library" is not watched: another retrovue watch'),
            "the report",
        )
        assert f"pid {first.proc.pid}" in next(
            x for x in second.lines if 'source "Library" is not watched' in x
        )
        second.wait_for(lambda: second.said('watch-config of source "Mine"'), "the reconcile")
        assert not second.said('watch-config of source "Library"')
        assert _assets_under(engine, elsewhere) == 0
        # the rest carries on: its own source is still watched
        (two / "movies" / "New One (2024).mkv").write_bytes(b"x")
        second.wait_for(lambda: _assets_under(engine, two) == 6, "the new file as an asset")
        assert sorted(_claims(engine)) == [("Library", first.proc.pid), ("Mine", second.proc.pid)]
    finally:
        first.kill()
        second.kill()
