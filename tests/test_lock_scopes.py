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

from retrovue.database.models import Source
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


def test_a_stale_source_lock_does_not_keep_the_whole_database_out(db_url, engine, den):
    _killed_source_holder(db_url, den)
    _wait_for(lambda: show_lock(engine, den).stale)
    with apply_lock(engine, "apply -c retrovue.yaml"):
        assert [i.scope for i in list_locks(engine)] == [LockScope.database()]
    assert list_locks(engine) == []
