"""`retrovue db check` compares the live schema with the models, and writes are refused when it
differs (issue 9, item 10)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.empty_db import BACKENDS, empty_url
from tests.helpers import fs_config, make_tree


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text(f"select count(*) from {table}")).scalar_one()
    engine.dispose()
    return n


def test_a_migrated_database_matches_its_models(db_url, rv):
    """Issue 9, item 10: no false alarms on either backend."""
    result = rv("db", "check", "--json", db=db_url)
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["matches"] is True and doc["differences"] == []
    assert rv("db", "check", db=db_url).out.endswith("the schema matches this retrovue's models.\n")


def test_a_dropped_column_is_listed_and_exits_1(db_url, rv):
    """Issue 9, item 10: `db check --json` lists the differences; exit 1 when there are any."""
    _execute(db_url, "alter table assets drop column title")
    result = rv("db", "check", "--json", db=db_url)
    assert result.code == 1
    doc = result.json()
    assert doc["matches"] is False
    assert [(d["kind"], d["table"], d["column"]) for d in doc["differences"]] == [
        ("add_column", "assets", "title")
    ]
    text_out = rv("db", "check", db=db_url)
    assert text_out.code == 1 and "column assets.title is missing" in text_out.out


def test_apply_refuses_to_write_to_a_schema_it_did_not_make(db_url, rv, tmp_path):
    """Issue 9, item 10: apply checks the schema before it writes, so a dropped column is a clear
    refusal up front, not failing writes; nothing is written."""
    _execute(db_url, "alter table assets drop column title")
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    result = rv("apply", "-c", str(config), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    assert '"code": "SCHEMA_MISMATCH"' in result.out
    assert "column assets.title is missing" in result.err and "retrovue db check" in result.err
    assert _count(db_url, "sources") == 0


def test_imperative_writes_are_refused_the_same_way(db_url, rv, tmp_path):
    """Issue 9, item 10: writes through Context (here `source add`) check the schema first."""
    _execute(db_url, "alter table assets drop column title")
    result = rv(
        "source", "add", "--type", "filesystem", "--name", "S", "--base-path", str(tmp_path),
        "--json", db=db_url,
    )  # fmt: skip
    assert result.code == 1
    assert result.json()["code"] == "SCHEMA_MISMATCH"
    assert _count(db_url, "sources") == 0


def test_tables_of_other_software_are_not_differences(db_url, rv):
    """Issue 9, item 10: a database shared with other software (the playout side) may hold
    tables retrovue does not know; they are neither differences nor a reason to refuse writes."""
    _execute(db_url, "create table playout_schedule (id integer primary key)")
    result = rv("db", "check", "--json", db=db_url)
    assert result.code == 0 and result.json()["differences"] == []


def test_db_check_of_a_missing_database_creates_nothing(rv, tmp_path):
    """Issue 9, item 10 / issue 10: checking reads only."""
    result = rv("db", "check", db=f"sqlite:///{tmp_path}/none/retrovue.db")
    assert result.code == 1 and "does not exist yet" in result.err
    assert not (tmp_path / "none").exists()


def _verified_apply(db_url, rv, tmp_path):
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    assert _count(db_url, "settings where name = 'schema_verified'") == 1
    make_tree(tmp_path / "m", {"c": ["b.mkv"]})  # something to write next time
    return config


def test_a_column_dropped_after_a_verified_write_is_still_refused(db_url, rv, tmp_path):
    """Issue 9, item 10 / issue 12: the digest of the last verified schema skips only the
    comparison of an unchanged schema; a column dropped since changes the digest."""
    config = _verified_apply(db_url, rv, tmp_path)
    _execute(db_url, "alter table assets drop column title")
    result = rv("apply", "-c", str(config), "--auto-approve", "--json", db=db_url)
    assert result.code == 1 and result.json()["code"] == "SCHEMA_MISMATCH"
    assert "column assets.title is missing" in result.err
    assert _count(db_url, "assets") == 1  # b.mkv was not written


def test_an_index_dropped_after_a_verified_write_is_still_refused(db_url, rv, tmp_path):
    """An index dropped by hand changes the schema's shape just as a column does."""
    config = _verified_apply(db_url, rv, tmp_path)
    _execute(db_url, "drop index ix_asset_enrichments_collection")
    result = rv("apply", "-c", str(config), "--auto-approve", "--json", db=db_url)
    assert result.code == 1 and result.json()["code"] == "SCHEMA_MISMATCH"
    assert "index ix_asset_enrichments_collection" in result.err


def test_a_verified_unchanged_schema_is_not_compared_again(tmp_path):
    """Issue 12: `db upgrade` compares the schema it made and keeps its digest, so the first
    write after it loads no Alembic; a digest kept by a write's own check serves the next one."""
    import os
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path}/db.sqlite"
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    cli = [sys.executable, "-X", "importtime", "-m", "retrovue"]
    apply = ["apply", "-c", str(config), "--auto-approve", "--db", db]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], capture_output=True, text=True, env=env, check=True)

    run("db", "upgrade", "--db", db)
    assert _count(db, "settings where name = 'schema_verified'") == 1
    first = run(*apply)
    assert "+1 ~0 -0" in first.stdout and "alembic" not in first.stderr

    _execute(db, "delete from settings where name = 'schema_verified'")
    make_tree(tmp_path / "m", {"c": ["b.mkv"]})
    assert "alembic.autogenerate" in run(*apply).stderr  # no digest: compared, and kept
    assert _count(db, "settings where name = 'schema_verified'") == 1
    make_tree(tmp_path / "m", {"c": ["c.mkv"]})
    third = run(*apply)
    assert "+1 ~0 -0" in third.stdout and "alembic" not in third.stderr


@pytest.fixture(
    params=[b if b == "sqlite" else pytest.param(b, marks=pytest.mark.postgres) for b in BACKENDS]
)
def new_url(request, tmp_path) -> str:
    return empty_url(request, tmp_path, request.param)


def test_an_upgrade_onto_a_hand_changed_schema_keeps_no_digest(new_url, rv, tmp_path):
    """`db upgrade` keeps the digest only of a schema that matches after migrating: a column
    dropped by hand at an older revision survives the upgrade, so the first write still compares
    and refuses."""
    from retrovue.database import migrate

    if new_url.startswith("sqlite"):
        (tmp_path / "never-used").mkdir()
    engine = create_engine(new_url)
    with engine.begin() as conn:
        migrate.upgrade(conn, "0002")
    engine.dispose()
    _execute(new_url, "alter table assets drop column title")
    assert rv("db", "upgrade", db=new_url).code == 0
    assert _count(new_url, "settings where name = 'schema_verified'") == 0
    config = fs_config(
        tmp_path / "r.yaml", make_tree(tmp_path / "m", {"c": ["a.mkv"]}), {"c": True}
    )
    result = rv("apply", "-c", str(config), "--auto-approve", "--json", db=new_url)
    assert result.code == 1 and result.json()["code"] == "SCHEMA_MISMATCH"
    assert "column assets.title is missing" in result.err
