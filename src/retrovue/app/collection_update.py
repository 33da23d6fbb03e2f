"""`collection update`: enable/disable sync and set a path mapping's local path, in one unit.

The mapping change comes first and ingestibility is re-checked on its result, so one call can map
a collection and enable its sync.  Every check runs before anything is written.  It never ingests.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import datetime

from retrovue.app.context import Context
from retrovue.app.enrichers import attachments_unchanged, collection_change
from retrovue.app.selectors import resolve_collection
from retrovue.errors import UsageError, ValidationError
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbCollection
from retrovue.model.upstream import PathMappingSpec
from retrovue.observe.catalog import collection_times
from retrovue.plan import imperative as build
from retrovue.plan.imperative import CollectionUpdatePlan
from retrovue.plan.imperative.enrichers import AttachmentChange

#: the --path-mapping value that clears a mapping's local path (the row stays)
CLEAR = "DELETE"


@dataclass(frozen=True)
class UpdateRequest:
    selector: str
    sync_enable: bool = False
    sync_disable: bool = False
    path_mapping: str | None = None  # a local path, or CLEAR
    mapping_upstream_path: str | None = None  # which mapping row, when there are several
    add_enricher: str | None = None  # an enricher type to attach to the collection
    remove_enricher: str | None = None  # one to detach from it
    priority: int | None = None  # with add_enricher (default 0)

    @property
    def sync(self) -> bool | None:
        return True if self.sync_enable else False if self.sync_disable else None


@dataclass(frozen=True)
class CollectionUpdate:
    collection: DbCollection
    change: CollectionUpdatePlan
    plan: Plan
    updated_at: datetime | None  # after the write; the stored value for a preview
    dry_run: bool
    #: the mapping was cleared but sync stays on: the next ingest will refuse
    still_enabled_unusable: bool = False
    #: --add-enricher / --remove-enricher (issue 11); None without them
    enrichers: AttachmentChange | None = None


def check_request(request: UpdateRequest) -> None:
    if request.priority is not None and request.add_enricher is None:
        raise UsageError("--priority requires --add-enricher")
    enricher_op = request.add_enricher is not None or request.remove_enricher is not None
    if not (
        request.sync_enable
        or request.sync_disable
        or request.path_mapping is not None
        or enricher_op
    ):
        raise ValidationError(
            "Must specify at least one operation: --sync-enable, --sync-disable or --path-mapping.",
            hint="or attach/detach an enricher: --add-enricher TYPE / --remove-enricher TYPE",
        )
    if request.add_enricher is not None and request.remove_enricher is not None:
        raise UsageError("Cannot specify both --add-enricher and --remove-enricher")
    if request.sync_enable and request.sync_disable:
        raise ValidationError(
            "Cannot specify both --sync-enable and --sync-disable. Use one flag only."
        )
    if request.mapping_upstream_path is not None and request.path_mapping is None:
        raise UsageError("--path-mapping-plex requires --path-mapping")


def preview_update(ctx: Context, request: UpdateRequest) -> CollectionUpdate:
    """Validate and plan the update; writes nothing."""
    check_request(request)
    source, col = resolve_collection(ctx.snapshot(), request.selector)
    mapping = None
    if request.path_mapping is not None:
        mapping = chosen_mapping(col, request.path_mapping, request.mapping_upstream_path)
    importer = (
        ctx.importers.for_local_checks(source.type, source.config, source.name)
        if ctx.registry.available(source.type)
        else None
    )
    change = build.plan_collection_update(source, col, importer, sync=request.sync, mapping=mapping)
    enrichers = None
    if request.add_enricher is not None or request.remove_enricher is not None:
        enrichers = collection_change(
            source,
            col,
            add=request.add_enricher,
            remove=request.remove_enricher,
            priority=request.priority or 0,
        )
        change.operations.append(enrichers.operation_name)
        if enrichers.action is not None:
            change.actions.append(enrichers.action)
    unusable = (
        mapping is not None
        and mapping.local_path is None
        and change.sync_enabled
        and request.sync is None
    )
    return CollectionUpdate(
        col, change, Plan(tuple(change.actions)), _updated_at(ctx, col), True, unusable, enrichers
    )


def commit_update(ctx: Context, preview: CollectionUpdate) -> CollectionUpdate:
    """Write a previewed update as one unit (nothing when nothing changes)."""
    col = preview.collection
    if preview.plan.actions:
        check = None
        if preview.enrichers is not None and preview.enrichers.updated:
            source_id = preview.enrichers.action.source.id
            check = attachments_unchanged(ctx, source_id, col.id, preview.enrichers.before)
        ctx.commit_source_changes(preview.plan, f"collection update {col.id}", precondition=check)
    return dataclasses.replace(preview, updated_at=_updated_at(ctx, col), dry_run=False)


def _updated_at(ctx: Context, col: DbCollection) -> datetime | None:
    with ctx.reading() as conn:
        return collection_times(conn)[col.id][2]


def chosen_mapping(col: DbCollection, value: str, upstream_path: str | None) -> PathMappingSpec:
    """The mapping row to edit, with its new local path.  Rows are made by discovery, never here;
    a collection with several needs ``plex_path`` to say which."""
    rows = col.path_mappings
    if not rows:
        raise ValidationError(
            f"Collection '{col.name}' does not have a path mapping. Path mappings are created during source discovery."
        )
    available = "available plex_path values: " + ", ".join(m.upstream_path for m in rows)
    if upstream_path is not None:
        row = next((m for m in rows if m.upstream_path == upstream_path), None)
        if row is None:
            raise ValidationError(
                f"Collection '{col.name}' has no path mapping with plex_path '{upstream_path}'",
                hint=available,
            )
    elif len(rows) > 1:
        raise ValidationError(
            f"Collection '{col.name}' has {len(rows)} path mappings; choose one with --path-mapping-plex",
            hint=available,
        )
    else:
        row = rows[0]
    if value == CLEAR:
        return PathMappingSpec(row.upstream_path, None)
    return PathMappingSpec(row.upstream_path, _local_directory(value))


def _local_directory(value: str) -> str:
    """An existing, readable directory, absolute and without a trailing slash."""
    local = os.path.abspath(os.path.expanduser(value)) if value.strip() else ""
    if not local or not os.path.isdir(local) or not os.access(local, os.R_OK | os.X_OK):
        raise ValidationError(f"Local path '{value}' does not exist or is not accessible.")
    return local.rstrip(os.sep) or os.sep
