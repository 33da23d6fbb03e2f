"""Helpers for the imperative-command tests (contracts.md §1–§15)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text

from tests.helpers import make_tree

TABLES = (
    "sources",
    "collections",
    "path_mappings",
    "assets",
    "ingest_runs",
    "apply_locks",
)
LAYOUT = {
    "Movies": ["Heat (1995).mkv", "Alien (1979).mkv"],
    "TV": [
        "Lost/Season 01/Lost - S01E01.mkv",
        "Lost/Season 01/Lost - S01E02.mkv",
        "Lost/Season 02/Lost - S02E01.mkv",
    ],
    "Empty": [],
}


@pytest.fixture(name="media")
def media_fixture(tmp_path) -> Path:
    """A small media tree (tests import ``media_fixture``; the fixture is named ``media``)."""
    return make_tree(tmp_path / "media", LAYOUT)


def one_json(out: str):
    """stdout must hold exactly one JSON document (§0.2)."""
    decoder = json.JSONDecoder()
    doc, end = decoder.raw_decode(out)
    assert out[end:].strip() == "", f"more than one document on stdout: {out!r}"
    return doc


def add_fs(rv, db, base, name="Library", discover=True, *extra) -> dict:
    argv = [
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        name,
        "--base-path",
        str(base),
        "--json",
    ]
    if discover:
        argv.append("--discover")
    r = rv(*argv, *extra, db=db)
    assert r.code == 0, r.err
    return one_json(r.out)


def add_plex(rv, db, base_url, token, name="P", discover=True, *extra) -> dict:
    """`source add --type plex` against (usually) the fake Plex server; the --json document."""
    argv = [
        "source",
        "add",
        "--type",
        "plex",
        "--name",
        name,
        "--base-url",
        base_url,
        "--token",
        token,
        "--json",
    ]
    if discover:
        argv.append("--discover")
    r = rv(*argv, *extra, db=db)
    assert r.code == 0, r.err
    return one_json(r.out)


def enable(rv, db, selector) -> None:
    r = rv("collection", "update", selector, "--sync-enable", db=db)
    assert r.code == 0, r.err


def snapshot_tables(url: str) -> dict:
    """Every row of the catalogue tables, for before/after comparisons (dry-run writes nothing)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: sorted(
                    tuple(str(v) for v in row) for row in conn.execute(text(f"SELECT * FROM {t}"))
                )
                for t in TABLES
            }
    finally:
        engine.dispose()


def sqlite_dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def air(url: str, asset_id: str) -> None:
    """Record that an asset aired (a playlog_events row), as the playout side would."""
    import uuid

    from retrovue.database.tables import PlaylogEvent

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(PlaylogEvent).values(
                    id=uuid.uuid4(), asset_id=uuid.UUID(asset_id), channel="1"
                )
            )
    finally:
        engine.dispose()


def count(url: str, table: str, where: str = "") -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one()
    finally:
        engine.dispose()
