"""Plans for `collection update` and for collection/source ingests."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.diff.assets import diff_assets
from retrovue.importers import pathmap
from retrovue.importers.base import BaseImporter
from retrovue.model.actions import (
    Action,
    IngestCollection,
    IngestCounts,
    SetCollectionSync,
    SetIngestible,
    SetPathMappingLocal,
)
from retrovue.model.enums import Scope
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.stored_index import StoredIndex
from retrovue.model.upstream import PathMappingSpec
from retrovue.plan.imperative.sources import (
    collection_address,
    upstream_of,
)


@dataclass
class CollectionUpdatePlan:
    actions: list[Action]
    operations: list[str]
    sync_enabled: bool
    ingestible: bool
    ingestible_reason: str | None
    path_mapping: PathMappingSpec | None
    changes: list[tuple[str, str, str]]  # (label, before, after) for the human lines
    noop_message: str | None = None


def plan_collection_update(
    source: DbSource,
    collection: DbCollection,
    importer: BaseImporter | None,
    *,
    sync: bool | None,
    mapping: PathMappingSpec | None,
) -> CollectionUpdatePlan:
    """The mapping change first, ingestibility re-evaluated on the result, then the sync flag, so
    --sync-enable can rely on a mapping set in the same call.  Raises NotIngestibleError when sync
    is enabled on a collection that is not ingestible; the caller validated the rest."""
    from retrovue.errors import NotIngestibleError

    address = collection_address(source, collection)
    actions: list[Action] = []
    operations: list[str] = []
    changes: list[tuple[str, str, str]] = []
    mappings = list(collection.path_mappings)
    ingestible, reason = collection.ingestible, collection.ingestible_reason
    if mapping is not None:
        operations.append("path-mapping")
        before = next(m.local_path for m in mappings if m.upstream_path == mapping.upstream_path)
        if before != mapping.local_path:
            actions.append(
                SetPathMappingLocal(address, mapping.upstream_path, before, mapping.local_path)
            )
            changes.append(
                (
                    f"path mapping {mapping.upstream_path}",
                    before or "(unmapped)",
                    mapping.local_path or "(unmapped)",
                )
            )
        mappings = [mapping if m.upstream_path == mapping.upstream_path else m for m in mappings]
    if mapping is not None or sync is True:
        ingestible, reason = _check(importer, collection, mappings)
        if ingestible != collection.ingestible or (
            not ingestible and reason != collection.ingestible_reason and mapping is not None
        ):
            actions.append(SetIngestible(address, collection.ingestible, ingestible, reason))
            if ingestible != collection.ingestible:
                label = (
                    _yn(collection.ingestible),
                    _yn(ingestible) + (f" ({reason})" if not ingestible and reason else ""),
                )
                changes.append(("ingestible", *label))
    noop = None
    if sync is not None:
        operations.append("sync-enable" if sync else "sync-disable")
        if sync and not ingestible:
            raise NotIngestibleError(
                f"Cannot enable sync for collection '{collection.name}'. Collection is not ingestible. "
                f"Check path mappings and prerequisites with 'retrovue collection show {collection.id}'.",
                hint=reason,
            )
        if sync != collection.sync_enabled:
            actions.append(SetCollectionSync(address, collection.sync_enabled, sync))
            changes.append(("sync_enabled", _yn(collection.sync_enabled), _yn(sync)))
        elif not actions:
            state = "sync-enabled" if sync else "sync-disabled"
            noop = f"Collection '{collection.name}' is already {state}; nothing changed"
    final_sync = sync if sync is not None else collection.sync_enabled
    return CollectionUpdatePlan(
        actions,
        operations,
        final_sync,
        ingestible,
        None if ingestible else reason,
        mapping,
        changes,
        noop,
    )


def _yn(value: bool) -> str:
    return "Yes" if value else "No"


def _check(
    importer: BaseImporter | None, collection: DbCollection, mappings
) -> tuple[bool, str | None]:
    if importer is None:
        return False, "importer unavailable"
    return importer.check_ingestible(upstream_of(collection), mappings)


# -- ingest ------------------------------------------------------------------------------------


def scope_of(title: str | None, season: int | None, episode: int | None) -> Scope:
    if episode is not None:
        return Scope.EPISODE
    if season is not None:
        return Scope.SEASON
    return Scope.TITLE if title is not None else Scope.COLLECTION


def plan_ingest(
    existing: StoredIndex | None,
    importer: BaseImporter,
    source: DbSource,
    collection: DbCollection,
    *,
    title: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    allow_mass_missing: bool = False,
    missing_threshold: float = 0.2,
    own_files: frozenset[str] = frozenset(),
):
    """An IngestCollection action; given the stored asset index ``existing`` (a dry run) it carries
    the would-be counts, read from the upstream and diffed against that index (``own_files``, the
    database's own files in the collection, skipped as the executor skips them).

    Returns (action, diff or None)."""
    diff = None
    counts = IngestCounts()
    if existing is not None:
        diff = diff_assets(
            existing,
            importer.fetch_assets_for_collection(
                collection.external_id,
                filter_title=title,
                filter_season=season,
                filter_episode=episode,
            ),
            to_canonical=pathmap.canonical_mapper(
                importer.uses_path_mappings, collection.path_mappings
            ),
            full_scope=title is None,
            missing_threshold=missing_threshold,
            allow_mass_missing=allow_mass_missing,
            own_files=own_files,
            keep_items=False,  # a dry run counts and names; the executor diffs again
        )
        counts = diff.counts()
    action = IngestCollection(
        collection=collection_address(source, collection),
        counts=counts,
        scope=scope_of(title, season, episode),
        title=title,
        season=season,
        episode=episode,
        degraded=diff.degraded if diff else False,
        degraded_reason=diff.degraded_reason if diff else None,
        skipped=diff.skip_reasons() if diff else (),
        missing_threshold=missing_threshold,
    )
    return action, diff
