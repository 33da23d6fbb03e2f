"""A database URL on which retrovue has never run, on either backend (for first-use tests).

SQLite: a file that does not exist yet.  PostgreSQL: a new, empty database, dropped afterwards;
without a server the test is skipped (or, in CI, failed) by conftest's ``pg_template``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, _pg_admin_engine

BACKENDS = ["sqlite", "postgresql"]


def empty_url(request, tmp_path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'never-used' / 'retrovue.db'}"
    request.getfixturevalue("pg_template")  # the server check and its skip/fail policy
    admin = _pg_admin_engine()
    name = f"rv_empty_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def table_names(url: str) -> set[str]:
    """The tables in the database, read with a plain engine (no retrovue code involved)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
