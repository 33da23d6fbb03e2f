"""Shared fixtures: one database per test on SQLite and on PostgreSQL, and an in-process CLI runner.

The PostgreSQL tier needs a server (RETROVUE_TEST_POSTGRES_URL, default the local trust-auth
postgres).  Locally, without one, those tests are skipped with the reason; in CI
(RETROVUE_REQUIRE_POSTGRES=1) a missing server fails the run instead.
"""

from __future__ import annotations

import io
import json
import os
import sys
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from retrovue.database.engine import DatabaseTarget, open_database

# the fake media servers' fixtures (absent from the packaged test tree: test_packaging)
pytest_plugins = [
    f"tests.{name}"
    for name in ("fakeplex_fixtures", "fakejellyfin_fixtures")
    if os.path.exists(os.path.join(os.path.dirname(__file__), f"{name}.py"))
]

PG_URL = os.environ.get(
    "RETROVUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("RETROVUE_REQUIRE_POSTGRES") == "1"


def _pg_admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def pg_template():
    """A migrated template database; each test clones it (CREATE DATABASE … TEMPLATE)."""
    try:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL tier required but {PG_URL} is unreachable: {exc}")
        pytest.skip(
            f"PostgreSQL not reachable at {PG_URL} (set RETROVUE_REQUIRE_POSTGRES=1 to fail instead)"
        )
    name = f"rv_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    open_database(DatabaseTarget(url, False)).dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_pg(request) -> str:
    template = request.getfixturevalue("pg_template")
    admin = _pg_admin_engine()
    name = f"rv_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh, migrated database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'retrovue.db'}"
        open_database(DatabaseTarget(url, False)).dispose()
        return url
    return _fresh_pg(request)


@pytest.fixture
def engine(db_url):
    eng = open_database(DatabaseTarget(db_url, False))
    yield eng
    eng.dispose()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for var in (
        "RETROVUE_DATABASE_URL",
        "RETROVUE_TEST_DATABASE_URL",
        "RETROVUE_CONFIG",
        "RETROVUE_LOG_FORMAT",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def rv(isolated_env, capsys, monkeypatch, request):
    """Run the CLI in-process: rv("plan", "-c", path, db=url, input="yes\\n") -> CliResult."""
    from retrovue.cli.main import main

    def run(
        *argv: str, db: str | None = None, input: str | None = None, env: dict | None = None
    ) -> CliResult:
        args = list(argv)
        with monkeypatch.context() as m:
            if db is not None:
                m.setenv("RETROVUE_DATABASE_URL", db)
            for key, value in (env or {}).items():
                m.setenv(key, value)
            m.setattr(sys, "stdin", io.StringIO(input or ""))
            capsys.readouterr()
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def watching(library, db_url):
    """`retrovue watch` of the test module's ``library`` (its config and media), past its first
    reconcile (the watch tests: ``tests/watch_helpers.py``)."""
    from tests.watch_helpers import first_reconciled

    config, _media = library
    with first_reconciled(config, db_url) as started:
        yield started
