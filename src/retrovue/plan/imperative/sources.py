"""Plans for `source add`, `source discover` and `source update`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from retrovue.config.model import SourceDecl
from retrovue.diff.sources import diff_source
from retrovue.importers.base import BaseImporter
from retrovue.model.actions import (
    Action,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    FieldChange,
    SetCollectionSync,
    SetIngestible,
    SetPathMappings,
    SourceAddress,
    UpdateSource,
)
from retrovue.model.enums import SourceOrigin
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.upstream import PathMappingSpec, UpstreamCollection


def plan_source_add(
    name: str,
    type_id: str,
    external_id: str,
    config: dict,
    importer: BaseImporter,
    upstream: list[UpstreamCollection] | None,
) -> list[Action]:
    """CreateSource plus, under --discover, the discovered collections: one unit, so a failed
    discovery leaves no source row behind."""
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
        dataclasses.replace(a, origin=SourceOrigin.CLI) if isinstance(a, CreateSource) else a
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
    """Discovery: add new collections, follow upstream renames, add missing mapping rows; never
    touch an existing collection's flags, which are the operator's, except ingestible when a mapping
    row was just added to it."""
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
    remapped = {a.collection.external_id for a in actions if isinstance(a, SetPathMappings)}
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
            continue  # an existing collection keeps its flags unless it just got a mapping row
        if isinstance(a, SetCollectionSync):
            continue
        kept.append(a)
    plan = DiscoveryPlan(actions=kept)
    for up in upstream:
        stored = source.collection(up.external_id)
        if stored is None:
            plan.collections.append(DiscoveredCollection(up, "added", None, None))
        elif stored.name != up.name:
            plan.collections.append(DiscoveredCollection(up, "updated", stored.name, stored))
        else:
            plan.collections.append(DiscoveredCollection(up, "unchanged", None, stored))
    plan.gone = [
        a_coll
        for a_coll in source.collections
        if a_coll.external_id
        in {a.collection.external_id for a in kept if isinstance(a, CollectionGoneUpstream)}
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
    return UpstreamCollection(collection.external_id, collection.name, collection.locations)


# -- source update and discovery mappings -------------------------------------------------------


def plan_source_update(
    source: DbSource,
    new_name: str | None,
    params: Mapping[str, Any],
    sensitive: set[str],
) -> tuple[UpdateSource | None, list[str]]:
    """Only given values that differ become changes, so an update that changes nothing writes
    nothing and keeps updated_at; returns (action, names)."""
    changes: list[FieldChange] = []
    if new_name is not None and new_name != source.name:
        changes.append(FieldChange("name", source.name, new_name))
    for key, value in params.items():
        if source.config.get(key) != value:
            changes.append(
                FieldChange.of_config(key, source.config.get(key), value, key in sensitive)
            )
    if not changes:
        return None, []
    names = [c.config_key or c.field for c in changes]
    return UpdateSource(source_address(source), tuple(changes)), names


def discovered_mappings(
    importer: BaseImporter, upstream: UpstreamCollection
) -> tuple[PathMappingSpec, ...]:
    """The mapping rows discovery creates: one per upstream location, local_path NULL until an
    operator sets it (none for local filesystem paths)."""
    if not importer.uses_path_mappings:
        return ()
    return tuple(PathMappingSpec(loc, None) for loc in upstream.locations)
