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


def test_out_of_date_schema_is_refused_naming_db_upgrade(db_url, rv, tmp_path):
    engine = open_database(DatabaseTarget(db_url, False))
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '0000'"))
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

    from retrovue.database.models import Asset, Collection, Source, utcnow

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
