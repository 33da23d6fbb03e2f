"""--test-db is refused on the production database however its URL is spelt (issue 17, item 1).

Sameness is asked of what the URLs reach (PostgreSQL's system identifier and database name,
a SQLite file's device and inode), so every spelling below, each of which once got through and
deleted the production source, is refused; two different databases still work, and a database
that cannot be reached is refused, since nothing then proves the two differ.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

from tests.empty_db import empty_url
from tests.imperative_helpers import add_fs, count, media_fixture, one_json  # noqa: F401
from tests.test_fast_start import _run_timed_imports


def _postgresql(url: str, tmp_path) -> str:
    return make_url(url).set(drivername="postgresql", port=None).render_as_string(False)


def _localhost(url: str, tmp_path) -> str:
    return make_url(url).set(host="localhost").render_as_string(False)


def _application_name(url: str, tmp_path) -> str:
    return make_url(url).update_query_dict({"application_name": "x"}).render_as_string(False)


def _pysqlite(url: str, tmp_path) -> str:
    return url.replace("sqlite:///", "sqlite+pysqlite:///", 1)


def _mode_rw(url: str, tmp_path) -> str:
    return f"{url}?mode=rw"


def _uri_mode_rw(url: str, tmp_path) -> str:
    return f"sqlite:///file:{make_url(url).database}?mode=rw&uri=true"


def _symlink(url: str, tmp_path) -> str:
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(make_url(url).database)
    return f"sqlite:///{link}"


def _hard_link(url: str, tmp_path) -> str:
    link = tmp_path / "hard-link.db"
    os.link(make_url(url).database, link)
    return f"sqlite:///{link}"


def _on(backend: str, respell) -> pytest.param:
    marks = [pytest.mark.postgres] if backend == "postgresql" else []
    return pytest.param(backend, respell, marks=marks, id=f"{backend}-{respell.__name__[1:]}")


SPELLINGS = [
    _on("postgresql", _postgresql),
    _on("postgresql", _localhost),
    _on("postgresql", _application_name),
    _on("sqlite", _pysqlite),
    _on("sqlite", _mode_rw),
    _on("sqlite", _uri_mode_rw),
    _on("sqlite", _symlink),
    _on("sqlite", _hard_link),
]


@pytest.mark.parametrize(("db_url", "respell"), SPELLINGS, indirect=["db_url"])
def test_another_spelling_of_production_is_refused(rv, db_url, respell, tmp_path, media):
    add_fs(rv, db_url, media, "ProdSrc")
    test_url = respell(db_url, tmp_path)
    env = {"RETROVUE_TEST_DATABASE_URL": test_url}
    r = rv("source", "delete", "ProdSrc", "--test-db", "--force", "--json", db=db_url, env=env)
    assert r.code == 1 and one_json(r.out)["code"] == "TEST_DB_IS_PRODUCTION", r.out + r.err
    assert f"the test database {test_url} is the production database {db_url}" in r.err
    assert count(db_url, "sources") == 1


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def test_two_different_databases_work(rv, db_url, request, tmp_path, media):
    """Another database on the same PostgreSQL server (same system identifier, another name), or
    another SQLite file, both before it exists and once it does."""
    add_fs(rv, db_url, media, "ProdSrc")
    test_url = empty_url(request, tmp_path, _backend(db_url))
    env = {"RETROVUE_TEST_DATABASE_URL": test_url}
    added = rv(
        "source", "add", "--type", "filesystem", "--name", "TestSrc", "--base-path", str(media),
        "--test-db", db=db_url, env=env,
    )  # fmt: skip
    assert added.code == 0, added.err
    listed = rv("source", "list", "--test-db", "--json", db=db_url, env=env)
    assert listed.code == 0, listed.err
    assert [s["name"] for s in one_json(listed.out)["sources"]] == ["TestSrc"]
    assert count(db_url, "sources", "WHERE name = 'TestSrc'") == 0


def _unreachable(url: str, tmp_path) -> str:
    """A database of the same backend that cannot be asked what it is: nothing listens on
    PostgreSQL's port 1; a SQLite path runs through a regular file, as if it were a folder."""
    if _backend(url) == "postgresql":
        return make_url(url).set(port=1, password="s3cret").render_as_string(False)
    (tmp_path / "a-file").write_text("not a folder")
    return f"sqlite:///{tmp_path / 'a-file' / 'prod.db'}"


def test_an_unreachable_production_database_is_refused(rv, db_url, tmp_path, media):
    production = _unreachable(db_url, tmp_path)
    env = {"RETROVUE_TEST_DATABASE_URL": db_url}
    r = rv(
        "source", "add", "--type", "filesystem", "--name", "TestSrc", "--base-path", str(media),
        "--test-db", "--json", db=production, env=env,
    )  # fmt: skip
    assert r.code == 1 and one_json(r.out)["code"] == "TEST_DB_UNVERIFIED", r.out + r.err
    shown = production.replace("s3cret", "***REDACTED***")
    assert (
        f"cannot tell whether the test database {db_url} is the production database {shown}: "
        "the production database cannot be reached: " in r.err
    )
    assert "s3cret" not in r.out + r.err
    assert count(db_url, "sources") == 0


def test_only_test_db_loads_the_guard(tmp_path):
    """The guard connects to both databases: a command without --test-db never loads it."""
    _out, imported = _run_timed_imports(
        tmp_path, "source", "list", "--db", f"sqlite:///{tmp_path}/x"
    )
    assert "retrovue.database.engine" in imported  # it did open the database
    assert "retrovue.database.identity" not in imported
