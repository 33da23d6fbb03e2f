"""Builders for the imperative commands: arguments + a DB snapshot + an importer -> plan actions.

The same action types `retrovue plan` builds, so one executor runs both (DESIGN §1).  Source-level
diffing reuses ``diff.sources``; asset diffing reuses ``diff.assets``.  Nothing here writes.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import Connection, func, select

from retrovue.config.model import SourceDecl
from retrovue.database.models import Asset
from retrovue.diff.assets import diff_assets
from retrovue.diff.sources import diff_source, new_external_id
from retrovue.errors import ValidationError
from retrovue.execute.delete import aired_count, safety_reason
from retrovue.importers.base import (
    BaseImporter,
    ParamSpec,
    PathMappingSpec,
    UpstreamCollection,
)
from retrovue.observe.db import DbCollection, DbSnapshot, DbSource, load_asset_index
from retrovue.plan.actions import (
    Action,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    DeleteSource,
    FieldChange,
    IngestCollection,
    IngestCounts,
    SetCollectionSync,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    SourceAddress,
    UpdateSource,
    WipeCollection,
)


class ParamErrors(ValidationError):
    """Several validation failures found in one pass; each is its own `Error:` line (SA B-2)."""

    def __init__(self, messages: list[str], code: str = "VALIDATION_ERROR"):
        super().__init__(messages[0])
        self.messages = messages
        self.code = code


# -- parameters (SA B-2, B-11, B-12; SU-030) -----------------------------------------------------


def validate_params(
    type_id: str,
    specs: Sequence[ParamSpec],
    given: Mapping[str, Any],
    foreign: Sequence[str] = (),
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Check and normalise the given parameters; report every problem in one pass.

    ``given`` holds only what the operator passed; ``foreign`` names parameters of other types.
    ``partial`` (source update) skips the required-parameter check.
    """
    errors = [
        f"Invalid configuration parameter '{name}' for source type '{type_id}'"
        for name in foreign
    ]
    out: dict[str, Any] = {}
    by_name = {s.name: s for s in specs}
    if not partial:
        for spec in specs:
            if spec.required and given.get(spec.name) is None:
                errors.append(f"{spec.flag} is required for {type_id} sources")
    for name, raw in given.items():
        if raw is None:
            continue
        try:
            out[name] = _normalise(type_id, by_name[name], raw)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ParamErrors(errors)
    return out


def _normalise(type_id: str, spec: ParamSpec, raw: Any) -> Any:
    if spec.kind == "bool":
        return bool(raw)
    text = str(raw).strip()
    if spec.kind == "url":
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Invalid URL format for {spec.name} parameter")
        return text
    if spec.kind == "path":
        path = os.path.abspath(os.path.expanduser(text)) if text else ""
        if not text or not os.path.exists(path):
            raise ValueError(f"Path does not exist: {text}")
        if not os.path.isdir(path):
            raise ValueError(f"Path is not a directory: {path}")
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError(f"Path is not readable: {path}")
        return path
    if spec.kind == "list":
        items = [i.strip().lower().lstrip(".") for i in text.split(",")]
        items = [i for i in items if i]
        if not items:
            raise ValueError(
                f"Invalid configuration for source type '{type_id}': {spec.name} must not be empty"
            )
        return items
    if spec.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"Invalid configuration for source type '{type_id}': {spec.name} must be a number"
            ) from None
        if number <= 0:
            raise ValueError(
                f"Invalid configuration for source type '{type_id}': {spec.name} must be positive"
            )
        return int(number) if number.is_integer() else number
    if not text:
        raise ValueError(
            f"Invalid configuration for source type '{type_id}': {spec.name} must not be empty"
        )
    return text


# -- source add / discover (SA, SD, SCG G-1/G-4/G-6) ----------------------------------------------


def unique_external_id(type_id: str, snapshot: DbSnapshot) -> str:
    """SA B-3: random `<type>-<8 hex>`, regenerated on collision, never derived from the name."""
    taken = {s.external_id for s in snapshot.sources}
    while True:
        candidate = new_external_id(type_id)
        if candidate not in taken:
            return candidate


def plan_source_add(
    name: str,
    type_id: str,
    external_id: str,
    config: dict,
    importer: BaseImporter,
    upstream: list[UpstreamCollection] | None,
) -> list[Action]:
    """CreateSource plus, under --discover, the discovered collections (one unit, G-1/G-4)."""
    decl = SourceDecl(
        name,
        type_id,
        external_id,
        dict(config),
        (),
        frozenset(importer.sensitive_params()),
    )
    actions, _states, _problems = diff_source(
        decl,
        None,
        list(upstream or ()),
        importer.check_ingestible,
        importer.uses_path_mappings,
    )
    return [
        dataclasses.replace(a, origin="cli") if isinstance(a, CreateSource) else a
        for a in actions
    ]


@dataclass(frozen=True)
class DiscoveredCollection:
    upstream: UpstreamCollection
    status: str  # added | updated | unchanged
    previous_name: str | None
    stored: DbCollection | None


@dataclass
class DiscoveryPlan:
    actions: list[Action] = field(default_factory=list)
    collections: list[DiscoveredCollection] = field(default_factory=list)
    gone: list[DbCollection] = field(default_factory=list)


def plan_discover(
    source: DbSource, upstream: list[UpstreamCollection], importer: BaseImporter
) -> DiscoveryPlan:
    """SD: add new collections, follow upstream renames, add missing mapping rows; never touch an
    existing collection's flags (D-3) except ingestible after D-4 added a mapping row."""
    decl = SourceDecl(
        source.name,
        source.type,
        source.external_id,
        dict(source.config),
        (),
        frozenset(importer.sensitive_params()),
    )
    actions, _states, _problems = diff_source(
        decl, source, upstream, importer.check_ingestible, importer.uses_path_mappings
    )
    remapped = {
        a.collection.external_id for a in actions if isinstance(a, SetPathMappings)
    }
    stored_ids = {c.external_id for c in source.collections}
    kept: list[Action] = []
    for a in actions:
        if isinstance(a, UpdateSource):
            continue  # discovery never rewrites the source row
        if (
            isinstance(a, SetIngestible)
            and a.collection.external_id in stored_ids
            and a.collection.external_id not in remapped
        ):
            continue  # D-3
        if isinstance(a, SetCollectionSync):
            continue
        kept.append(a)
    plan = DiscoveryPlan(actions=kept)
    for up in upstream:
        stored = source.collection(up.external_id)
        if stored is None:
            plan.collections.append(DiscoveredCollection(up, "added", None, None))
        elif stored.name != up.name:
            plan.collections.append(
                DiscoveredCollection(up, "updated", stored.name, stored)
            )
        else:
            plan.collections.append(DiscoveredCollection(up, "unchanged", None, stored))
    plan.gone = [
        a_coll
        for a_coll in source.collections
        if a_coll.external_id
        in {
            a.collection.external_id
            for a in kept
            if isinstance(a, CollectionGoneUpstream)
        }
    ]
    return plan


# -- addresses ------------------------------------------------------------------------------------


def source_address(source: DbSource) -> SourceAddress:
    return SourceAddress(source.name, source.id)


def collection_address(source: DbSource, collection: DbCollection) -> CollectionAddress:
    return CollectionAddress(
        source_address(source), collection.external_id, collection.name, collection.id
    )


def upstream_of(collection: DbCollection) -> UpstreamCollection:
    """The stored collection as check_ingestible() wants it (locations persisted at discovery)."""
    return UpstreamCollection(
        collection.external_id, collection.name, collection.locations
    )


# -- collection update (CU) ---------------------------------------------------------------------


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
    """CU N-2 then B-16 then B-5: the mapping change first, ingestibility re-evaluated on the
    result, then the sync flag.  Raises on B-5 (not ingestible); the caller validated the rest."""
    from retrovue.errors import NotIngestibleError

    address = collection_address(source, collection)
    actions: list[Action] = []
    operations: list[str] = []
    changes: list[tuple[str, str, str]] = []
    mappings = list(collection.path_mappings)
    ingestible, reason = collection.ingestible, collection.ingestible_reason
    if mapping is not None:
        operations.append("path-mapping")
        before = next(
            m.local_path for m in mappings if m.plex_path == mapping.plex_path
        )
        if before != mapping.local_path:
            actions.append(
                SetPathMappingLocal(
                    address, mapping.plex_path, before, mapping.local_path
                )
            )
            changes.append(
                (
                    f"path mapping {mapping.plex_path}",
                    before or "(unmapped)",
                    mapping.local_path or "(unmapped)",
                )
            )
        mappings = [
            mapping if m.plex_path == mapping.plex_path else m for m in mappings
        ]
    if mapping is not None or sync is True:
        ingestible, reason = _check(importer, collection, mappings)
        if ingestible != collection.ingestible or (
            not ingestible
            and reason != collection.ingestible_reason
            and mapping is not None
        ):
            actions.append(
                SetIngestible(address, collection.ingestible, ingestible, reason)
            )
            if ingestible != collection.ingestible:
                label = (
                    _yn(collection.ingestible),
                    _yn(ingestible)
                    + (f" ({reason})" if not ingestible and reason else ""),
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


# -- ingest (CI, SI) ----------------------------------------------------------------------------


def scope_of(title: str | None, season: int | None, episode: int | None) -> str:
    if episode is not None:
        return "episode"
    if season is not None:
        return "season"
    return "title" if title is not None else "collection"


def plan_ingest(
    conn: Connection | None,
    importer: BaseImporter,
    source: DbSource,
    collection: DbCollection,
    *,
    title: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    allow_mass_missing: bool = False,
    enumerate_upstream: bool,
    missing_threshold: float = 0.2,
):
    """An IngestCollection action; with ``enumerate_upstream`` (dry-run) it carries the would-be
    counts, read from the upstream and diffed against one SELECT of the stored index.

    Returns (action, diff or None)."""
    from retrovue.plan.builder import canonical_mapper

    diff = None
    counts = IngestCounts()
    if enumerate_upstream:
        existing = load_asset_index(conn, collection.id) if conn is not None else {}
        diff = diff_assets(
            existing,
            importer.fetch_assets_for_collection(
                collection.external_id,
                filter_title=title,
                filter_season=season,
                filter_episode=episode,
            ),
            to_canonical=canonical_mapper(importer, collection.path_mappings),
            full_scope=title is None,
            missing_threshold=missing_threshold,
            allow_mass_missing=allow_mass_missing,
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


# -- delete / wipe (SDel, CW, PS) ----------------------------------------------------------------


@dataclass(frozen=True)
class DeleteTarget:
    source: DbSource
    collections: int
    path_mappings: int
    assets: int
    aired: int

    @property
    def reason(self) -> str:
        return safety_reason(self.aired)


def delete_targets(conn: Connection, sources: Sequence[DbSource]) -> list[DeleteTarget]:
    """Cascade counts and aired-asset counts per source, with grouped queries (PS-010)."""
    out = []
    for source in sources:
        ids = [c.id for c in source.collections]
        mappings = sum(len(c.path_mappings) for c in source.collections)
        assets = _count_assets(conn, ids)
        aired = aired_count(conn, ids) if ids else 0
        out.append(DeleteTarget(source, len(ids), mappings, assets, aired))
    return out


def _count_assets(conn: Connection, collection_ids: list[uuid.UUID]) -> int:
    if not collection_ids:
        return 0
    return int(
        conn.execute(
            select(func.count())
            .select_from(Asset)
            .where(Asset.collection_id.in_(collection_ids))
        ).scalar_one()
    )


def delete_action(target: DeleteTarget, override_safety: bool) -> DeleteSource:
    s = target.source
    return DeleteSource(
        source_address(s),
        s.type,
        target.collections,
        target.path_mappings,
        target.assets,
        override_safety,
    )


def wipe_counts(conn: Connection, collection: DbCollection) -> tuple[int, int]:
    """(assets, aired assets) of one collection."""
    return _count_assets(conn, [collection.id]), aired_count(conn, [collection.id])


def wipe_action(
    source: DbSource, collection: DbCollection, assets: int, override_safety: bool
) -> WipeCollection:
    return WipeCollection(
        collection_address(source, collection), assets, override_safety
    )


# -- source update (SU) ------------------------------------------------------------------------


def plan_source_update(
    source: DbSource,
    new_name: str | None,
    params: Mapping[str, Any],
    sensitive: set[str],
) -> tuple[UpdateSource | None, list[str]]:
    """SU-020/SU-051: only given values that differ become changes; returns (action, names)."""
    changes: list[FieldChange] = []
    if new_name is not None and new_name != source.name:
        changes.append(FieldChange("name", source.name, new_name))
    for key, value in params.items():
        if source.config.get(key) != value:
            changes.append(
                FieldChange(
                    f"config.{key}", source.config.get(key), value, key in sensitive
                )
            )
    if not changes:
        return None, []
    names = [c.field.removeprefix("config.") for c in changes]
    return UpdateSource(source_address(source), tuple(changes)), names


def discovered_mappings(
    importer: BaseImporter, upstream: UpstreamCollection
) -> tuple[PathMappingSpec, ...]:
    """SCG G-6: the NULL mapping rows discovery creates (none for local filesystem paths)."""
    if not importer.uses_path_mappings:
        return ()
    return tuple(PathMappingSpec(loc, None) for loc in upstream.locations)
