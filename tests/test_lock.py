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
from sqlalchemy import func, select

from retrovue.database.models import ApplyLock, Source
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
