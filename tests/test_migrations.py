"""Migrations are atomic and serialised, and a schema retrovue does not know is told apart.

Issue 9, item 5: a migration runs in one transaction under a migration lock on both backends, so
a killed first use leaves nothing behind and two first uses at once both succeed.
Issue 9, item 10: a revision made by a newer retrovue is refused as such, and `db upgrade` does
not try to run it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from retrovue.database import migrate, revision
from retrovue.database.engine import DatabaseTarget, open_database
from tests.empty_db import BACKENDS, empty_url, table_names
from tests.helpers import fs_config

#: runs open_database with a hook on the statement that creates the assets table (tables made
#: before it: apply_locks, sources, collections), e.g. to kill the process there
HOOKED_FIRST_USE = """
import os, signal, sys, time
from sqlalchemy import Engine, event
from retrovue.database.engine import DatabaseTarget, open_database

url, action, marker = sys.argv[1], sys.argv[2], sys.argv[3]

@event.listens_for(Engine, "before_cursor_execute")
def hook(conn, cursor, statement, *args):
    if "CREATE TABLE assets" in statement:
        open(marker, "w").close()
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(2)

open_database(DatabaseTarget(url, False)).dispose()
"""


@pytest.fixture(
    params=[b if b == "sqlite" else pytest.param(b, marks=pytest.mark.postgres) for b in BACKENDS]
)
def new_url(request, tmp_path) -> str:
    return empty_url(request, tmp_path, request.param)


def _hooked(url: str, action: str, marker) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOOKED_FIRST_USE, url, action, str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_use(url: str) -> subprocess.Popen:
    script = (
        "import sys\n"
        "from retrovue.database.engine import DatabaseTarget, open_database\n"
        "open_database(DatabaseTarget(sys.argv[1], False)).dispose()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _revision(url: str) -> str | None:
    engine = open_database(DatabaseTarget(url, False))
    try:
        with engine.connect() as conn:
            return migrate.current_revision(conn)
    finally:
        engine.dispose()


def test_head_revision_constant_is_alembics_head():
    """Issue 12: a command reads the schema's state without Alembic, against ``HEAD_REVISION``;
    a new migration that does not update the constant fails here."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert revision.HEAD_REVISION == scripts.get_current_head()
    assert revision.HEAD_REVISION in migrate.known_revisions()


def test_a_first_use_killed_mid_migration_leaves_nothing_behind(new_url, tmp_path):
    """Issue 9, item 5: SIGKILL after three tables were created: the database is as empty as
    before, and the next first use migrates it (instead of refusing a half-built schema)."""
    proc = _hooked(new_url, "kill", tmp_path / "reached")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "reached").exists()  # the kill happened mid-migration
    assert table_names(new_url) == set()
    assert _revision(new_url) == migrate.head_revision()
    assert {"sources", "collections", "assets", "apply_locks"} <= table_names(new_url)


def test_two_first_uses_at_once_both_succeed(new_url, tmp_path):
    """Issue 9, item 5: a second process starting while the first is migrating waits for the
    migration lock, re-reads the revision, and finds the schema made (no schema error, no
    duplicate-key error)."""
    marker = tmp_path / "migrating"
    first = _hooked(new_url, "pause", marker)
    _wait_for(marker)
    second = _first_use(new_url)
    out_second = second.communicate(timeout=120)
    out_first = first.communicate(timeout=120)
    assert first.returncode == 0, out_first[1]
    assert second.returncode == 0, out_second[1]
    assert _revision(new_url) == migrate.head_revision()


def _set_revision(url: str, revision: str) -> None:
    engine = open_database(DatabaseTarget(url, False))
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = :r"), {"r": revision})
    engine.dispose()


def _stored_revision(url: str) -> str:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select version_num from alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_a_revision_from_a_newer_retrovue_is_named_so(db_url, rv, tmp_path):
    """Issue 9, item 10: an unknown revision is "made by a newer retrovue" (exit 1), not "out
    of date", and is never sent to `db upgrade`."""
    _set_revision(db_url, "ffff_from_the_future")
    result = rv("plan", "-c", str(fs_config(tmp_path / "r.yaml", tmp_path, {})), db=db_url)
    assert result.code == 1
    assert "made by a newer retrovue" in result.err
    assert "out of date" not in result.err and "run `retrovue db upgrade`" not in result.err
    current = rv("db", "current", "--json", db=db_url).json()
    assert current["schema"] == "newer" and current["up_to_date"] is False


def test_db_upgrade_refuses_a_newer_revision_without_running_anything(db_url, rv):
    """Issue 9, item 10: `db upgrade` on a revision it does not know exits 1 with a typed error
    (it used to crash in Alembic with CommandError) and leaves the revision as it was."""
    _set_revision(db_url, "ffff_from_the_future")
    result = rv("db", "upgrade", "--json", db=db_url)
    assert result.code == 1
    assert result.json()["code"] == "SCHEMA_TOO_NEW"
    assert "made by a newer retrovue" in result.json()["message"]
    assert "Traceback" not in result.err and "CommandError" not in result.err
    assert _stored_revision(db_url) == "ffff_from_the_future"


def test_db_upgrade_of_a_new_database_migrates_it_in_one_step(new_url, rv):
    """Issue 9, item 5: `db upgrade` takes the same locked, transactional path as first use."""
    result = rv("db", "upgrade", "--json", db=new_url)
    assert result.code == 0, result.err
    assert result.json()["from"] is None and result.json()["to"] == migrate.head_revision()
    again = rv("db", "upgrade", "--json", db=new_url)
    assert again.code == 0 and again.json()["from"] == migrate.head_revision()
