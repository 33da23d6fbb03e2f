"""Compare one declared source with its stored row and what its upstream offers.

Produces the source-level actions (create/update source, discover/rename collections, sync flags,
path mappings, ingestibility) and the resulting state of every collection, which the ingest
planner needs.  ``check_ingestible`` is injected so this stays free of I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from retrovue.config.model import CollectionDecl, SourceDecl
from retrovue.importers import pathmap
from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    FieldChange,
    Problem,
    RenameCollection,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappings,
    SourceAddress,
    UpdateSource,
)
from retrovue.model.enrichment import EnricherSpec, effective, run_order
from retrovue.model.enums import ProblemKind
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.upstream import PathMappingSpec, UpstreamCollection

IngestibleCheck = Callable[[UpstreamCollection, Sequence[PathMappingSpec]], tuple[bool, str | None]]


@dataclass(frozen=True)
class CollectionState:
    """A collection as it will be once the source-level actions are applied."""

    address: CollectionAddress
    upstream: UpstreamCollection
    sync_enabled: bool
    ingestible: bool
    path_mappings: tuple[PathMappingSpec, ...]
    decl: CollectionDecl | None
    stored: bool
    #: its effective enrichers once the plan is applied (source's and its own), in run order
    enrichers: tuple[EnricherSpec, ...] = ()


def derived_external_id(type_id: str, name: str, taken: Collection[str] = ()) -> str:
    """The external_id a declared source without one is created with: ``<type>-<8 hex>`` from
    the case-folded name, so every plan of the same file shows the id apply will store.

    When that id is taken (a stored source created under this name and since renamed, or another
    source of the same plan), ``-2``, ``-3``, … is appended: the first free one wins."""
    base = f"{type_id}-{hashlib.sha256(name.casefold().encode()).hexdigest()[:8]}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def diff_source(
    decl: SourceDecl,
    stored: DbSource | None,
    upstream: list[UpstreamCollection],
    check_ingestible: IngestibleCheck,
    uses_path_mappings: bool,
    taken_external_ids: Collection[str] = (),
) -> tuple[list[Action], list[CollectionState], list[Problem]]:
    """``taken_external_ids``: the source external_ids already stored or planned, which a new
    source's derived id must avoid."""
    actions: list[Action] = []
    problems: list[Problem] = []
    if stored is None:
        address = SourceAddress(decl.name)
        actions.append(
            CreateSource(
                address,
                decl.type,
                decl.external_id or derived_external_id(decl.type, decl.name, taken_external_ids),
                decl.stored_config,  # a secret given as ${VAR} is stored as the reference
                decl.sensitive_keys,
            )
        )
    else:
        address = SourceAddress(decl.name, stored.id)
        changes = _source_changes(decl, stored)
        if changes:
            actions.append(UpdateSource(address, changes))
    source_enrichers = _declared_enrichers(
        actions, address, decl.enrichers, stored.enrichers if stored else ()
    )

    declared = _match_declarations(decl, upstream, stored, problems)
    states: list[CollectionState] = []
    for up in upstream:
        db = stored.collection(up.external_id) if stored else None
        states.append(
            _diff_collection(
                decl,
                address,
                up,
                db,
                declared.get(up.external_id),
                check_ingestible,
                uses_path_mappings,
                source_enrichers,
                actions,
                problems,
            )
        )

    upstream_ids = {u.external_id for u in upstream}
    for db in stored.collections if stored else ():
        if db.external_id not in upstream_ids:
            actions.append(
                CollectionGoneUpstream(CollectionAddress(address, db.external_id, db.name, db.id))
            )
    return actions, states, problems


def _diff_collection(
    decl: SourceDecl,
    address: SourceAddress,
    up: UpstreamCollection,
    db: DbCollection | None,
    coll_decl: CollectionDecl | None,
    check_ingestible: IngestibleCheck,
    uses_path_mappings: bool,
    source_enrichers: tuple[EnricherSpec, ...],
    actions: list[Action],
    problems: list[Problem],
) -> CollectionState:
    """One upstream collection against its stored row (``db``; None when new) and its
    declaration: its actions and problems appended, its state once the plan is applied."""
    coll_address = CollectionAddress(address, up.external_id, up.name, db.id if db else None)
    discovered = _discovered_mappings(up) if uses_path_mappings else ()
    if db is None:
        current_sync, current_ingestible, current_mappings = False, False, discovered
        actions.append(AddCollection(coll_address, up.locations, discovered, up.upstream_name))
    else:
        current_sync, current_ingestible = db.sync_enabled, db.ingestible
        current_mappings = _with_new_locations(db.path_mappings, discovered)
        if db.name != up.name:
            actions.append(RenameCollection(coll_address, db.name, up.name, up.upstream_name))

    mappings = current_mappings
    if coll_decl is not None and coll_decl.path_mappings is not None:
        stored_rows = db.path_mappings if db is not None else ()
        problems += _mappings_outside_locations(
            decl.name, up, tuple(m for m in coll_decl.path_mappings if m not in stored_rows)
        )
        mappings = _declared_mappings(coll_decl.path_mappings, discovered, current_mappings)
    if db is not None and tuple(sorted(mappings, key=_mkey)) != tuple(
        sorted(db.path_mappings, key=_mkey)
    ):
        actions.append(SetPathMappings(coll_address, db.path_mappings, mappings))
    elif db is None and mappings != discovered:
        actions.append(SetPathMappings(coll_address, discovered, mappings))

    ingestible, reason = check_ingestible(up, mappings)
    if ingestible != current_ingestible or (db is None and not ingestible):
        actions.append(SetIngestible(coll_address, current_ingestible, ingestible, reason))

    sync = current_sync
    if coll_decl is not None and coll_decl.sync is not None and coll_decl.sync != current_sync:
        sync = coll_decl.sync
        actions.append(SetCollectionSync(coll_address, current_sync, sync))
    own = _declared_enrichers(
        actions,
        address,
        coll_decl.enrichers if coll_decl is not None else None,
        db.enrichers if db is not None else (),
        coll_address,
    )
    return CollectionState(
        coll_address,
        up,
        sync,
        ingestible,
        mappings,
        coll_decl,
        db is not None,
        effective(source_enrichers, own),
    )


def _declared_enrichers(
    actions: list[Action],
    source: SourceAddress,
    declared: tuple[EnricherSpec, ...] | None,
    stored: tuple[EnricherSpec, ...],
    collection: CollectionAddress | None = None,
) -> tuple[EnricherSpec, ...]:
    """The attachments once the plan is applied, adding a ``SetEnrichers`` when a declared list
    differs from the stored one.  Not declared (None): the stored ones stay, unmanaged."""
    before = run_order(stored)
    if declared is None:
        return before
    after = run_order(declared)
    if after != before:
        actions.append(SetEnrichers(source, before, after, collection))
    return after


def _mkey(m: PathMappingSpec) -> tuple[str, str]:
    return (m.upstream_path, m.local_path or "")


def declared_drift(decl: SourceDecl, stored: DbSource) -> tuple[str, ...]:
    """Where a stored source differs from its declaration, read from the database alone (no
    upstream listing: the dashboard asks on every view): its name, type and config, its
    enrichers, and of each declared collection the sync flag, path mappings and enrichers, or
    that it is not stored.  Only what differs is named, never a value (it may be a secret)."""
    found = [f"{change.field} differs" for change in _source_changes(decl, stored)]
    if decl.enrichers is not None and run_order(decl.enrichers) != run_order(stored.enrichers):
        found.append("its enrichers differ")
    for c in decl.collections:
        db = _stored_collection(c, stored)
        if db is None:
            found.append(f"collection {c.label!r} is declared, not stored")
            continue
        if c.sync is not None and c.sync != db.sync_enabled:
            declared, now = ("on" if on else "off" for on in (c.sync, db.sync_enabled))
            found.append(f"collection {db.name!r}: sync {declared} declared, {now} stored")
        # stored rows without a local path are discovery's placeholders, not declarations
        if c.path_mappings is not None and _set_mappings(c.path_mappings) != _set_mappings(
            db.path_mappings
        ):
            found.append(f"collection {db.name!r}: its path mappings differ")
        if c.enrichers is not None and run_order(c.enrichers) != run_order(db.enrichers):
            found.append(f"collection {db.name!r}: its enrichers differ")
    return tuple(found)


def _stored_collection(c: CollectionDecl, stored: DbSource) -> DbCollection | None:
    if c.external_id is not None:
        return stored.collection(c.external_id)
    folded = (c.name or "").casefold()
    return next((db for db in stored.collections if db.name.casefold() == folded), None)


def _set_mappings(mappings: Sequence[PathMappingSpec]) -> frozenset[PathMappingSpec]:
    return frozenset(m for m in mappings if m.local_path is not None)


def _source_changes(decl: SourceDecl, stored: DbSource) -> tuple[FieldChange, ...]:
    changes = []
    if decl.name != stored.name:
        changes.append(FieldChange("name", stored.name, decl.name))
    if decl.type != stored.type:
        changes.append(FieldChange("type", stored.type, decl.type))
    wanted = decl.stored_config  # compared as stored: a reference, not the value it reads
    for key in sorted(set(wanted) | set(stored.config)):
        before, after = stored.config.get(key), wanted.get(key)
        if before != after:
            changes.append(FieldChange.of_config(key, before, after, key in decl.sensitive_keys))
    return tuple(changes)


def _match_declarations(
    decl: SourceDecl,
    upstream: list[UpstreamCollection],
    stored: DbSource | None,
    problems: list[Problem],
) -> dict[str, CollectionDecl]:
    """Declared collections by upstream external_id: matched on external_id, else on the upstream
    or stored name (case-insensitive).  A declaration that matches nothing is a problem."""
    by_id = {u.external_id: u for u in upstream}
    by_name: dict[str, str] = {}
    for u in upstream:
        by_name.setdefault(u.name.casefold(), u.external_id)
    for c in stored.collections if stored else ():
        if c.external_id in by_id:
            by_name.setdefault(c.name.casefold(), c.external_id)
    out: dict[str, CollectionDecl] = {}
    for c in decl.collections:
        if _stored_but_gone(c, stored, by_id):
            continue  # reported as gone upstream, like an unlisted one
        ext = c.external_id if c.external_id is not None else by_name.get(c.name.casefold())
        if ext is None or ext not in by_id:
            offered = ", ".join(sorted(u.name for u in upstream)) or "none"
            problems.append(
                Problem(
                    decl.name,
                    ProblemKind.ERROR,
                    f"declared collection '{c.label}' is not offered upstream (offered: {offered})",
                    c.label,
                )
            )
            continue
        out[ext] = c
    return out


def _stored_but_gone(c: CollectionDecl, stored: DbSource | None, offered: Collection[str]) -> bool:
    """Listed by the external_id of a collection the database holds and the upstream no longer
    offers: not a typo but state (``retrovue export`` lists every stored collection so), so it
    is not an error.  A name alone still has to match what the upstream offers."""
    return (
        c.external_id is not None
        and c.external_id not in offered
        and stored is not None
        and stored.collection(c.external_id) is not None
    )


def _mappings_outside_locations(
    source: str, up: UpstreamCollection, declared: tuple[PathMappingSpec, ...]
) -> list[Problem]:
    """A declared plex_path must lie inside (or contain) one of the section's locations:
    anything else is a typo that would leave the section silently unmapped."""
    problems = []
    for m in declared:
        related = any(
            pathmap.resolve(location, [PathMappingSpec(m.upstream_path, "/")]) is not None
            or pathmap.resolve(m.upstream_path, [PathMappingSpec(location, "/")]) is not None
            for location in up.locations
        )
        if not related:
            problems.append(
                Problem(
                    source,
                    ProblemKind.ERROR,
                    f"path mapping plex_path '{m.upstream_path}' is outside every location of collection "
                    f"'{up.name}' ({', '.join(up.locations) or 'none'})",
                    up.name,
                )
            )
    return problems


def _discovered_mappings(up: UpstreamCollection) -> tuple[PathMappingSpec, ...]:
    """One mapping per upstream location, local_path unknown (NULL) until an operator sets it."""
    return tuple(PathMappingSpec(loc, None) for loc in up.locations)


def _with_new_locations(
    current: tuple[PathMappingSpec, ...], discovered: tuple[PathMappingSpec, ...]
) -> tuple[PathMappingSpec, ...]:
    known = {m.upstream_path for m in current}
    return current + tuple(m for m in discovered if m.upstream_path not in known)


def _declared_mappings(
    declared: tuple[PathMappingSpec, ...],
    discovered: tuple[PathMappingSpec, ...],
    current: tuple[PathMappingSpec, ...],
) -> tuple[PathMappingSpec, ...]:
    """The declared mappings, plus a NULL row for every location no declared mapping covers.

    Stored NULL rows are discovery's placeholders, not declarations (``export`` leaves them out):
    one the declaration does not cover stays, even when its location has left the upstream."""
    unset = discovered + tuple(m for m in current if m.local_path is None and m not in discovered)
    return tuple(declared) + tuple(
        m for m in unset if pathmap.resolve(m.upstream_path, declared) is None
    )
