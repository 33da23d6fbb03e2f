"""Issue 19, item 15: a database that does not exist yet is planned as empty on PostgreSQL as on
SQLite (it ended in the server's raw `FATAL: database "…" does not exist`, exit 1); `apply` and
`db upgrade` create it when the role may, and otherwise fail naming the exact fix."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import _pg_admin_engine
from tests.helpers import fs_config, make_tree

pytestmark = pytest.mark.postgres


@pytest.fixture
def missing_db(pg_template):
    """The URL of a PostgreSQL database nobody created (dropped afterwards if a test made it)."""
    from tests.conftest import PG_URL

    name = f"rv_missing_{uuid.uuid4().hex[:10]}"
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def config(tmp_path):
    base = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"]})
    return str(fs_config(tmp_path / "r.yaml", base, {"movies": True}))


def _exists(name: str) -> bool:
    admin = _pg_admin_engine()
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
    finally:
        admin.dispose()
    return found is not None


def test_plan_reads_a_missing_database_as_empty_and_creates_nothing(rv, missing_db, config):
    url, name = missing_db
    plan = rv("plan", "-c", config, db=url)
    assert plan.code == 0, plan.err
    assert f"/{name} does not exist yet: planned as empty; apply creates it" in plan.out
    assert "1 source to create" in plan.out
    assert "FATAL" not in plan.err
    assert not _exists(name)


def test_apply_creates_the_database_then_plans_no_changes(rv, missing_db, config):
    url, name = missing_db
    applied = rv("apply", "-c", config, "--auto-approve", db=url)
    assert applied.code == 0, applied.err
    assert _exists(name)
    assert "No changes." in rv("plan", "-c", config, db=url).out


def test_db_upgrade_creates_the_database(rv, missing_db):
    url, name = missing_db
    upgraded = rv("db", "upgrade", db=url)
    assert upgraded.code == 0, upgraded.err
    assert _exists(name)


@pytest.fixture
def role_without_createdb():
    role = f"rv_nocreate_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOCREATEDB'))
    yield role
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_a_role_that_may_not_create_it_is_told_the_fix(
    rv, missing_db, config, role_without_createdb
):
    url, name = missing_db
    url = make_url(url).set(username=role_without_createdb).render_as_string(hide_password=False)
    applied = rv("apply", "-c", config, "--auto-approve", db=url)
    assert applied.code == 1
    assert f"does not exist, and {role_without_createdb} may not create it" in applied.err
    assert f'ALTER ROLE "{role_without_createdb}" CREATEDB' in applied.err
    assert "FATAL" not in applied.err and "Traceback" not in applied.err
    assert not _exists(name)
