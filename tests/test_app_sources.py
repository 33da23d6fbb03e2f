"""The source use cases called directly, without the CLI: their business rules hold on their own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retrovue.app import source_update
from retrovue.app.context import Context
from retrovue.app.source_add import AddRequest, add_source
from retrovue.app.source_discover import discover_collections
from retrovue.app.source_read import list_sources, show_source
from retrovue.app.source_update import UpdateRequest, update_source
from retrovue.errors import ConcurrentModificationError, ValidationError
from retrovue.model.actions import CreateSource
from retrovue.plan.imperative import ParamErrors
from tests.helpers import make_tree
from tests.imperative_helpers import LAYOUT


@pytest.fixture
def ctx(db_url):
    context = Context(db_url=db_url)
    yield context
    context.close()


@pytest.fixture
def media(tmp_path):
    return make_tree(tmp_path / "media", LAYOUT)


def _add(ctx, media, name="Library", **options):
    return add_source(ctx, AddRequest("filesystem", name, {"base_path": str(media)}, **options))


def test_add_reports_every_problem_at_once(ctx):  # SA B-2
    with pytest.raises(ParamErrors) as caught:
        add_source(ctx, AddRequest("plex", " ", {"base_url": "ftp:x"}))
    assert caught.value.messages == [
        "Invalid source name: must not be blank",
        "--token is required for plex sources",
        "Invalid URL format for base_url parameter",
    ]
    assert caught.value.message == "; ".join(caught.value.messages)
    assert list_sources(ctx).sources == ()


def test_add_dry_run_plans_and_stores_nothing(ctx, media):  # SA dry run
    preview = _add(ctx, media, discover=True, dry_run=True)
    assert preview.id is None and preview.dry_run
    assert isinstance(preview.plan.actions[0], CreateSource)
    assert sorted(c.name for c in preview.collections) == ["Empty", "Movies", "TV"]
    assert list_sources(ctx).sources == ()


def test_add_warns_of_a_second_source_with_the_same_name(ctx, media):  # SA B-3
    _add(ctx, media)
    heard = []
    added = add_source(
        ctx, AddRequest("filesystem", "LIBRARY", {"base_path": str(media)}), heard.append
    )
    assert heard == ["a source named 'LIBRARY' already exists; name selectors will be ambiguous"]
    assert len(list_sources(ctx).sources) == 2 and added.id is not None


def test_discover_stores_new_collections_disabled(ctx, media):  # SD D-3
    _add(ctx, media)
    found = discover_collections(ctx, "Library")
    assert found.count("added") == 3 and not any(c.sync_enabled for c in found.collections)
    assert len(show_source(ctx, "Library").collections) == 3
    again = discover_collections(ctx, "Library")
    assert again.count("unchanged") == 3 and again.plan.actions == ()


def test_update_refuses_immutable_fields(ctx, media):  # SU-021
    _add(ctx, media)
    with pytest.raises(ValidationError, match="Cannot update immutable field 'type'"):
        update_source(ctx, UpdateRequest("Library", "X", immutable={"type": "plex"}))


def test_update_refuses_a_row_that_moved_since_it_was_read(ctx, media, monkeypatch):  # SU-050
    _add(ctx, media)
    real = source_update.source_updated_at
    reads = []

    def moving(conn, source_id):  # the second read, under the lock, sees another writer's change
        reads.append(source_id)
        return real(conn, source_id) if len(reads) == 1 else datetime(2000, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(source_update, "source_updated_at", moving)
    with pytest.raises(ConcurrentModificationError):
        update_source(ctx, UpdateRequest("Library", "Renamed"))
    assert show_source(ctx, "Library").source.name == "Library"


def test_update_that_changes_nothing_writes_nothing(ctx, media):  # SU-051
    _add(ctx, media)
    before = show_source(ctx, "Library").updated_at
    done = update_source(ctx, UpdateRequest("Library", "Library"))
    assert done.updated == () and done.plan.actions == () and done.updated_at == before
