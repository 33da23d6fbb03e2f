"""The delete, wipe, update and read use cases called directly, without the CLI."""

from __future__ import annotations

import pytest

from retrovue.app.asset_read import AssetFilters, list_assets
from retrovue.app.collection_ingest import IngestRequest, ingest_collection
from retrovue.app.collection_read import list_collections, show_collection
from retrovue.app.collection_update import UpdateRequest, commit_update, preview_update
from retrovue.app.collection_wipe import plan_wipe, wipe_collection
from retrovue.app.context import Context
from retrovue.app.source_add import AddRequest, add_source
from retrovue.app.source_delete import delete_sources, plan_delete
from retrovue.errors import ProductionSafetyError
from retrovue.model.enums import Outcome
from tests.helpers import make_tree
from tests.imperative_helpers import LAYOUT, air

REASON = "production safety: 1 aired asset(s) referenced by playlog_events/as_run_log"


@pytest.fixture
def ctx(db_url):
    context = Context(db_url=db_url)
    yield context
    context.close()


@pytest.fixture
def two(ctx, tmp_path):
    """Sources 'Alpha' and 'Beta', each with its Movies collection ingested; their Movies ids."""
    media = make_tree(tmp_path / "media", LAYOUT)
    for name in ("Alpha", "Beta"):
        add_source(ctx, AddRequest("filesystem", name, {"base_path": str(media)}, discover=True))
    movies = {
        e.source.name: str(e.collection.id)
        for e in list_collections(ctx).entries
        if e.collection.name == "Movies"
    }
    for collection_id in movies.values():
        commit_update(ctx, preview_update(ctx, UpdateRequest(collection_id, sync_enable=True)))
        ingest_collection(ctx, IngestRequest(collection_id))
    return movies


def _air_one(ctx, db_url, collection_id) -> None:
    with list_assets(ctx, AssetFilters(collection=collection_id, limit=1)) as listing:
        (first,) = listing.assets
    air(db_url, str(first.asset.id))


def test_update_preview_writes_nothing(ctx, two):  # CU B-18
    tv = next(
        e.collection for e in list_collections(ctx, "Alpha").entries if e.collection.name == "TV"
    )
    preview = preview_update(ctx, UpdateRequest(str(tv.id), sync_enable=True))
    assert preview.dry_run and len(preview.plan.actions) == 1
    assert not show_collection(ctx, str(tv.id)).entry.collection.sync_enabled
    done = commit_update(ctx, preview)
    assert not done.dry_run and show_collection(ctx, str(tv.id)).entry.collection.sync_enabled
    again = preview_update(ctx, UpdateRequest(str(tv.id), sync_enable=True))
    assert again.plan.actions == () and "already sync-enabled" in again.change.noop_message


def test_production_never_overrides_safety(ctx, db_url, two):  # PS-011
    _air_one(ctx, db_url, two["Alpha"])
    preview = plan_delete(ctx, "*", force=True, dry_run=True)
    assert [t.source.name for t in preview.protected] == ["Alpha"]
    assert [t.source.name for t in preview.deletable] == ["Beta"]
    with pytest.raises(ProductionSafetyError) as caught:
        plan_delete(ctx, "Alpha", force=True, dry_run=False)  # refused before any prompt
    assert caught.value.details["skipped"] == [
        {"id": str(preview.protected[0].source.id), "name": "Alpha", "reason": REASON}
    ]


def test_test_db_force_overrides_safety(db_url, tmp_path, monkeypatch, two):  # PS-030
    monkeypatch.setenv("RETROVUE_TEST_DATABASE_URL", db_url)
    test_ctx = Context(test_db=True, db_url=f"sqlite:///{tmp_path / 'prod.db'}")
    try:
        _air_one(test_ctx, db_url, two["Alpha"])
        assert plan_delete(test_ctx, "Alpha", force=False, dry_run=True).protected  # --confirm
        forced = plan_delete(test_ctx, "Alpha", force=True, dry_run=False)
        assert forced.plan.actions[0].override_safety
        report = delete_sources(test_ctx, forced)
        assert report.outcome == Outcome.OK and not report.kept
    finally:
        test_ctx.close()


def test_a_source_that_aired_after_planning_is_kept(ctx, db_url, two):  # SDel D-8
    preview = plan_delete(ctx, "*", force=True, dry_run=False)
    _air_one(ctx, db_url, two["Alpha"])  # between the count and the delete
    report = delete_sources(ctx, preview)
    assert report.outcome == Outcome.PARTIAL
    assert [t.source.name for t in report.deleted] == ["Beta"]
    assert [(k.name, k.reason) for k in report.kept] == [("Alpha", REASON)]


def test_a_collection_that_aired_after_planning_is_not_wiped(ctx, db_url, two):  # CW N-4
    wipe = plan_wipe(ctx, two["Alpha"], force=True, dry_run=False)
    assert wipe.assets == 2 and not wipe.protected
    _air_one(ctx, db_url, two["Alpha"])
    with pytest.raises(ProductionSafetyError) as caught:
        wipe_collection(ctx, wipe)
    assert caught.value.message == f"Collection 'Movies' was not wiped: {REASON}"
    assert show_collection(ctx, two["Alpha"]).entry.assets == 2
