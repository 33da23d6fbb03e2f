"""Locks with a scope (issue 18): the whole database, or one source, on SQLite and PostgreSQL.

A whole-database holder excludes every source holder and each source holder excludes it; two
sources are held side by side; one source is held once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from sqlalchemy import insert

from retrovue.database.tables import Source
from retrovue.errors import LockedError, LockLostError
from retrovue.execute.lock import (
    apply_lock,
    heartbeat_row_name,
    list_locks,
    release_lock,
    show_lock,
)
from retrovue.model.locks import LockScope
from tests.helpers import fs_config, make_tree


def _source(engine, name: str) -> LockScope:
    """A stored source (its row gives the lock its name in listings) and its scope."""
    source_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=source_id, external_id=f"ext-{name}", name=name, type="filesystem", config={}
            )
        )
    return LockScope.source(source_id, name)


@pytest.fixture
def den(engine) -> LockScope:
    return _source(engine, "Den Plex")


@pytest.fixture
def nas(engine) -> LockScope:
    return _source(engine, "Home NAS")


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_a_source_lock_row_fits_the_name_column():
    scope = LockScope.source(uuid.uuid4(), "x" * 300)
    assert len(heartbeat_row_name(scope)) <= 64  # apply_locks.name is String(64)


def test_two_sources_are_held_side_by_side(engine, den, nas):
    with apply_lock(engine, "watch Den Plex", scope=den) as first:
        with apply_lock(engine, "watch Home NAS", scope=nas) as second:
            first.verify()
            second.verify()
            held = {i.scope: i.command for i in list_locks(engine)}
            assert held == {den: "watch Den Plex", nas: "watch Home NAS"}
    assert list_locks(engine) == []


def test_one_source_is_held_once_and_the_refusal_names_holder_and_scope(engine, den):
    with apply_lock(engine, "watch Den Plex", scope=den):
        with pytest.raises(LockedError) as refused, apply_lock(engine, "apply B", scope=den):
            pass  # pragma: no cover - must not get here
    message = refused.value.message
    assert message.startswith('source "Den Plex" is locked by ')
    assert f"pid {os.getpid()}" in message and "`watch Den Plex`" in message
    assert refused.value.context["lock"]["scope"]["kind"] == "source"
    with apply_lock(engine, "watch again", scope=den):  # free once the holder let go
        assert show_lock(engine, den).command == "watch again"


def test_a_whole_database_holder_keeps_every_source_out(engine, den):
    with apply_lock(engine, "apply -c retrovue.yaml"):
        with pytest.raises(LockedError) as refused, apply_lock(engine, "watch", scope=den):
            pass  # pragma: no cover - must not get here
    message = refused.value.message
    assert message.startswith('source "Den Plex" is locked by ')
    assert "`apply -c retrovue.yaml`" in message and "(it holds the whole database)" in message


def test_a_source_holder_keeps_the_whole_database_out(rv, db_url, engine, den, tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    with apply_lock(engine, "watch Den Plex", scope=den):
        with pytest.raises(LockedError) as refused, apply_lock(engine, "apply"):
            pass  # pragma: no cover - must not get here
        # and apply, which takes the whole database, is refused the same way
        blocked = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    message = refused.value.message
    assert message.startswith("apply lock is held by ")
    assert "`watch Den Plex`" in message and '(it holds source "Den Plex")' in message
    assert blocked.code == 1 and '(it holds source "Den Plex")' in blocked.err
    with apply_lock(engine, "apply"):  # free once the source holder let go
        assert show_lock(engine).command == "apply"


def test_verify_checks_the_lock_of_its_own_scope(engine, den, nas):
    with apply_lock(engine, "watch Den Plex", scope=den) as first:
        with apply_lock(engine, "watch Home NAS", scope=nas) as second:
            assert release_lock(engine, force=True, scope=den).command == "watch Den Plex"
            with pytest.raises(LockLostError) as lost:
                first.verify()
            assert 'the lock on source "Den Plex" was lost' in lost.value.message
            second.verify()  # the other source's lock is untouched
            assert show_lock(engine, nas).command == "watch Home NAS"


_SOURCE_HOLDER = textwrap.dedent(
    """
    import sys, time, uuid
    from retrovue.database.engine import DatabaseTarget, open_database
    from retrovue.execute.lock import apply_lock
    from retrovue.model.locks import LockScope
    engine = open_database(DatabaseTarget(sys.argv[1], False))
    scope = LockScope.source(uuid.UUID(sys.argv[2]), "Den Plex")
    with apply_lock(engine, "watch Den Plex", scope=scope):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def _killed_source_holder(db_url, scope: LockScope) -> int:
    """The pid of a process that took the source's lock and was killed holding it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SOURCE_HOLDER, db_url, str(scope.source_id)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return proc.pid


def test_a_killed_source_holder_is_stale_and_taken_over(rv, db_url, engine, den):
    """SQLite: the dead pid makes the row stale; PostgreSQL: the server dropped the advisory
    lock with the session.  Either way the next holder of the source takes it without --force."""
    pid = _killed_source_holder(db_url, den)
    _wait_for(lambda: show_lock(engine, den).stale)
    shown = rv("lock", "show", "--json", db=db_url).json()
    assert [(i["pid"], i["stale"], i["scope"]["name"]) for i in shown["locks"]] == [
        (pid, True, "Den Plex")
    ]
    with apply_lock(engine, "watch again", scope=den):
        assert [(i.command, i.stale) for i in list_locks(engine)] == [("watch again", False)]
    assert list_locks(engine) == []


def test_a_stale_source_lock_does_not_keep_the_whole_database_out(db_url, engine, den):
    _killed_source_holder(db_url, den)
    _wait_for(lambda: show_lock(engine, den).stale)
    with apply_lock(engine, "apply -c retrovue.yaml"):
        assert [i.scope for i in list_locks(engine)] == [LockScope.database()]
    assert list_locks(engine) == []


def test_lock_show_lists_every_lock(rv, db_url, engine, den, nas):
    with (
        apply_lock(engine, "watch Den Plex", scope=den),
        apply_lock(engine, "watch NAS", scope=nas),
    ):
        doc = rv("lock", "show", "--json", db=db_url).json()
        text = rv("lock", "show", db=db_url).out
    assert doc["locked"] is False and doc["lock"] is None  # the whole database's lock is free
    assert [(i["scope"], i["command"], i["stale"]) for i in doc["locks"]] == [
        (
            {"kind": "source", "source_id": str(den.source_id), "name": "Den Plex"},
            "watch Den Plex",
            False,
        ),
        (
            {"kind": "source", "source_id": str(nas.source_id), "name": "Home NAS"},
            "watch NAS",
            False,
        ),
    ]
    assert text.startswith("apply lock: free\n")
    assert 'source "Den Plex" lock: held\n' in text and 'source "Home NAS" lock: held\n' in text
    assert "command: watch NAS" in text
    with apply_lock(engine, "apply -c retrovue.yaml"):
        whole = rv("lock", "show", "--json", db=db_url).json()
    assert whole["locked"] and whole["lock"]["command"] == "apply -c retrovue.yaml"
    assert whole["locks"] == [whole["lock"]] and whole["lock"]["scope"] == {"kind": "database"}


def test_lock_release_of_one_source_by_name(rv, db_url, engine, den, nas):
    with (
        apply_lock(engine, "watch Den Plex", scope=den) as held,
        apply_lock(engine, "watch NAS", scope=nas),
    ):
        whole = rv("lock", "release", db=db_url)  # the default: the whole database's lock
        refused = rv("lock", "release", "--scope", "source", "den plex", db=db_url)
        forced = rv("lock", "release", "--scope", "source", "Den Plex", "--force", db=db_url)
        with pytest.raises(LockLostError):
            held.verify()
        assert [i.scope for i in list_locks(engine)] == [nas]  # the other source stays held
    assert whole.code == 0 and whole.out == "apply lock: free (nothing to release)\n"
    assert refused.code == 1
    assert 'source "Den Plex" is locked by a live process' in refused.err
    assert "watch Den Plex" in refused.err
    assert forced.code == 0, forced.err
    assert forced.out.startswith('released the lock on source "Den Plex" of ')
    assert list_locks(engine) == []


def test_lock_release_of_a_stale_source_lock(rv, db_url, engine, den):
    pid = _killed_source_holder(db_url, den)
    _wait_for(lambda: show_lock(engine, den).stale)
    released = rv("lock", "release", "--scope", "source", "Den Plex", "--json", db=db_url).json()
    assert released["released"] and released["lock"]["pid"] == pid
    assert released["lock"]["scope"]["name"] == "Den Plex"
    again = rv("lock", "release", "--scope", "source", "Den Plex", db=db_url)
    assert again.out == 'source "Den Plex" lock: free (nothing to release)\n'
    assert list_locks(engine) == []


def test_lock_release_needs_a_name_exactly_for_a_source(rv, db_url):
    assert "takes the source's NAME" in rv("lock", "release", "--scope", "source", db=db_url).err
    named = rv("lock", "release", "Den Plex", db=db_url)
    assert named.code == 1 and "takes the source's NAME" in named.err
    unknown = rv("lock", "release", "--scope", "source", "Nowhere", db=db_url)
    assert unknown.code == 1 and "'Nowhere' not found" in unknown.err


def test_the_lock_of_a_deleted_source_is_released_by_its_id(rv, db_url, engine):
    gone = LockScope.source(uuid.uuid4())  # no source row: deleted since it was locked
    with apply_lock(engine, "watch gone", scope=gone):
        shown = rv("lock", "show", "--json", db=db_url).json()["locks"]
        forced = rv(
            "lock", "release", "--scope", "source", str(gone.source_id), "--force", db=db_url
        )
    assert [i["scope"]["name"] for i in shown] == [None]
    assert forced.code == 0, forced.err
    assert forced.out.startswith(f'released the lock on source "{gone.source_id}" of ')
    assert list_locks(engine) == []
