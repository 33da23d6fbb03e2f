"""Database selection, first-use migration, schema checks and --test-db isolation (DESIGN §8)."""

import sqlite3

import pytest
from sqlalchemy import text

from retrovue.database import migrate
from retrovue.database.engine import DatabaseTarget, open_database, resolve_target
from retrovue.errors import SchemaOutOfDateError, TestDbIsProductionError
from tests.helpers import fs_config, make_tree


def test_default_database_is_created_and_migrated_under_xdg(rv, isolated_env, tmp_path):
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    assert rv("apply", "-c", str(config), "--auto-approve").code == 0
    db_file = isolated_env / "xdg" / "retrovue" / "retrovue.db"
    assert db_file.exists()
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert conn.execute("select count(*) from assets").fetchone()[0] == 1


def test_home_fallback_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("RETROVUE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        resolve_target(None, False).url == f"sqlite:///{tmp_path}/.local/share/retrovue/retrovue.db"
    )


def test_url_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RETROVUE_DATABASE_URL", "sqlite:///from-env.db")
    assert resolve_target(None, False).url == "sqlite:///from-env.db"
    assert resolve_target("sqlite:///from-flag.db", False).url == "sqlite:///from-flag.db"


def test_test_db_refuses_the_production_database(monkeypatch, tmp_path, rv):
    url = f"sqlite:///{tmp_path}/same.db"
    monkeypatch.setenv("RETROVUE_TEST_DATABASE_URL", f"sqlite:///{tmp_path}/./same.db")
    with pytest.raises(TestDbIsProductionError):
        resolve_target(url, True)
    result = rv("plan", "-c", str(tmp_path / "x.yaml"), "--test-db", "--json", db=url)
    assert result.code == 1 and result.json()["code"] == "TEST_DB_IS_PRODUCTION"


def test_test_db_leaves_production_untouched(rv, isolated_env, tmp_path, monkeypatch):
    production = tmp_path / "prod.db"
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    assert rv("apply", "-c", str(config), "--auto-approve", db=f"sqlite:///{production}").code == 0
    before = production.read_bytes()
    make_tree(tmp_path / "m", {"c": ["b.mkv"]})
    monkeypatch.setenv("RETROVUE_TEST_DATABASE_URL", f"sqlite:///{tmp_path}/test.db")
    assert (
        rv(
            "apply", "-c", str(config), "--auto-approve", "--test-db", db=f"sqlite:///{production}"
        ).code
        == 0
    )
    assert production.read_bytes() == before
    with sqlite3.connect(tmp_path / "test.db") as conn:
        assert conn.execute("select count(*) from assets").fetchone()[0] == 2


def _older_revision() -> str:
    older = sorted(migrate.known_revisions() - {migrate.head_revision()})
    assert older, "a second migration exists, so some revision is behind the head"
    return older[0]


def test_out_of_date_schema_is_refused_naming_db_upgrade(db_url, rv, tmp_path):
    engine = open_database(DatabaseTarget(db_url, False))
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = :r"), {"r": _older_revision()})
    engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="out of date"):
        open_database(DatabaseTarget(db_url, False))
    result = rv("plan", "-c", str(fs_config(tmp_path / "r.yaml", tmp_path, {})), db=db_url)
    assert result.code == 1
    assert "schema is out of date" in result.err and "retrovue db upgrade" in result.err


def test_db_upgrade_and_current(rv, tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    current = rv("db", "current", "--json", db=url)
    assert current.code == 0 and current.json()["current"] is None
    upgraded = rv("db", "upgrade", db=url)
    assert upgraded.code == 0 and migrate.head_revision() in upgraded.out
    doc = rv("db", "current", "--json", db=url).json()
    assert doc["up_to_date"] is True and doc["current"] == migrate.head_revision()


def test_migrations_create_every_table(engine):
    from sqlalchemy import inspect

    tables = set(inspect(engine).get_table_names())
    assert {
        "sources",
        "collections",
        "path_mappings",
        "assets",
        "ingest_runs",
        "apply_locks",
        "playlog_events",
        "as_run_log",
    } <= tables


def test_approved_requires_ready(engine):
    """DESIGN §8: check constraint approved ⇒ ready."""
    import uuid

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from retrovue.database.tables import Asset, Collection, Source, utcnow

    sid, cid, now = uuid.uuid4(), uuid.uuid4(), utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid, external_id="s", name="s", type="filesystem", origin="cli"
            )
        )
        conn.execute(insert(Collection).values(id=cid, source_id=sid, external_id="c", name="c"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(Asset).values(
                id=uuid.uuid4(),
                collection_id=cid,
                source_uri="u",
                canonical_uri="/u",
                kind="other",
                change_token="t",
                state="new",
                approved_for_broadcast=True,
                discovered_at=now,
                created_at=now,
                updated_at=now,
            )
        )


# --- issue 9, item 9: a database failure is one line naming the cause and the database ---------


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("Error:")]


def _assert_one_clean_line(err: str, *expected: str) -> str:
    lines = _error_lines(err)
    assert len(lines) == 1, err
    for dump in ("[SQL:", "[parameters:", "sqlalche.me", "Traceback", "LINE 1:"):
        assert dump not in err, err
    for text_ in expected:
        assert text_ in lines[0], lines[0]
    return lines[0]


def _read_only_url(db_url: str) -> str:
    """The same database, refusing writes: SQLite opened read-only, PostgreSQL read-only by
    default for every new session."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///file:{url.database}?mode=ro&uri=true"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
        )
    admin.dispose()
    return db_url


def test_a_read_only_database_is_one_error_line(db_url, rv, tmp_path):
    """Issue 9, item 9: no statement, parameters or link in the error; --debug shows them."""
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    url = _read_only_url(db_url)
    result = rv("apply", "-c", str(config), "--auto-approve", db=url)
    assert result.code == 1
    line = _assert_one_clean_line(result.err, "Database operation failed on ")
    assert "read" in line.casefold() and "taking" not in line
    debug = rv("apply", "-c", str(config), "--auto-approve", "--debug", db=url)
    assert debug.code == 1 and "[SQL:" in debug.err  # the details are there when asked for


def test_a_dropped_column_is_one_error_line(db_url, rv, tmp_path):
    """Issue 9, item 9: a read that hits a column changed by hand names the column, the
    database and `retrovue db check`, in one line and a hint (it used to print the SELECT)."""
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("alter table collections drop column ingestible_reason"))
    engine.dispose()
    config = fs_config(tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {})
    result = rv("plan", "-c", str(config), db=db_url)
    assert result.code == 1
    _assert_one_clean_line(result.err, "ingestible_reason", db_url)  # db_url has no password
    assert "retrovue db check" in result.err
    doc = rv("plan", "-c", str(config), "--json", db=db_url)
    assert doc.code == 1 and doc.json()["code"] == "DATABASE_ERROR"


def test_a_database_locked_by_another_writer_is_one_error_line(rv, tmp_path):
    """Issue 9, item 9: SQLite busy past the timeout (5 s) is one line with a hint."""
    url = f"sqlite:///{tmp_path}/busy.db"
    open_database(DatabaseTarget(url, False)).dispose()
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    writer = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        result = rv("apply", "-c", str(config), "--auto-approve", db=url)
    finally:
        writer.rollback()
        writer.close()
    assert result.code == 1
    _assert_one_clean_line(result.err, "database is locked", url)
    assert "another process is writing" in result.err


def test_a_new_sqlite_database_is_readable_by_its_owner_only(rv, isolated_env, tmp_path):
    """Issue 19, item 19: the file holds the database's key, and was created 0644."""
    import stat

    from tests.helpers import fs_config, make_tree

    db = tmp_path / "private" / "retrovue.db"
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    assert rv("apply", "-c", str(config), "--auto-approve", db=f"sqlite:///{db}").code == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
