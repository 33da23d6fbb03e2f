"""A collection that holds the catalogue's own SQLite database (issue 17, "smaller" list).

Every apply changes the database file and its -wal/-shm/-journal companions, so ingesting them
as media never converged.  They are skipped with their own reason, and the plan warns.
"""

from __future__ import annotations

import json
import os
import shutil

import yaml
from sqlalchemy import create_engine, select

from retrovue.database.engine import sqlite_file
from retrovue.database.tables import Asset
from retrovue.diff.assets import OWN_DATABASE_REASON
from tests.helpers import make_tree

#: extensions that match a database's files, as a too-broad `extensions:` list can
GREEDY = ["mkv", "db", "db-wal", "db-shm", "db-journal"]


def _config(path, base) -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Library",
                "type": "filesystem",
                "config": {"base_path": str(base), "extensions": GREEDY},
                "collections": [{"name": "lib", "sync": True}, {"name": "b", "sync": True}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _stored_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {os.path.basename(u) for u in conn.scalars(select(Asset.c.canonical_uri))}
    finally:
        engine.dispose()


def test_the_databases_own_files_are_skipped_with_a_warning_and_the_plan_converges(
    rv, db_url, tmp_path
):
    base = make_tree(tmp_path / "media", {"lib": ["film.mkv"], "b": ["fine.mkv"]})
    sqlite = sqlite_file(db_url)
    if sqlite is not None:  # the catalogue kept inside a media folder
        shutil.copy(sqlite, base / "lib" / "retrovue.db")
        db_url = f"sqlite:///{base / 'lib' / 'retrovue.db'}"
    else:  # PostgreSQL's files are the server's: a file merely named like a database is media
        (base / "lib" / "retrovue.db").write_bytes(b"x")
    config = _config(tmp_path / "r.yaml", base)

    plan = rv("plan", "-c", config, "--json", db=db_url)
    assert plan.code == 0, plan.err
    doc = json.loads(plan.out)
    (lib,) = [
        a
        for a in doc["actions"]
        if a["kind"] == "ingest_collection" and a["collection"]["name"] == "lib"
    ]
    skipped = [s["reason"] for s in lib["skipped_reasons"]]
    warned = [n for n in doc["notes"] if "own database" in n]
    text = rv("plan", "-c", config, db=db_url)
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err + applied.out
    again = rv("plan", "-c", config, "--detailed-exitcode", db=db_url)
    dry = rv("collection", "ingest", "Library/lib", "--dry-run", "--json", db=db_url)
    assert dry.code == 0, dry.err
    dry_skipped = [s["reason"] for s in dry.json()["skipped_reasons"]]

    if sqlite is not None:
        assert skipped == dry_skipped == [OWN_DATABASE_REASON]
        assert warned == [
            f'collection "Library"/"lib" holds this catalogue\'s own database '
            f"({base / 'lib' / 'retrovue.db'}): its files are never ingested; keep the database "
            "outside the media folders"
        ]
        assert f"Note: {warned[0]}" in text.out
        assert _stored_names(db_url) == {"film.mkv", "fine.mkv"}
        assert again.code == 0, again.out  # nothing the apply itself changed comes back
    else:
        assert skipped == dry_skipped == warned == []
        assert _stored_names(db_url) == {"film.mkv", "retrovue.db", "fine.mkv"}
        assert again.code == 0, again.out


def test_a_database_reached_through_a_symlinked_root_is_still_its_own(rv, db_url, tmp_path):
    """The collection's root is a symlink to the database's folder: the walk names the files
    through the link, the database by its real path; both are the same files."""
    sqlite = sqlite_file(db_url)
    real = make_tree(tmp_path / "nas", {"lib": ["film.mkv"]}) / "lib"
    base = make_tree(tmp_path / "media", {"b": ["fine.mkv"]})
    os.symlink(real, base / "lib")
    if sqlite is not None:
        shutil.copy(sqlite, real / "retrovue.db")
        db_url = f"sqlite:///{real / 'retrovue.db'}"
    else:
        (real / "retrovue.db").write_bytes(b"x")
    config = tmp_path / "r.yaml"
    _config(config, base)
    doc = yaml.safe_load(config.read_text())
    doc["sources"][0]["config"]["follow_symlinks"] = True
    config.write_text(yaml.safe_dump(doc))

    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err + applied.out
    again = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert again.code == 0, again.out
    if sqlite is not None:
        assert _stored_names(db_url) == {"film.mkv", "fine.mkv"}
    else:
        assert _stored_names(db_url) == {"film.mkv", "retrovue.db", "fine.mkv"}
