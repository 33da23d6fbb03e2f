"""Issue 21: `retrovue status` per source: last reconcile, in sync with the config, assets,
enrichment backlog, last error; --json is the use case's dataclass as it is."""

from __future__ import annotations

import dataclasses
import json

from retrovue.app.context import Context
from retrovue.app.status import status
from retrovue.execute.reconciles import record_reconcile
from tests.helpers import fs_config, make_tree


def test_status_reports_the_last_reconcile_sync_and_backlog(rv, db_url, tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv", "B (2000).mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0

    shown = rv("status", "-c", str(config), "--json", db=db_url)
    assert shown.code == 0, shown.err
    (lib,) = shown.json()["sources"]
    assert lib["name"] == "Library" and lib["in_sync"] is True
    assert lib["last_reconcile"]["trigger"] == "apply"
    assert lib["last_reconcile"]["outcome"] == "ok"
    assert lib["assets"] == {"new": 2}
    assert (lib["backlog_new"], lib["backlog_failed"]) == (2, 0)
    assert lib["last_error"] is None

    # a new file: the source is no longer in sync, and the text says so
    (media / "movies" / "C (2001).mkv").write_bytes(b"")
    text = rv("status", "-c", str(config), db=db_url)
    assert text.code == 0
    assert 'source "Library" (filesystem)' in text.out
    assert "in sync:        no: 1 planned change(s)" in text.out
    assert "2 new" in text.out


def test_status_without_config_does_not_know_sync_and_shows_a_watch_reconcile(
    rv, db_url, engine, tmp_path
):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    source_id = rv("source", "show", "Library", "--json", db=db_url).json()["id"]
    import uuid

    record_reconcile(engine, uuid.UUID(source_id), "watch-resync", "failed", "upstream unreachable")
    ctx = Context(db_url=db_url)
    try:
        result = status(ctx)
    finally:
        ctx.close()
    (lib,) = result.sources
    assert lib.in_sync is None
    assert lib.last_reconcile.trigger == "watch-resync"  # newer than the apply's run
    assert lib.last_reconcile.outcome == "failed"
    assert lib.last_error.message == "upstream unreachable"
    json.dumps(dataclasses.asdict(result))  # JSON-able as it is, for a web API


def test_status_lists_a_declared_source_not_created_yet(rv, db_url, tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("db", "upgrade", db=db_url).code == 0
    (lib,) = rv("status", "-c", str(config), "--json", db=db_url).json()["sources"]
    assert lib["id"] is None and lib["in_sync"] is False
