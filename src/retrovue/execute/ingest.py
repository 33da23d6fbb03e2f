"""Write one collection's asset diff in bulk, on the driver's own paths (``execute.bulk``).

Runs inside the caller's transaction; the caller commits or rolls back the whole collection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sqlalchemy import Connection, select, update

from retrovue.database.tables import Asset, Collection
from retrovue.diff.assets import AssetDiff, diff_assets
from retrovue.execute.bulk import (
    forget_enrichments,
    insert_new_assets,
    set_missing,
    update_canonical,
    update_changed,
    update_moved,
)
from retrovue.gc_pause import cyclic_gc_paused
from retrovue.importers.base import BaseImporter, UpstreamAsset
from retrovue.model.counts import IngestCounts
from retrovue.model.enums import AssetState
from retrovue.observe.db import count_present, load_asset_index
from retrovue.observe.enrichment import collection_enrichers, succeeded_all
from retrovue.spill import Spill


class InvariantError(Exception):
    """A count identity failed before commit (every discovered item must land in exactly one
    count); the collection rolls back rather than commit numbers that do not add up."""


def ingest_collection(
    conn: Connection,
    importer: BaseImporter,
    collection_id: uuid.UUID,
    external_id: str,
    *,
    to_canonical: Callable[[str], str | None] | None,
    now: datetime,
    missing_threshold: float,
    allow_mass_missing: bool,
    title: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    items: tuple[str, ...] = (),
    on_item: Callable[[], None] | None = None,
    own_files: frozenset[str] = frozenset(),
    observed: Spill[UpstreamAsset] | None = None,
    folders: tuple[str, ...] = (),
) -> AssetDiff:
    """Diff the collection's upstream listing against its stored assets and write the difference.

    ``observed`` is the listing its plan made in this process, already vouched for by the
    importer (``Observations.take``): it is diffed instead of listing the collection again.  The
    diff itself is always made here, against the database as this unit of work reads it.
    ``own_files``: the database's own files in this collection, never ingested.
    ``folders`` (checked by the caller): only these folders are listed, and only the assets
    stored at or under them read and compared, so no other asset can go missing.
    """
    with cyclic_gc_paused():  # a row per stored asset: see retrovue.gc_pause
        existing, _ = load_asset_index(conn, collection_id, folders)
    narrowed = title is not None or bool(items)
    reuse = observed is not None and not narrowed and not folders
    # a progress display that knows phases gets them; the stored count estimates the listing
    start_phase = getattr(on_item, "start_phase", None)
    if start_phase is not None:
        estimate = len(existing) if existing and not narrowed else None
        start_phase("scanning", len(observed) if reuse else estimate)
    if reuse:
        upstream: Iterable[UpstreamAsset] = _handing_over(observed)
    elif items:  # the plan planned them only because the importer can fetch them
        upstream = importer.fetch_items(external_id, items) or ()
    elif folders:
        upstream = importer.fetch_assets_for_folders(external_id, folders)
    else:
        upstream = importer.fetch_assets_for_collection(
            external_id, filter_title=title, filter_season=season, filter_episode=episode
        )
    diff = diff_assets(
        existing,
        upstream,
        to_canonical=to_canonical,
        full_scope=not narrowed,
        missing_threshold=missing_threshold,
        allow_mass_missing=allow_mass_missing,
        on_item=on_item,
        describe=importer.describe,
        own_files=own_files,
        scope_present=count_present(conn, collection_id) if folders else None,
    )
    check_identity(diff.counts())
    if start_phase is not None:
        start_phase("writing", len(diff.new) + len(diff.changed) + len(diff.remapped))
    write_diff(conn, collection_id, diff, now, importer.describe)
    conn.execute(
        update(Collection).where(Collection.c.id == collection_id).values(last_ingest_at=now)
    )
    return diff


def _handing_over(items: Spill[UpstreamAsset]) -> Iterator[UpstreamAsset]:
    """The kept listing, read back from its file; the file is dropped once read."""
    yield from items
    items.close()


def check_identity(c: IngestCounts) -> None:
    total = c.new + c.changed + c.remapped + c.unchanged + c.unmapped + c.duplicates + c.unusable
    if c.discovered != total:
        raise InvariantError(f"count identity failed: discovered {c.discovered} != {total}")


def write_diff(
    conn: Connection,
    collection_id: uuid.UUID,
    diff: AssetDiff,
    now: datetime,
    describe: Callable[[UpstreamAsset], UpstreamAsset],
) -> None:
    """Write the diff.  New items are read back from ``diff.new``'s file and completed
    (``describe``) as their rows are built, one batch at a time: a million-file first ingest
    never holds its items, listed or completed (``diff.new`` keeps its length, hence the
    counts, once its file is dropped)."""
    new = ((describe(item), canonical) for item, canonical in diff.new)
    with cyclic_gc_paused():  # a row tuple per new asset: see retrovue.gc_pause
        insert_new_assets(conn, collection_id, new, now)
    diff.new.close()
    update_changed(conn, diff.changed, now)
    forget_enrichments(conn, [asset_id for asset_id, _item, _canonical in diff.changed])
    diff.changed.close()
    update_canonical(conn, diff.remapped, now)
    update_moved(conn, diff.moved, now)
    set_missing(conn, diff.reappeared, None, now)
    ready_again(conn, collection_id, diff.reappeared)
    set_missing(conn, diff.missing, now, now)


#: bound ids per statement: under any SQLite build's variable limit (999 in old ones)
_IDS_PER_STATEMENT = 900


def ready_again(conn: Connection, collection_id: uuid.UUID, ids: list[uuid.UUID | str]) -> None:
    """Assets back from missing with their file unchanged are ready again when every enricher
    attached now has succeeded for them (their facts still hold); their approval stays cleared,
    approving is an operator's act.  A changed file was reset to new by its update already."""
    if not ids:
        return
    source_id = conn.execute(
        select(Collection.c.source_id).where(Collection.c.id == collection_id)
    ).scalar_one()
    types = [spec.type for spec in collection_enrichers(conn, source_id, collection_id)]
    if not types:  # nothing attached: assets stay new (see the README's enrichment rules)
        return
    # the stored index hands SQLite's ids over as the driver reads them (hex text)
    ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in ids]
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        conn.execute(
            update(Asset)
            .where(
                Asset.c.id.in_(ids[start : start + _IDS_PER_STATEMENT]),
                Asset.c.state == AssetState.NEW,
                Asset.c.missing_since.is_(None),
                succeeded_all(types),
            )
            .values(state=AssetState.READY)
        )
