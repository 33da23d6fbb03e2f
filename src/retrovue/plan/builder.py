"""Build a Plan: observe database and upstreams, diff, collect actions (no writes, ever).

This is the thin front door of planning (alembic ``produce_migrations``-style): the comparing is
done in ``retrovue.diff``; this module only wires observation to it, per declared source.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, exists, func, or_, select

from retrovue.config.model import DesiredState, SourceDecl
from retrovue.database.models import AsRunLog, Asset, Collection, PlaylogEvent
from retrovue.diff.assets import diff_assets
from retrovue.diff.sources import CollectionState, diff_source
from retrovue.errors import ImporterAuthError, ImporterError, ImporterUnreachableError, PlanError
from retrovue.importers import pathmap
from retrovue.importers.base import BaseImporter
from retrovue.importers.registry import Registry
from retrovue.model.actions import (
    Action,
    IngestCollection,
    MappingRoot,
    Plan,
    Problem,
    PruneSource,
    SkippedCollection,
    SourceAddress,
)
from retrovue.model.snapshots import DbSnapshot
from retrovue.observe.db import fingerprint_assets, load_asset_index, load_snapshot
from retrovue.plan.saved import observe_db_state


@dataclass(frozen=True)
class PlanOptions:
    only_sources: tuple[str, ...] = ()
    allow_mass_missing: bool = False
    fingerprint: bool = False  # saved plans record a fingerprint of each collection's stored state
    prune: bool = False  # delete config-created sources no longer declared (also `prune: true`)


def build_plan(
    desired: DesiredState,
    engine: Engine,
    registry: Registry,
    options: PlanOptions = PlanOptions(),
    scrub: Callable[[str], str] = str,
) -> Plan:
    selected = _select(desired, options.only_sources)
    actions: list[Action] = []
    problems: list[Problem] = []
    skipped: list[SkippedCollection] = []
    with engine.connect() as conn:
        # fingerprint *before* observing: a change racing this plan then makes the saved plan
        # stale, instead of slipping in unseen
        db_state = observe_db_state(conn) if options.fingerprint else None
        snapshot = load_snapshot(conn)
        for decl in selected:
            stored = snapshot.match_source(decl.name, decl.external_id)
            importer = registry.create(decl.type, decl.config)
            try:
                upstream = importer.list_collections()
            except ImporterError as exc:
                problems.append(Problem(decl.name, _problem_kind(exc), scrub(exc.message)))
                continue
            skipped += [
                SkippedCollection(decl.name, key, title, f"section type '{kind}' is not ingested")
                for key, title, kind in getattr(importer, "skipped_sections", lambda: [])()
            ]
            source_actions, states, source_problems = diff_source(
                decl, stored, upstream, importer.check_ingestible, importer.uses_path_mappings
            )
            actions += source_actions
            problems += source_problems
            for state in states:
                if not (state.sync_enabled and state.ingestible):
                    continue
                try:
                    actions.append(_plan_ingest(conn, importer, decl, state, desired, options))
                except ImporterError as exc:
                    problems.append(
                        Problem(
                            decl.name, _problem_kind(exc), scrub(exc.message), state.address.name
                        )
                    )
        if not options.only_sources:  # a plan narrowed with --source never prunes the others
            actions += _plan_prune(conn, snapshot, desired, options.prune or desired.prune)
    return Plan(
        actions=tuple(actions),
        problems=tuple(problems),
        skipped=tuple(skipped),
        config_file=desired.file,
        config_hash=desired.config_hash,
        secret_fingerprints=dict(desired.secret_fingerprints),
        allow_mass_missing=options.allow_mass_missing,
        db_state=db_state,
    )


def _problem_kind(exc: ImporterError) -> str:
    if isinstance(exc, ImporterAuthError):
        return "auth"
    if isinstance(exc, ImporterUnreachableError):
        return "unreachable"
    return "upstream"  # bad answers, a listing cut short, a collection gone upstream


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


def threshold_for(state: CollectionState, desired: DesiredState) -> float:
    if state.decl is not None and state.decl.missing_threshold is not None:
        return state.decl.missing_threshold
    return desired.missing_threshold


def canonical_mapper(importer: BaseImporter, state_mappings) -> Callable[[str], str | None] | None:
    if not importer.uses_path_mappings:
        return None
    usable = [m for m in state_mappings if m.local_path]
    return lambda path: pathmap.resolve(path, usable)


def _plan_ingest(
    conn, importer: BaseImporter, decl: SourceDecl, state: CollectionState, desired, options
) -> IngestCollection:
    existing = load_asset_index(conn, state.address.id) if state.address.id is not None else {}
    diff = diff_assets(
        existing,
        importer.fetch_assets_for_collection(state.upstream.external_id),
        to_canonical=canonical_mapper(importer, state.path_mappings),
        missing_threshold=threshold_for(state, desired),
        allow_mass_missing=options.allow_mass_missing,
    )
    return IngestCollection(
        collection=state.address,
        counts=diff.counts(),
        degraded=diff.degraded,
        degraded_reason=diff.degraded_reason,
        skipped=diff.skip_reasons(),
        missing_threshold=threshold_for(state, desired),
        mapping_roots=tuple(
            MappingRoot(m.plex_path, m.local_path, os.path.isdir(m.local_path))
            for m in state.path_mappings
            if m.local_path
        ),
        db_fingerprint=fingerprint_assets(existing) if options.fingerprint else None,
    )


def _plan_prune(
    conn: Connection, snapshot: DbSnapshot, desired: DesiredState, prune: bool
) -> list[PruneSource]:
    """Config-created sources the file no longer declares: deleted with prune, else reported.
    Imperatively created sources (origin "cli") are never the file's to delete."""
    declared = {
        s.id
        for d in desired.sources
        if (s := snapshot.match_source(d.name, d.external_id)) is not None
    }
    out = []
    for stored in snapshot.sources:
        if stored.origin != "config" or stored.id in declared:
            continue
        in_source = select(Collection.id).where(Collection.source_id == stored.id)
        assets = conn.execute(
            select(func.count()).select_from(Asset).where(Asset.collection_id.in_(in_source))
        ).scalar_one()
        protected = 0
        if assets:
            protected = conn.execute(
                select(func.count())
                .select_from(Asset)
                .where(
                    Asset.collection_id.in_(in_source),
                    or_(
                        exists().where(PlaylogEvent.asset_id == Asset.id),
                        exists().where(AsRunLog.asset_id == Asset.id),
                    ),
                )
            ).scalar_one()
        out.append(
            PruneSource(
                SourceAddress(stored.name, stored.id),
                stored.external_id,
                stored.type,
                collections=len(stored.collections),
                assets=assets,
                prune=prune,
                protected_assets=protected,
            )
        )
    return out
