"""Build a Plan: observe database and upstreams, diff, collect actions (no writes, ever).

This is the thin front door of planning (alembic ``produce_migrations``-style): the comparing is
done in ``retrovue.diff``; this module only wires observation to it, per declared source.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrovue.config.model import DesiredState, SourceDecl
from retrovue.diff.assets import asset_detail, diff_assets
from retrovue.diff.sources import CollectionState, diff_source
from retrovue.errors import ImporterAuthError, ImporterError, ImporterUnreachableError, PlanError
from retrovue.gc_pause import cyclic_gc_paused
from retrovue.importers import pathmap
from retrovue.importers.base import BaseImporter
from retrovue.importers.folder_scope import scope_within
from retrovue.importers.observation import Observations
from retrovue.importers.own_files import local_roots, own_files_within
from retrovue.importers.registry import Registry
from retrovue.model.actions import (
    Action,
    CreateSource,
    IngestCollection,
    MappingRoot,
    Plan,
    Problem,
    PruneSource,
    SkippedCollection,
    SourceAddress,
)
from retrovue.model.enums import ProblemKind, Scope, SourceOrigin
from retrovue.model.snapshots import DbSnapshot
from retrovue.plan.enrichment import plan_enrichment, plan_stuck

if TYPE_CHECKING:  # planning reads through the reader it is given; it imports no SQL
    from retrovue.enrichers.registry import EnricherRegistry
    from retrovue.observe.reader import DbReader


@dataclass(frozen=True)
class PlanOptions:
    only_sources: tuple[str, ...] = ()
    allow_mass_missing: bool = False
    fingerprint: bool = False  # saved plans record a fingerprint of each collection's stored state
    prune: bool = False  # delete config-created sources no longer declared (also `prune: true`)
    detail: bool = False  # name the files behind each asset count (capped); costs nothing when off
    #: --enrich=workers: each collection's enrichment is left to `retrovue worker` processes
    enrich_by_workers: bool = False
    #: the real paths of the database's own files (SQLite): a collection holding them never
    #: ingests them, and the plan warns about it
    database_files: frozenset[str] = frozenset()
    #: plan only these collections' ingest and enrichment, each ``(source name case-folded,
    #: collection external_id)`` (None: all): `watch` reconciles the collection an event names;
    #: the source-level changes of the sources planned are planned as ever
    only_collections: frozenset[tuple[str, str]] | None = None
    #: ``(source name case-folded, collection external_id, item id)``: that collection's ingest
    #: reads only these items, when its importer can (``fetch_items``); `watch` narrows a
    #: collection reconcile to the items an upstream's notification named
    only_items: frozenset[tuple[str, str, str]] = frozenset()
    #: ingest only these folders of a collection, each ``(source name case-folded, collection
    #: external_id, local path)``: `watch` ingests the folders its events name.  A collection
    #: named here whose importer cannot list folders alone (``scoped_listing``), or whose path
    #: is not strictly inside it, is ingested whole
    only_folders: frozenset[tuple[str, str, str]] = frozenset()


def build_plan(
    desired: DesiredState,
    reader: DbReader,
    registry: Registry,
    options: PlanOptions = PlanOptions(),
    scrub: Callable[[str], str] = str,
    observations: Observations | None = None,
    enrichers: Callable[[], EnricherRegistry] | None = None,
) -> Plan:
    """The plan; ``observations``, when given, keeps each listing it diffs for an executor in
    this process to reuse (see ``retrovue.importers.observation``).  ``enrichers`` loads the
    enricher registry, called only when a collection to ingest has enrichers."""
    selected = _select(desired, options.only_sources)
    load_enrichers = functools.cache(enrichers or _load_enrichers)
    notes: list[str] = []
    actions: list[Action] = []
    problems: list[Problem] = []
    skipped: list[SkippedCollection] = []
    # fingerprint *before* observing: a change racing this plan then makes the saved plan
    # stale, instead of slipping in unseen
    db_state = reader.db_state() if options.fingerprint else None
    snapshot = reader.snapshot()
    # a new source's derived external_id must not collide with a stored or declared one
    taken = {s.external_id for s in snapshot.sources} | {
        d.external_id for d in desired.sources if d.external_id
    }
    for decl in selected:
        stored = snapshot.match_source(decl.name, decl.external_id)
        importer = registry.create(decl.type, decl.config)
        try:
            upstream = importer.list_collections()
        except ImporterError as exc:
            problems.append(Problem(decl.name, _problem_kind(exc), scrub(exc.message)))
            continue
        skipped += [
            SkippedCollection(decl.name, key, title, reason)
            for key, title, reason in importer.skipped_collections()
        ]
        source_actions, states, source_problems = diff_source(
            decl, stored, upstream, importer.check_ingestible, importer.uses_path_mappings, taken
        )
        taken |= {a.external_id for a in source_actions if isinstance(a, CreateSource)}
        actions += source_actions
        problems += source_problems
        for state in states:
            if (
                options.only_collections is not None
                and (decl.name.casefold(), state.address.external_id)
                not in options.only_collections
            ):
                continue
            if not (state.sync_enabled and state.ingestible):
                actions += _plan_stuck_only(reader, state)
                continue
            try:
                planned, planned_notes = _plan_collection(
                    reader,
                    importer,
                    state,
                    desired,
                    options,
                    observations,
                    load_enrichers,
                    _folders_of(options, decl, state),
                )
            except ImporterError as exc:
                problems.append(
                    Problem(decl.name, _problem_kind(exc), scrub(exc.message), state.address.name)
                )
                continue
            actions += planned
            notes += map(scrub, planned_notes)
    if not options.only_sources:  # a plan narrowed with --source never prunes the others
        actions += _plan_prune(reader, snapshot, desired, options.prune or desired.prune)
    return Plan(
        actions=tuple(actions),
        problems=tuple(problems),
        skipped=tuple(skipped),
        config_file=desired.file,
        config_hash=desired.config_hash,
        secret_fingerprints=dict(desired.secret_fingerprints),
        allow_mass_missing=options.allow_mass_missing,
        db_state=db_state,
        notes=tuple(notes),
    )


def _load_enrichers() -> EnricherRegistry:
    from retrovue.enrichers.registry import load_registry

    return load_registry()


def _problem_kind(exc: ImporterError) -> ProblemKind:
    if isinstance(exc, ImporterAuthError):
        return ProblemKind.AUTH
    if isinstance(exc, ImporterUnreachableError):
        return ProblemKind.UNREACHABLE
    return ProblemKind.UPSTREAM  # bad answers, a listing cut short, a collection gone upstream


def _select(desired: DesiredState, names: tuple[str, ...]) -> tuple[SourceDecl, ...]:
    if not names:
        return desired.sources
    picked = []
    for name in names:
        decl = desired.source(name)
        if decl is None:
            raise PlanError(f"--source '{name}' is not declared in {desired.file}")
        picked.append(decl)
    return tuple(picked)


def _folders_of(options: PlanOptions, decl: SourceDecl, state: CollectionState) -> list[str]:
    if not options.only_folders:
        return []
    key = (decl.name.casefold(), state.address.external_id)
    return [path for s, c, path in options.only_folders if (s, c) == key]


def threshold_for(state: CollectionState, desired: DesiredState) -> float:
    if state.decl is not None and state.decl.missing_threshold is not None:
        return state.decl.missing_threshold
    return desired.missing_threshold


def _plan_collection(
    reader: DbReader,
    importer: BaseImporter,
    state: CollectionState,
    desired,
    options,
    observations: Observations | None,
    load_enrichers: Callable[[], EnricherRegistry],
    folders: list[str] | None = None,
) -> tuple[list[Action], list[str]]:
    """A synced collection's ingest, then what its enrichers would enrich once it has run (the
    assets it creates or changes, and the stored ones still to enrich); notes on enrichers that
    cannot run, and on the database's own files when the collection holds them."""
    roots = local_roots(importer.uses_path_mappings, state.upstream.locations, state.path_mappings)
    own = own_files_within(options.database_files, roots)
    scope = scope_within(folders, roots) if folders and importer.scoped_listing else None
    ingest, changed_ids = _plan_ingest(
        reader, importer, state, desired, options, observations, own, scope
    )
    enrich, notes = plan_enrichment(
        reader,
        load_enrichers,
        state.address,
        state.address.id,
        state.enrichers,
        new=ingest.counts.new,
        changed_ids=changed_ids,
    )
    if own:
        notes = [_own_database_note(state, own), *notes]
    if enrich is not None and options.enrich_by_workers:
        enrich = dataclasses.replace(enrich, by_workers=True)
    return [ingest] if enrich is None else [ingest, enrich], notes


def _own_database_note(state: CollectionState, own: frozenset[str]) -> str:
    # the database file is the shortest of its files: the others add a suffix to its name
    return (
        f"{state.address} holds this catalogue's own database ({min(own, key=len)}): its files "
        "are never ingested; keep the database outside the media folders"
    )


def _plan_stuck_only(reader: DbReader, state: CollectionState) -> list[Action]:
    """A collection nothing is ingested or enriched in still has its stuck assets settled: an
    asset a killed run left ``enriching`` is not the collection's to keep."""
    stuck = plan_stuck(reader, state.address, state.address.id)
    return [stuck] if stuck is not None else []


def _plan_ingest(
    reader: DbReader,
    importer: BaseImporter,
    state: CollectionState,
    desired,
    options,
    observations: Observations | None = None,
    own_files: frozenset[str] = frozenset(),
    scope: tuple[str, ...] | None = None,
) -> tuple[IngestCollection, set[str]]:
    """The collection's ingest, and the stored ids of the assets the listing changed (their
    enrichment results were for the old change token).  ``scope``: only these folders are
    listed and only the assets stored under them compared (``Scope.FOLDERS``)."""
    collection_id = state.address.id
    external_id = state.upstream.external_id
    key = (state.address.source.name.casefold(), external_id)
    items = tuple(sorted(i for s, c, i in options.only_items if (s, c) == key))
    listing = importer.fetch_items(external_id, items) if items else None
    if listing is not None:
        scope = None  # named items are narrower than any folder
    with cyclic_gc_paused():  # a row per stored asset: see retrovue.gc_pause
        existing, db_fingerprint = reader.asset_index(
            collection_id, scope or (), fingerprint=options.fingerprint and not scope
        )
    if options.fingerprint and scope:  # a saved plan's staleness check is of the collection
        db_fingerprint = reader.asset_fingerprint(collection_id)
    if listing is None:
        items = ()
        if scope:  # a few folders' listing is not kept: the executor lists them again, cheaply
            listing = importer.fetch_assets_for_folders(external_id, scope)
        else:
            listing = importer.fetch_assets_for_collection(external_id)
            if observations is not None:
                listing = observations.recording(importer, external_id, listing)
    diff = diff_assets(
        existing,
        listing,
        to_canonical=pathmap.canonical_mapper(importer.uses_path_mappings, state.path_mappings),
        missing_threshold=threshold_for(state, desired),
        allow_mass_missing=options.allow_mass_missing,
        keep_paths=options.detail,
        own_files=own_files,
        keep_items=False,  # the executor diffs again; a plan counts and names
        full_scope=not items,
        scope_present=reader.present_count(collection_id) if scope else None,
    )
    changed_ids = {str(asset_id) for asset_id, _item, _canonical in diff.changed}
    if observations is not None and not scope and not items and diff.counts().has_changes:
        listing.keep(state.address)  # an unchanged collection is not ingested: nothing to keep
    ingest = IngestCollection(
        collection=state.address,
        counts=diff.counts(),
        items=items,
        degraded=diff.degraded,
        degraded_reason=diff.degraded_reason,
        skipped=diff.skip_reasons(),
        missing_threshold=threshold_for(state, desired),
        mapping_roots=tuple(
            MappingRoot(m.upstream_path, m.local_path, os.path.isdir(m.local_path))
            for m in state.path_mappings
            if m.local_path
        ),
        db_fingerprint=db_fingerprint,
        detail=(
            asset_detail(diff, functools.partial(reader.stored_paths, collection_id))
            if options.detail
            else ()
        ),
        scope=Scope.FOLDERS if scope else Scope.COLLECTION,
        folders=scope or (),
    )
    return ingest, changed_ids


def _plan_prune(
    reader: DbReader, snapshot: DbSnapshot, desired: DesiredState, prune: bool
) -> list[PruneSource]:
    """Config-created sources the file no longer declares: deleted with prune, else reported.
    Imperatively created sources (``SourceOrigin.CLI``) are never the file's to delete."""
    declared = {
        s.id
        for d in desired.sources
        if (s := snapshot.match_source(d.name, d.external_id)) is not None
    }
    out = []
    for stored in snapshot.sources:
        if stored.origin != SourceOrigin.CONFIG or stored.id in declared:
            continue
        tally = reader.tally_collections([c.id for c in stored.collections])
        out.append(
            PruneSource(
                SourceAddress(stored.name, stored.id),
                stored.external_id,
                stored.type,
                collections=len(stored.collections),
                assets=tally.assets,
                prune=prune,
                protected_assets=tally.aired,
            )
        )
    return out
