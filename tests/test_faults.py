"""Fault injection (issue 9): the real CLI in a subprocess, killed or cut off in the middle of work.

``tests/fault_wrapper.py`` registers a cursor listener that signals its own process (SIGKILL,
SIGINT, SIGTERM), or pauses it, after the N-th SQL statement matching a pattern, then runs
``retrovue.cli.main.main()``.  Every test then checks the same things: only whole units in the
database (a collection's assets all or none), every run row finished, the lock free (or stale,
for the next run to take over), the next apply succeeding without a manual step, and the
documented exit code.  Each runs on SQLite and PostgreSQL unless it is about a PostgreSQL session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from retrovue.database.tables import Asset, Collection, IngestRun, Source
from retrovue.execute.lock import apply_lock, show_lock
from retrovue.redact import redact_url
from tests.helpers import fs_config, make_tree

WRAPPER = Path(__file__).with_name("fault_wrapper.py")
LAYOUT = {name: [f"{name.upper()}{i} (199{i}).mkv" for i in range(3)] for name in "abc"}
#: the first statement of each collection's ingest unit (a read: no write transaction yet)
UNIT_START = r"SELECT sources\.id, sources\.type"
#: the last statement of each collection's ingest unit, before its commit
UNIT_END = r"INSERT INTO ingest_runs"
#: a read inside the source-level unit, after its first writes
SOURCE_UNIT_READ = r"SELECT collections\.id\s+FROM collections\s+WHERE collections\.source_id"
FINISHED = {"ok", "failed", "interrupted"}


@dataclass
class Ended:
    code: int
    out: str
    err: str


def _env(tmp_path: Path, db_url: str, **fault: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETROVUE_", "RV_FAULT_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), RETROVUE_DATABASE_URL=db_url)
    env.update({f"RV_FAULT_{k.upper()}": v for k, v in fault.items()})
    return env


def _argv(config: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, str(WRAPPER), *(args or ("apply", "-c", str(config), "--auto-approve"))]


def run_faulted(db_url, config, tmp_path, *, args=(), **fault) -> Ended:
    """Run the CLI with a fault (pattern=, action=, nth=, when=) and wait for it to end."""
    proc = subprocess.run(
        _argv(config, args),
        env=_env(tmp_path, db_url, **fault),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Ended(proc.returncode, proc.stdout, proc.stderr)


@contextmanager
def paused(db_url, config, tmp_path, *, pattern, nth=1, args=()):
    """Run the CLI until it pauses after the N-th matching statement; the block acts meanwhile.
    Leaving the block resumes it; ``ended[0]`` then holds how it ended."""
    resume = tmp_path / "resume"
    proc = subprocess.Popen(
        _argv(config, args),
        env=_env(
            tmp_path, db_url, pattern=pattern, nth=str(nth), action="PAUSE", resume=str(resume)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ended: list[Ended] = []
    try:
        _wait_for_pause(proc)
        yield ended
    finally:
        resume.touch()
        out, err = proc.communicate(timeout=60)
        ended.append(Ended(proc.returncode, out, err))


def _wait_for_pause(proc: subprocess.Popen) -> None:
    seen = []
    for line in proc.stderr:  # log lines may come first
        if line.strip() == "FAULT-PAUSED":
            return
        seen.append(line)
    raise AssertionError("the CLI ended before the fault: " + "".join(seen))


#: the PostgreSQL tier only: these are about PostgreSQL sessions
ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def config(tmp_path) -> Path:
    media = make_tree(tmp_path / "media", LAYOUT)
    return fs_config(tmp_path / "retrovue.yaml", media, {name: True for name in LAYOUT})


def _assets_per_collection(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Collection.c.name, func.count(Asset.c.id))
            .select_from(Collection)
            .outerjoin(Asset, Asset.c.collection_id == Collection.c.id)
            .group_by(Collection.c.name)
        ).all()
    return dict(rows)


def _runs(engine) -> dict[str, list[tuple[str, str | None]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Collection.c.name, IngestRun.c.status, IngestRun.c.error)
            .join(Collection, Collection.c.id == IngestRun.c.collection_id)
            .order_by(IngestRun.c.started_at)
        ).all()
    runs: dict[str, list[tuple[str, str | None]]] = {}
    for name, status, error in rows:
        runs.setdefault(name, []).append((status, error))
    return runs


def assert_whole_units(engine, committed: set[str]) -> None:
    """Exactly the ``committed`` collections hold all their assets; the others hold none; every
    run row is finished, and a collection has an ok run exactly when it was committed."""
    counts = _assets_per_collection(engine)
    assert {name for name, n in counts.items() if n} == committed, counts
    assert all(counts[name] == len(LAYOUT[name]) for name in committed), counts
    runs = _runs(engine)
    assert {s for rows in runs.values() for s, _ in rows} <= FINISHED, runs
    assert {name for name, rows in runs.items() if ("ok", None) in rows} == committed, runs


def assert_lock_free(engine) -> None:
    """Free, or stale (its holder is gone): the next run takes it without a manual step."""
    _wait_for(lambda: show_lock(engine) is None or show_lock(engine).stale)


def assert_next_apply_succeeds(rv, db_url, config) -> None:
    result = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert result.code == 0, result.out + result.err
    assert "No changes." in rv("plan", "-c", str(config), db=db_url).out
    assert show_lock_free(db_url)


def show_lock_free(db_url) -> bool:
    from retrovue.database.engine import DatabaseTarget, open_database

    engine = open_database(DatabaseTarget(db_url, False))
    try:
        return show_lock(engine) is None
    finally:
        engine.dispose()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def _sources(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Source)).scalar_one()


# --- signals --------------------------------------------------------------------------------------


def test_sigkill_mid_collection_leaves_whole_units_and_a_lock_the_next_apply_takes_over(
    rv, db_url, engine, tmp_path, config
):
    """issue 9, fault suite: SIGKILL after the second collection wrote everything but its commit."""
    ended = run_faulted(db_url, config, tmp_path, pattern=UNIT_END, nth="2", action="SIGKILL")
    assert ended.code == -signal.SIGKILL
    assert_whole_units(engine, {"a"})
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


def test_sigkill_in_the_source_unit_leaves_nothing(rv, db_url, engine, tmp_path, config):
    """issue 9, fault suite: SIGKILL inside the source-level unit: no source, no collection."""
    ended = run_faulted(
        db_url, config, tmp_path, pattern=SOURCE_UNIT_READ, nth="1", action="SIGKILL"
    )
    assert ended.code == -signal.SIGKILL
    assert _sources(engine) == 0
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


@pytest.mark.parametrize(
    ("action", "when", "code", "reason"),
    [
        ("SIGINT", "after", 130, "interrupted by the operator"),
        ("SIGTERM", "before", 143, "terminated by SIGTERM"),
    ],
)
def test_a_signal_mid_collection_rolls_it_back_records_it_and_releases_the_lock(
    rv, db_url, engine, tmp_path, config, action, when, code, reason
):
    """issue 9, item 6: Ctrl-C exits 130 and SIGTERM 143, each after rolling back the collection
    in progress, recording its run as interrupted and releasing the lock; the summary is shown."""
    ended = run_faulted(
        db_url, config, tmp_path, pattern=UNIT_END, nth="2", action=action, when=when
    )
    assert ended.code == code, ended.err
    assert_whole_units(engine, {"a"})
    assert _runs(engine)["b"] == [("interrupted", reason)]
    assert "c" not in _runs(engine)  # nothing runs after the interruption
    assert 'collection "Library"/"a": ingested' in ended.out
    assert "Interrupted: the collection in progress was rolled back" in ended.out
    assert show_lock(engine) is None  # released, not left for a takeover
    assert_next_apply_succeeds(rv, db_url, config)


def test_a_signal_inside_a_statement_rolls_back_before_the_cleanup_writes(
    rv, db_url, engine, tmp_path, config
):
    """issue 9, item 6: interrupted in a read that follows writes (SQLite kept that transaction
    and its write lock open while cleanup ran: 5 s waits, `database is locked`, exit 1, a stale
    lock row).  Now the unit rolls back at once, the lock is released and the exit code holds."""
    ended = run_faulted(
        db_url, config, tmp_path, pattern=SOURCE_UNIT_READ, nth="1", action="SIGINT"
    )
    assert ended.code == 130, ended.err
    assert "database is locked" not in ended.err
    assert _sources(engine) == 0
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from apply_locks")).scalar_one() == 0
    assert_next_apply_succeeds(rv, db_url, config)


@pytest.mark.parametrize(
    ("command", "action", "code"),
    [
        (("source", "ingest", "Library"), "SIGINT", 130),
        (("collection", "ingest", "b"), "SIGTERM", 143),
    ],
)
def test_imperative_ingests_stop_on_signals_like_apply(
    rv, db_url, engine, tmp_path, config, command, action, code
):
    """issue 9, item 6: `source ingest` / `collection ingest` interrupted in their unit: exit
    130 / 143, the collection rolled back and recorded, the lock released."""
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    for name in LAYOUT:  # new files everywhere, so each ingest has work
        (tmp_path / "media" / name / "new (2020).mkv").write_bytes(b"")
    ended = run_faulted(
        db_url, config, tmp_path, args=command, pattern=UNIT_END, nth="1", action=action
    )
    assert ended.code == code, ended.out + ended.err
    interrupted = [n for n, rows in _runs(engine).items() if rows[-1][0] == "interrupted"]
    assert len(interrupted) == 1
    assert _assets_per_collection(engine)[interrupted[0]] == len(LAYOUT[interrupted[0]])
    assert show_lock(engine) is None
    assert_next_apply_succeeds(rv, db_url, config)


def test_sigterm_while_waiting_for_the_lock_leaves_the_holder_alone(
    db_url, engine, tmp_path, config
):
    """issue 9, item 6: a waiting apply that gets SIGTERM exits 143 and does not touch the
    lock it never had."""
    resume = tmp_path / "resume"
    with apply_lock(engine, "apply -c holder.yaml"):
        proc = subprocess.Popen(
            _argv(config, ("apply", "-c", str(config), "--auto-approve", "--lock-timeout", "30")),
            # paused at its second look at the lock: it is in its waiting loop
            env=_env(
                tmp_path,
                db_url,
                pattern=r"pg_try_advisory_lock|SELECT apply_locks\.holder",
                nth="2",
                action="PAUSE",
                resume=str(resume),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for_pause(proc)
        resume.touch()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, err
        assert "terminated (SIGTERM)" in err
        assert show_lock(engine).command == "apply -c holder.yaml"
    assert _sources(engine) == 0 and show_lock(engine) is None


# --- the lock taken away -----------------------------------------------------------------------


def test_force_release_stops_a_running_apply_after_its_unit_in_progress(
    rv, db_url, engine, tmp_path, config
):
    """issue 9, item 2: `lock release --force` stops a running apply: the collection in
    progress rolls back, the committed one stands, exit 1 with the reason, summary printed."""
    with paused(db_url, config, tmp_path, pattern=UNIT_START, nth=2) as ended:
        forced = rv("lock", "release", "--force", db=db_url)
        assert forced.code == 0, forced.err
    ended = ended[0]
    assert ended.code == 1, ended.out + ended.err
    assert "the apply lock was lost" in ended.out
    assert 'collection "Library"/"a": ingested' in ended.out
    assert_whole_units(engine, {"a"})
    assert "c" not in _runs(engine)
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


def _terminate(db_url: str, where: str) -> int:
    """pg_terminate_backend of this database's sessions matching ``where``; how many."""
    from sqlalchemy import create_engine

    name = make_url(db_url).database
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        f" WHERE datname = :db AND pid <> pg_backend_pid() AND {where}"
                    ),
                    {"db": name},
                ).all()
            )
    finally:
        admin.dispose()


LOCK_SESSION = "pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"


@ON_POSTGRES
def test_terminated_lock_session_stops_the_apply_cleanly(rv, db_url, engine, tmp_path, config):
    """issue 9, item 2: pg_terminate_backend of the session holding the advisory lock: the apply
    notices before committing more, rolls back the collection in progress, exits 1 naming the
    loss, and a second apply could not have run beside it unnoticed."""
    with paused(db_url, config, tmp_path, pattern=UNIT_END, nth=2) as ended:
        assert _terminate(db_url, LOCK_SESSION) == 1
    ended = ended[0]
    assert ended.code == 1, ended.out + ended.err
    assert "the apply lock was lost: its database session ended" in ended.out
    assert_whole_units(engine, {"a"})
    assert _runs(engine)["b"][0][0] == "failed" and "c" not in _runs(engine)
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


@ON_POSTGRES
def test_terminated_ingest_session_fails_that_collection_only(rv, db_url, engine, tmp_path, config):
    """issue 9, fault suite: pg_terminate_backend of the session ingesting a collection: that
    collection rolls back and fails, the others are ingested, exit 2 (partial)."""
    with paused(db_url, config, tmp_path, pattern=UNIT_END, nth=2) as ended:
        assert _terminate(db_url, "state = 'idle in transaction'") == 1
    ended = ended[0]
    assert ended.code == 2, ended.out + ended.err
    assert_whole_units(engine, {"a", "c"})
    assert _runs(engine)["b"][0][0] == "failed"
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


#: a first ingest of "a" whose COPY sends rows before it ends (psycopg sends them in blocks of
#: 32 KiB): only a send meets a connection dropped mid-COPY
BIG_A = {**LAYOUT, "a": [f"A{i} (1990).mkv" for i in range(2000)]}


@ON_POSTGRES
def test_writer_connection_dropped_mid_copy_is_reported_as_lost(rv, db_url, engine, tmp_path):
    """issue 17: pg_terminate_backend of the session running a collection's bulk COPY: that
    collection fails saying the connection to the database (password redacted) was lost during
    the write, not "cannot connect", with no stray psycopg line on stderr; the others stand."""
    config = fs_config(
        tmp_path / "big.yaml", make_tree(tmp_path / "big", BIG_A), dict.fromkeys(BIG_A, True)
    )
    with_password = make_url(db_url).set(password="s3cret").render_as_string(False)  # trust auth
    with paused(with_password, config, tmp_path, pattern=r"^COPY assets", nth=1) as ended:
        assert _terminate(db_url, "query LIKE 'COPY assets%'") == 1
    ended = ended[0]
    assert ended.code == 2, ended.out + ended.err
    shown = redact_url(with_password)
    assert (
        f'collection "Library"/"a": FAILED: Database operation failed: the connection to {shown}'
        " was lost during the write: " in ended.out
    ), ended.out
    logged = ended.err.splitlines()
    assert len(logged) == 1 and "collection ingest rolled back" in logged[0], ended.err
    assert "s3cret" not in ended.out + ended.err
    assert_whole_units(engine, {"b", "c"})
    assert_lock_free(engine)
    assert_next_apply_succeeds(rv, db_url, config)


@ON_POSTGRES
def test_idle_session_timeout_does_not_end_the_lock_session(rv, db_url, tmp_path):
    """issue 9, item 2: with the server's idle_session_timeout shorter than a unit of work, the
    lock's session survives (it waits idle while the work runs on another) and the apply ends
    as it should, instead of losing the lock or failing on its release."""
    media = make_tree(tmp_path / "media", {"a": LAYOUT["a"]})
    config = fs_config(tmp_path / "one.yaml", media, {"a": True})
    name = make_url(db_url).database
    _alter(db_url, f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '1s'")
    try:
        with paused(db_url, config, tmp_path, pattern=UNIT_END, nth=1) as ended:
            time.sleep(2.5)  # the lock's session idles well past the timeout meanwhile
    finally:
        _alter(db_url, f'ALTER DATABASE "{name}" RESET idle_session_timeout')
    ended = ended[0]
    assert ended.code == 0, ended.out + ended.err
    assert "Apply complete!" in ended.out
    assert show_lock_free(db_url)


def _alter(db_url: str, statement: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_second_apply_cannot_run_beside_a_live_one(db_url, engine, tmp_path, config):
    """issue 9, item 2: while an apply is paused mid-ingest, another apply is refused at once,
    naming the holder (on SQLite it looks at the lock row before it tries to write one)."""
    with paused(db_url, config, tmp_path, pattern=UNIT_START, nth=1) as ended:
        second = run_faulted(db_url, config, tmp_path)
    # the second locks the source the first created (issue 21), which the first, holding the
    # whole database as it created it, keeps out
    refused = "apply lock is held by" in second.err or (
        'source "Library" is locked by' in second.err
        and "(it holds the whole database)" in second.err
    )
    assert second.code == 1 and refused, second.err
    assert ended[0].code == 0, ended[0].out + ended[0].err


def test_sigterm_maps_to_143_wherever_the_interruption_is_reported():
    """issue 9, item 6: SIGTERM stops a run as Ctrl-C does, and the run exits 143 whether the
    stop reached main as an outcome, a typed error or the signal's own exception."""
    from retrovue.cli.exit_codes import exit_code
    from retrovue.errors import InterruptedByOperator, TerminatedBySignal
    from retrovue.model.enums import Outcome

    assert exit_code(TerminatedBySignal()) == 143
    assert exit_code(Outcome.INTERRUPTED, terminated=True) == 143
    assert exit_code(InterruptedByOperator("stopped"), terminated=True) == 143
    assert exit_code(Outcome.INTERRUPTED) == exit_code(KeyboardInterrupt()) == 130
    assert exit_code(Outcome.PARTIAL, terminated=True) == 2  # finished before the signal mattered


# --- a signal in the window after a commit (issue 17, item 7) ----------------------------------------


@pytest.mark.parametrize(("action", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_just_after_a_collection_commits_reports_it_committed(
    rv, db_url, engine, tmp_path, config, action, code
):
    """The report said INTERRUPTED and "rolled back" for a committed collection, and
    ingest_runs held both an `ok` and an `interrupted` row for it."""
    ended = run_faulted(
        db_url, config, tmp_path, pattern=UNIT_END, nth="2", action=action, when="commit"
    )
    assert ended.code == code, ended.err
    assert_whole_units(engine, {"a", "b"})
    assert _runs(engine)["b"] == [("ok", None)]
    assert "c" not in _runs(engine)
    assert 'collection "Library"/"b": ingested' in ended.out
    assert "in progress was rolled back" not in ended.out
    assert "Interrupted as a unit committed: it stands, nothing was rolled back" in ended.out
    assert 'collection "Library"/"c": NOT ATTEMPTED' in ended.out
    assert show_lock(engine) is None
    assert_next_apply_succeeds(rv, db_url, config)


def test_collection_ingest_signalled_as_it_commits_reports_the_ingest(
    rv, db_url, engine, tmp_path, config
):
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    (tmp_path / "media" / "b" / "new (2020).mkv").write_bytes(b"")
    ended = run_faulted(
        db_url,
        config,
        tmp_path,
        args=("collection", "ingest", "b"),
        pattern=UNIT_END,
        action="SIGTERM",
        when="commit",
    )
    assert ended.code == 143, ended.err
    assert [status for status, _ in _runs(engine)["b"]] == ["ok", "ok"]
    assert _assets_per_collection(engine)["b"] == len(LAYOUT["b"]) + 1
    assert "Assets ingested: 1" in ended.out
    assert "collection was rolled back" not in ended.out + ended.err
    assert "Interrupted as a unit committed: it stands" in ended.err
    assert show_lock(engine) is None


def test_sigterm_while_the_lock_is_released_after_a_finished_wipe(
    rv, db_url, engine, tmp_path, config
):
    """It said "Error: terminated", exit 143, though the wipe was done."""
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    ended = run_faulted(
        db_url,
        config,
        tmp_path,
        args=("collection", "wipe", "b", "--force"),
        pattern=r"DELETE FROM apply_locks WHERE .*apply_locks\.pid",  # the release, not the taking
        action="SIGTERM",
    )
    assert ended.code == 0, ended.err
    assert "terminated" not in ended.err.lower().replace("a signal came", "")
    assert _assets_per_collection(engine)["b"] == 0
    assert show_lock(engine) is None


@pytest.mark.parametrize("action", ["SIGINT", "SIGTERM"])
def test_a_signal_just_after_the_lock_is_taken_leaves_no_lock_rows(
    rv, db_url, engine, tmp_path, config, action
):
    """A Ctrl-C just after the lock row committed left it (and SQLite's heartbeat row) behind,
    for the next run to take over as stale."""
    ended = run_faulted(
        db_url,
        config,
        tmp_path,
        pattern=r"INSERT INTO apply_locks",
        action=action,
        when="commit",
    )
    assert ended.code == {"SIGINT": 130, "SIGTERM": 143}[action], ended.err
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from apply_locks")).scalar_one() == 0
    assert _sources(engine) == 0
    assert_next_apply_succeeds(rv, db_url, config)


# --- enrichment: a run killed or stopped while it works --------------------------------------------


def _states(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Asset.c.canonical_uri, Asset.c.state)).all()
    return {Path(uri).name: state for uri, state in rows}


def _with_test_plugins(env: dict, tmp_path: Path) -> dict:
    """``env`` for a CLI that finds tests/enrich_plugins.py's `slow` enricher the way an
    operator's plugins are found: an installed distribution's `retrovue.enrichers` entry point."""
    dist = tmp_path / "site" / "retrovue_test_plugins-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: retrovue-test-plugins\nVersion: 0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[retrovue.enrichers]\nslow = tests.enrich_plugins:SlowEnricher\n"
    )
    repo = Path(__file__).resolve().parents[1]
    return env | {"PYTHONPATH": os.pathsep.join([str(repo), str(dist.parent)])}


def test_sigterm_while_a_slow_file_is_enriched_keeps_the_results_already_finished(
    db_url, engine, tmp_path
):
    """issue 17, item 6: the batch was flushed only when a new result arrived, so three finished
    results waited uncommitted behind a slow file, and SIGTERM lost them ("enriched 0").  Now
    results are committed within ~2 s while the slow file is still worked on: they are `ready`
    in the database before the run ends, and stay so after SIGTERM (exit 143); the slow file is
    back to `new`, and the run reports the three."""
    import yaml

    make_tree(tmp_path / "media", {"Shows": ["a1.mkv", "a2.mkv", "a3.mkv", "z-slow.mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", tmp_path / "media", {"Shows": True})
    document = yaml.safe_load(config.read_text())
    document["sources"][0]["enrichers"] = ["slow"]
    config.write_text(yaml.safe_dump(document))
    proc = subprocess.Popen(
        _argv(config, ()),
        env=_with_test_plugins(_env(tmp_path, db_url), tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    quick = {"a1.mkv", "a2.mkv", "a3.mkv"}
    try:
        # generous: the slow file takes ten minutes, the quick ones are committed in ~2 s
        _wait_for(lambda: quick <= {n for n, s in _states(engine).items() if s == "ready"}, 45)
        assert proc.poll() is None  # still at work on the slow file
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert _states(engine) == {name: "ready" for name in quick} | {"z-slow.mkv": "new"}
    assert 'collection "Library"/"Shows": enriched 3 with slow' in out, out
    assert show_lock(engine) is None


#: the first statement of an enrichment batch's unit: before it, the run's marking of its assets
#: ``enriching`` has committed and no result has
ENRICH_BATCH = r"DELETE FROM asset_enrichments WHERE asset_enrichments\.enricher_type"


def _media_library(tmp_path: Path, files: dict[str, str]) -> Path:
    """One collection "Shows" of real media files (name -> "av", "video-only", or "mute": an
    audio stream that holds no audio, which loudness fails); its config."""
    from tests import media

    shows = tmp_path / "media" / "Shows"
    shows.mkdir(parents=True)
    for name, kind in files.items():
        if kind == "mute":
            media.write_empty_audio_track(shows / name)
        else:
            media.write_av(shows / name, audio=kind != "video-only")
    return fs_config(tmp_path / "retrovue.yaml", tmp_path / "media", {"Shows": True})


def _killed_while_enriching(rv, db_url, engine, tmp_path: Path) -> Path:
    """Three files ingested, ffprobe attached, and the apply that enriches them killed (-9)
    after it marked them: all three are left `enriching`.  The config."""
    config = _media_library(tmp_path, {f"ep{i}.mkv": "av" for i in range(3)})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0
    ended = run_faulted(
        db_url, config, tmp_path, pattern=ENRICH_BATCH, when="before", action="SIGKILL"
    )
    assert ended.code == -signal.SIGKILL, ended.err
    assert set(_states(engine).values()) == {"enriching"}
    return config


@pytest.mark.parametrize(
    "finish",
    [("apply", "-c", "{config}", "--auto-approve"), ("collection", "enrich", "Shows")],
    ids=["apply", "collection enrich"],
)
def test_assets_left_enriching_by_a_kill_are_reset_after_their_enricher_is_detached(
    rv, db_url, engine, tmp_path, finish
):
    """issue 17, item 5: `kill -9` during enrichment, then the enricher detached: the assets the
    run had marked stay `enriching` for ever (plan said "No changes.", `collection enrich` found
    nothing to do).  Now plan shows them as drift (a text line, `stuck` in --json, exit 2 with
    --detailed-exitcode), and apply or `collection enrich` resets them through the executor: with
    nothing attached they are `new` again, and the next plan has no changes."""
    config = _killed_while_enriching(rv, db_url, engine, tmp_path)
    assert rv("source", "detach-enricher", "Library", "ffprobe", db=db_url).code == 0

    planned = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert planned.code == 2, planned.out + planned.err
    assert "~ enrich: reset 3 assets stuck enriching (a run was killed)" in planned.out
    document = rv("plan", "-c", str(config), "--json", db=db_url).json()
    (enrich,) = [a for a in document["actions"] if a["kind"] == "enrich_collection"]
    assert (enrich["stuck"], enrich["change"], enrich["work"]) == (3, True, [])
    assert document["summary"]["assets_stuck"] == 3

    done = rv(*(arg.format(config=config) for arg in finish), db=db_url)
    assert done.code == 0, done.out + done.err
    assert "reset 3 assets stuck enriching" in done.out
    assert set(_states(engine).values()) == {"new"}
    again = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert again.code == 0 and "No changes." in again.out, again.out


def test_assets_left_enriching_go_ready_when_every_enricher_attached_now_succeeded(
    rv, db_url, engine, tmp_path
):
    """issue 17, item 5: the reset follows the ready rule with what is attached now: a file
    whose audio stream holds no audio (ffprobe succeeded, loudness failed; a file without an
    audio stream is no failure since issue 20) left `enriching` by a `kill -9` during a
    `--retry-failed` run is `ready` once loudness is detached, as every enricher still attached
    has succeeded for its current file."""
    config = _media_library(tmp_path, {"silent.mkv": "mute", "tone.mkv": "av"})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0
    attached = rv("source", "attach-enricher", "Library", "loudness", "--priority", "10", db=db_url)
    assert attached.code == 0, attached.err
    assert rv("collection", "enrich", "Shows", db=db_url).code == 2  # silent.mkv: UNREADABLE
    assert _states(engine) == {"silent.mkv": "new", "tone.mkv": "ready"}
    ended = run_faulted(
        db_url,
        config,
        tmp_path,
        args=("collection", "enrich", "Shows", "--retry-failed"),
        pattern=ENRICH_BATCH,
        when="before",
        action="SIGKILL",
    )
    assert ended.code == -signal.SIGKILL, ended.err
    assert _states(engine) == {"silent.mkv": "enriching", "tone.mkv": "ready"}
    assert rv("source", "detach-enricher", "Library", "loudness", db=db_url).code == 0

    planned = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert planned.code == 2, planned.out + planned.err
    assert "reset 1 asset stuck enriching (a run was killed)" in planned.out
    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.out + applied.err
    assert _states(engine) == {"silent.mkv": "ready", "tone.mkv": "ready"}
    assert rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url).code == 0


def test_assets_left_enriching_are_reset_in_a_collection_no_longer_synced(
    rv, db_url, engine, tmp_path
):
    """issue 17, item 5: assets left `enriching` are drift wherever they are: a collection whose
    sync was turned off after the kill is neither ingested nor enriched, yet its plan shows them
    and apply settles them (ffprobe is still attached and has no result for them: `new`), and
    nothing is probed there."""
    _killed_while_enriching(rv, db_url, engine, tmp_path)
    off = fs_config(tmp_path / "off.yaml", tmp_path / "media", {"Shows": False})
    document = rv("plan", "-c", str(off), "--json", db=db_url).json()
    (enrich,) = [a for a in document["actions"] if a["kind"] == "enrich_collection"]
    assert (enrich["stuck"], enrich["work"]) == (3, [])
    applied = rv("apply", "-c", str(off), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.out + applied.err
    assert set(_states(engine).values()) == {"new"}
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from asset_enrichments")).scalar_one() == 0
    again = rv("plan", "-c", str(off), "--detailed-exitcode", db=db_url)
    assert again.code == 0 and "No changes." in again.out, again.out
