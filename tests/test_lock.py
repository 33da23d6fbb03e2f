"""The apply lock (DESIGN §5) on SQLite (lock row) and PostgreSQL (advisory lock + row)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text

from retrovue.database.tables import ApplyLock, Asset, Collection, IngestRun, Source
from retrovue.errors import LockedError
from retrovue.execute.lock import apply_lock, pid_alive, release_lock, show_lock
from tests.helpers import fs_config, make_tree


@contextmanager
def held_in_thread(engine, command="apply -c other.yaml", hold: float = 30.0):
    """Take the lock in another thread and keep it until the block ends (or ``hold`` passes)."""
    taken, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            with apply_lock(engine, command):
                taken.set()
                done.wait(hold)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test below
            errors.append(exc)
            taken.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert taken.wait(10), "the holder thread never took the lock"
    assert not errors, errors
    try:
        yield done
    finally:
        done.set()
        thread.join(10)
    assert not errors, errors


def _config(tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv", "B (2001).mkv"]})
    return fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})


def _sources(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Source)).scalar_one()


def test_second_apply_waits_then_fails_naming_the_holder(rv, db_url, engine, tmp_path):
    cfg = _config(tmp_path)
    with held_in_thread(engine, command="apply -c holder.yaml"):
        started = time.monotonic()
        result = rv("apply", "-c", str(cfg), "--auto-approve", "--lock-timeout", "0.6", db=db_url)
        waited = time.monotonic() - started
        assert result.code == 1, result.err
        assert "apply lock is held by" in result.err
        assert f"pid {os.getpid()}" in result.err and "apply -c holder.yaml" in result.err
        assert waited >= 0.6
        assert _sources(engine) == 0  # nothing written while the other apply held the lock
        shown = rv("lock", "show", "--json", db=db_url).json()
        assert (
            shown["locked"] and shown["lock"]["pid"] == os.getpid() and not shown["lock"]["stale"]
        )
    result = rv("apply", "-c", str(cfg), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _sources(engine) == 1
    assert show_lock(engine) is None  # released after the apply


def test_json_error_names_the_holder(rv, db_url, engine, tmp_path):
    cfg = _config(tmp_path)
    with held_in_thread(engine, command="source ingest X"):
        result = rv("apply", "-c", str(cfg), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    doc = result.json()
    assert doc["code"] == "LOCKED" and doc["context"]["lock"]["command"] == "source ingest X"


def test_a_waiting_apply_proceeds_once_the_holder_finishes(rv, db_url, engine, tmp_path):
    cfg = _config(tmp_path)
    with held_in_thread(engine, hold=0.5):
        result = rv("apply", "-c", str(cfg), "--auto-approve", "--lock-timeout", "20", db=db_url)
    assert result.code == 0, result.err
    assert _sources(engine) == 1


def test_lock_is_exclusive_and_released_on_ctrl_c(engine):
    with pytest.raises(KeyboardInterrupt), apply_lock(engine, "apply"):
        with pytest.raises(LockedError) as refused, apply_lock(engine, "apply again", timeout=0.3):
            pass  # pragma: no cover - must not get here
        assert "apply lock is held by" in refused.value.message
        raise KeyboardInterrupt
    assert show_lock(engine) is None
    with apply_lock(engine, "after ctrl-c"):  # free again
        assert show_lock(engine).command == "after ctrl-c"


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from retrovue.database.engine import DatabaseTarget, open_database
    from retrovue.execute.lock import apply_lock
    engine = open_database(DatabaseTarget(sys.argv[1], False))
    with apply_lock(engine, "apply -c killed.yaml"):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def test_killed_apply_leaves_a_lock_that_is_shown_then_taken_over(rv, db_url, engine, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, db_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        live = rv("lock", "show", db=db_url)
        assert live.code == 0 and f"pid:     {proc.pid}" in live.out and "held" in live.out
        refused = rv("lock", "release", db=db_url)  # a live holder is not released without --force
        assert refused.code == 1 and str(proc.pid) in refused.err
        blocked = rv("apply", "-c", str(_config(tmp_path)), "--auto-approve", db=db_url)
        assert blocked.code == 1 and f"pid {proc.pid}" in blocked.err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert not pid_alive(proc.pid)
    # the row outlives the process; PostgreSQL drops the advisory lock once it sees the socket close
    _wait_for(lambda: show_lock(engine).stale)
    shown = rv("lock", "show", "--json", db=db_url).json()
    assert shown["locked"] and shown["lock"]["pid"] == proc.pid and shown["lock"]["stale"] is True
    assert shown["lock"]["command"] == "apply -c killed.yaml"
    assert "stale: the holder is gone" in rv("lock", "show", db=db_url).out
    result = rv("apply", "-c", str(_config(tmp_path)), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _sources(engine) == 1 and show_lock(engine) is None


def test_release_clears_a_stale_lock(rv, db_url, engine, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, db_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    _wait_for(lambda: show_lock(engine) is not None and show_lock(engine).stale)
    result = rv("lock", "release", db=db_url)
    assert result.code == 0 and f"pid {proc.pid}" in result.out
    assert rv("lock", "show", db=db_url).out == "apply lock: free\n"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ApplyLock)).scalar_one() == 0


def test_force_release_of_a_live_sqlite_lock(rv, tmp_path):
    url = f"sqlite:///{tmp_path / 'force.db'}"
    from retrovue.database.engine import DatabaseTarget, open_database

    engine = open_database(DatabaseTarget(url, False))
    try:
        with apply_lock(engine, "stuck apply"):
            assert rv("lock", "release", db=url).code == 1
            forced = rv("lock", "release", "--force", db=url)
            assert forced.code == 0 and "stuck apply" in forced.out
            assert show_lock(engine) is None
        assert release_lock(engine) is None
    finally:
        engine.dispose()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


# --- issue 9: a lock that is lost, a lock whose holder went quiet --------------------------------


def _foreign_lock(engine, *, beat_age: float | None, started_age: float = 3600.0) -> None:
    """A lock row left by a process on another host (a container since restarted), with a
    heartbeat ``beat_age`` seconds old (None: a row from before heartbeats existed)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from retrovue.execute.lock import HEARTBEAT_NAME, LOCK_NAME

    now = datetime.now(UTC)
    row = {"holder": "ci", "host": "gone-container", "pid": 1, "command": "apply -c old.yaml"}
    with engine.begin() as conn:
        conn.execute(
            insert(ApplyLock).values(
                name=LOCK_NAME, started_at=now - timedelta(seconds=started_age), **row
            )
        )
        if beat_age is not None:
            conn.execute(
                insert(ApplyLock).values(
                    name=HEARTBEAT_NAME, started_at=now - timedelta(seconds=beat_age), **row
                )
            )


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
@pytest.mark.parametrize("beat_age", [120.0, None])
def test_a_lock_whose_heartbeat_stopped_is_taken_over_from_any_host(
    rv, db_url, engine, tmp_path, beat_age
):
    """issue 9, item 13: a SQLite lock row from another host whose heartbeat is older than the
    limit (60 s) is stale: shown as such, and the next apply takes it over without --force."""
    from retrovue.execute.lock import STALE_AFTER_SECONDS

    assert STALE_AFTER_SECONDS == 60.0  # the limit the README documents
    _foreign_lock(engine, beat_age=beat_age)
    shown = rv("lock", "show", "--json", db=db_url).json()["lock"]
    assert shown["host"] == "gone-container" and shown["stale"] is True
    result = rv("apply", "-c", str(_config(tmp_path)), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _sources(engine) == 1 and show_lock(engine) is None
    with engine.connect() as conn:  # its heartbeat row went with it
        assert conn.execute(select(func.count()).select_from(ApplyLock)).scalar_one() == 0


@SQLITE_ONLY
def test_a_lock_with_a_fresh_heartbeat_from_another_host_is_respected(rv, db_url, engine, tmp_path):
    """issue 9, item 13: a holder on another host that still beats holds the lock, however
    long ago it started."""
    _foreign_lock(engine, beat_age=5.0)
    shown = rv("lock", "show", db=db_url)
    assert "held" in shown.out and "heartbeat:" in shown.out
    refused = rv("apply", "-c", str(_config(tmp_path)), "--auto-approve", db=db_url)
    assert refused.code == 1 and "gone-container" in refused.err
    assert _sources(engine) == 0


@SQLITE_ONLY
def test_the_holder_keeps_its_heartbeat_fresh(engine, monkeypatch):
    """issue 9, item 13: the holder refreshes its heartbeat while it holds the lock, from a
    background thread (a long unit must not look stale) and on every verify."""
    from retrovue.execute import lock as lock_module

    monkeypatch.setattr(lock_module, "HEARTBEAT_SECONDS", 0.05)
    with apply_lock(engine, "apply -c slow.yaml") as held:
        first = show_lock(engine).heartbeat_at
        _wait_for(lambda: show_lock(engine).heartbeat_at > first)
        monkeypatch.setattr(lock_module, "HEARTBEAT_SECONDS", 3600.0)
        time.sleep(0.1)  # the thread's last short wait ends; it now sleeps for an hour
        before = show_lock(engine).heartbeat_at
        held.verify()
        assert show_lock(engine).heartbeat_at > before
        assert not show_lock(engine).stale


def test_verify_notices_a_forced_release(engine):
    """issue 9, item 2: `lock release --force` takes the lock from a live holder, and the holder
    finds out at its next check (SQLite: the row is gone; PostgreSQL: its session was ended)."""
    from retrovue.errors import LockLostError

    with apply_lock(engine, "apply -c long.yaml") as held:
        held.verify()
        assert release_lock(engine, force=True) is not None
        with pytest.raises(LockLostError) as lost:
            held.verify()
        assert "the apply lock was lost" in lost.value.message
    assert show_lock(engine) is None  # and leaving the block neither raises nor re-locks


def test_verify_notices_a_takeover_by_another_holder(db_url, engine):
    """issue 9, item 2: the lock row now names someone else (SQLite), or another session holds
    the advisory lock (PostgreSQL): a lost lock, not something to carry on under."""
    from retrovue.errors import LockLostError

    with apply_lock(engine, "apply -c first.yaml") as held:
        release_lock(engine, force=True)
        with apply_lock(engine, "apply -c second.yaml"):
            with pytest.raises(LockLostError):
                held.verify()
            assert show_lock(engine).command == "apply -c second.yaml"
        # the first holder's release must not take the second holder's lock with it
    assert show_lock(engine) is None


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_dead_lock_session_is_a_lost_lock_and_its_release_does_not_raise(db_url, engine):
    """issue 9, item 2: when the server ends the lock's session (pg_terminate_backend, an idle
    timeout), verify raises LockLostError and the release at the end only logs: it never
    replaces the run's own outcome."""
    from retrovue.errors import LockLostError
    from retrovue.execute.lock import _pg_advisory_held

    with apply_lock(engine, "apply -c doomed.yaml") as held:
        with engine.begin() as conn:  # only this database's holder: other tests share the server
            for pid in _pg_advisory_held(conn):
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(LockLostError) as lost:
            held.verify()
        assert "its database session ended" in lost.value.message
    _wait_for(lambda: show_lock(engine) is None or show_lock(engine).stale)


def test_imperative_refusals_do_not_suggest_a_flag_they_lack(rv, db_url, engine, tmp_path):
    """issue 9, item 13: a LOCKED refusal of `collection update` says what that command can do;
    only apply, which has --lock-timeout, suggests it."""
    base = make_tree(tmp_path / "media", {"movies": ["a.mkv"]})
    added = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "Lib",
        "--base-path",
        str(base),
        "--discover",
        db=db_url,
    )
    assert added.code == 0, added.err
    with apply_lock(engine, "apply -c other.yaml"):
        refused = rv("collection", "update", "movies", "--sync-enable", db=db_url)
        applied = rv("apply", "-c", str(_config(tmp_path)), "--auto-approve", db=db_url)
    # the update takes its source's lock, which the whole-database holder keeps
    assert refused.code == 1 and 'source "Lib" is locked by' in refused.err
    assert "(it holds the whole database)" in refused.err
    assert "--lock-timeout" not in refused.err
    assert "run this again once that command has finished" in refused.err
    assert applied.code == 1 and "--lock-timeout SECONDS" in applied.err


def test_a_lost_lock_stops_the_executor_after_rolling_back_the_unit_in_progress(
    db_url, engine, tmp_path
):
    """issue 9, item 2: the executor checks the lock before each unit and before each commit;
    a lost lock rolls the unit in progress back, records it, and nothing after it runs."""
    from retrovue.config.validate import load_config
    from retrovue.errors import LockLostError
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from retrovue.model.enums import RunStatus
    from tests.helpers import plan_on

    base = make_tree(tmp_path / "m", {"a": ["1.mkv"], "b": ["2.mkv"], "c": ["3.mkv"]})
    registry = load_registry()
    desired = load_config(
        str(fs_config(tmp_path / "r.yaml", base, {"a": True, "b": True, "c": True})), registry, {}
    )
    plan = plan_on(engine, desired, registry)
    checks: list[bool] = []

    def guard(conn) -> None:  # lost while b runs: found by b's check before its commit
        checks.append(conn is not None)
        if len(checks) == 6:  # source: before, commit; a: before, commit; b: before, commit
            raise LockLostError("the apply lock was lost: test")

    result = Executor(engine, registry, guard=guard).execute(plan)
    assert checks == [False, True, False, True, False, True]
    assert isinstance(result.lock_lost, LockLostError) and not result.interrupted
    assert [(i.collection.name, i.status) for i in result.ingests] == [
        ("a", RunStatus.OK),
        ("b", RunStatus.FAILED),
    ]
    with engine.connect() as conn:
        names = conn.execute(select(Collection.c.name).join(Asset)).scalars().all()
        runs = conn.execute(select(IngestRun.c.status)).scalars().all()
    assert names == ["a"] and sorted(runs) == ["failed", "ok"]
