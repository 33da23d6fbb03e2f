"""Build a Plan: observe database and upstreams, diff, collect actions (no writes, ever).

This is the thin front door of planning (alembic ``produce_migrations``-style): the comparing is
done in ``retrovue.diff``; this module only wires observation to it, per declared source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from retrovue.config.model import DesiredState, SourceDecl
from retrovue.diff.assets import diff_assets
from retrovue.diff.sources import CollectionState, diff_source
from retrovue.errors import ImporterAuthError, ImporterError, PlanError
from retrovue.importers import pathmap
from retrovue.importers.base import BaseImporter
from retrovue.importers.registry import Registry
from retrovue.observe.db import fingerprint_assets, load_asset_index, load_snapshot
from retrovue.plan.actions import Action, IngestCollection, Plan, Problem


@dataclass(frozen=True)
class PlanOptions:
    only_sources: tuple[str, ...] = ()
    allow_mass_missing: bool = False
    fingerprint: bool = False  # saved plans record a fingerprint of each collection's stored state


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
    with engine.connect() as conn:
        snapshot = load_snapshot(conn)
        for decl in selected:
            stored = snapshot.match_source(decl.name, decl.external_id)
            importer = registry.create(decl.type, decl.config)
            try:
                upstream = importer.list_collections()
            except ImporterError as exc:
                kind = "auth" if isinstance(exc, ImporterAuthError) else "unreachable"
                problems.append(Problem(decl.name, kind, scrub(exc.message)))
                continue
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
                    problems.append(Problem(decl.name, "unreachable", scrub(exc.message), state.address.name))
    return Plan(
        actions=tuple(actions),
        problems=tuple(problems),
        config_file=desired.file,
        config_hash=desired.config_hash,
        secret_fingerprints=dict(desired.secret_fingerprints),
        allow_mass_missing=options.allow_mass_missing,
    )


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


def _plan_ingest(conn, importer: BaseImporter, decl: SourceDecl, state: CollectionState, desired, options) -> IngestCollection:
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
        db_fingerprint=fingerprint_assets(existing) if options.fingerprint else None,
    )

