"""Issue 21: apply and the imperative commands take the lock of each source they write, so
writers of different sources run at once; a writer of the same source waits --lock-timeout and
is refused naming the holder.  Creating or pruning a source still takes the whole database."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import yaml

from retrovue.execute.lock import apply_lock, list_locks
from retrovue.model.locks import LockScope
from tests.helpers import make_tree


def _two_sources(tmp_path):
    """A config of two filesystem sources, both applied once (so both are stored)."""
    nas = make_tree(tmp_path / "nas", {"movies": ["A (1999).mkv"]})
    den = make_tree(tmp_path / "den", {"shows": ["B (2001).mkv"]})
    config = tmp_path / "retrovue.yaml"
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": col, "sync": True}],
            }
            for name, base, col in (("NAS", nas, "movies"), ("Den", den, "shows"))
        ],
    }
    config.write_text(yaml.safe_dump(doc))
    return config, nas, den


def _scope(rv, db_url, name: str) -> LockScope:
    import uuid

    shown = rv("source", "show", name, "--json", db=db_url).json()
    return LockScope.source(uuid.UUID(shown["id"]), name)


def test_apply_of_one_source_runs_while_another_source_is_locked(rv, db_url, engine, tmp_path):
    config, nas, den = _two_sources(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    (nas / "movies" / "C (2002).mkv").write_bytes(b"")
    (den / "shows" / "D (2003).mkv").write_bytes(b"")
    with apply_lock(engine, "watch Den", scope=_scope(rv, db_url, "Den")):
        nas_only = rv("apply", "-c", str(config), "--source", "NAS", "--auto-approve", db=db_url)
        den_too = rv(
            "apply", "-c", str(config), "--auto-approve", "--lock-timeout", "0.3", db=db_url
        )
    assert nas_only.code == 0, nas_only.err
    assert "1 to create" in nas_only.out
    # every declared source is written: Den's holder keeps the whole apply out, by name
    assert den_too.code == 1
    assert 'source "Den" is locked by' in den_too.err and "`watch Den`" in den_too.err
    assert "after waiting" in den_too.err
    listed = rv("asset", "list", "--all", "--json", db=db_url).json()
    titles = {a["title"] for a in listed["assets"]}
    assert "C" in titles and "D" not in titles  # Den's file waits for Den's writer
    assert list_locks(engine) == []


def test_imperative_ingest_of_one_source_runs_while_another_is_locked(rv, db_url, engine, tmp_path):
    config, nas, den = _two_sources(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    (nas / "movies" / "C (2002).mkv").write_bytes(b"")
    with apply_lock(engine, "watch Den", scope=_scope(rv, db_url, "Den")):
        nas_ingest = rv("source", "ingest", "NAS", db=db_url)
        den_ingest = rv("source", "ingest", "Den", db=db_url)
    assert nas_ingest.code == 0, nas_ingest.err
    assert den_ingest.code == 1 and 'source "Den" is locked by' in den_ingest.err


def test_creating_a_source_takes_the_whole_database(rv, db_url, engine, tmp_path):
    config, _nas, _den = _two_sources(tmp_path)
    assert rv("apply", "-c", str(config), "--source", "NAS", "--auto-approve", db=db_url).code == 0
    with apply_lock(engine, "watch NAS", scope=_scope(rv, db_url, "NAS")):
        # Den is not stored yet: creating it needs the whole database, which NAS's holder blocks
        blocked = rv("apply", "-c", str(config), "--source", "Den", "--auto-approve", db=db_url)
    assert blocked.code == 1 and '(it holds source "NAS")' in blocked.err


_HOLDER = textwrap.dedent(
    """
    import sys, time, uuid
    from retrovue.database.engine import DatabaseTarget, open_database
    from retrovue.execute.lock import apply_lock
    from retrovue.model.locks import LockScope
    engine = open_database(DatabaseTarget(sys.argv[1], False))
    scope = LockScope.source(uuid.UUID(sys.argv[2]), "Den")
    with apply_lock(engine, "watch Den", scope=scope):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until told to let go
    print("released", flush=True)
    """
)


def test_a_writer_of_the_same_source_waits_for_another_process(rv, db_url, engine, tmp_path):
    """Two processes: the apply waits --lock-timeout for the holder, which lets go meanwhile."""
    config, _nas, den = _two_sources(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    (den / "shows" / "D (2003).mkv").write_bytes(b"")
    scope = _scope(rv, db_url, "Den")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, db_url, str(scope.source_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        waiting = subprocess.Popen(
            [
                sys.executable, "-m", "retrovue", "apply", "-c", str(config),
                "--source", "Den", "--auto-approve", "--lock-timeout", "60", "--db", db_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        # it is waiting, not refused: still running while the holder holds
        try:
            waiting.wait(1.0)
        except subprocess.TimeoutExpired:
            pass
        assert waiting.returncode is None
        holder.stdin.write("\n")
        holder.stdin.flush()
        out, err = waiting.communicate(timeout=60)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert waiting.returncode == 0, err
    assert "1 to create" in out
    assert list_locks(engine) == []
