"""`source delete`: sources with their collections, path mappings and assets, best effort per source.

A source any of whose assets has aired is protected and kept.  Only a test database run with
--force may override that (--confirm never does, and production never does): deleting playout
history there is how a test database is reset.  Each source is deleted in its own unit, so one
that fails (or aired since it was counted) is kept while the others go.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_source
from retrovue.errors import DatabaseError, ProductionSafetyError, RetrovueError, rolled_back
from retrovue.logs import get_logger
from retrovue.model.actions import Plan
from retrovue.model.enums import Outcome
from retrovue.model.snapshots import DbSource
from retrovue.observe.reader import DbReader
from retrovue.plan import imperative as build
from retrovue.plan.imperative import DeleteTarget

log = get_logger("retrovue.source.delete")


@dataclass(frozen=True)
class KeptSource:
    id: str
    name: str
    reason: str


@dataclass(frozen=True)
class DeletePreview:
    selector: str
    wildcard: bool
    targets: tuple[DeleteTarget, ...]  # every matched source, in name order
    deletable: tuple[DeleteTarget, ...]
    protected: tuple[DeleteTarget, ...]
    plan: Plan  # one DeleteSource per deletable target

    @property
    def kept(self) -> tuple[KeptSource, ...]:
        return tuple(_kept(t.source, t.reason) for t in self.protected)


@dataclass(frozen=True)
class DeleteReport:
    preview: DeletePreview
    deleted: tuple[DeleteTarget, ...]
    kept: tuple[KeptSource, ...]  # the protected ones, then those whose unit failed

    @property
    def outcome(self) -> Outcome:
        return Outcome.PARTIAL if self.kept else Outcome.OK


def is_wildcard(selector: str) -> bool:
    return "*" in selector or "?" in selector


def wildcard_matches(pattern: str, sources: Sequence[DbSource]) -> list[DbSource]:
    """`*` any run, `?` one character, the rest literal; names match case-insensitively,
    external ids exactly."""

    def regex(fold) -> re.Pattern:
        parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(fold(ch)) for ch in pattern)
        return re.compile("".join(parts), re.DOTALL)

    exact, folded = regex(lambda ch: ch), regex(str.casefold)
    hits = [
        s for s in sources if folded.fullmatch(s.name.casefold()) or exact.fullmatch(s.external_id)
    ]
    return sorted(hits, key=lambda s: (s.name.casefold(), str(s.id)))


def plan_delete(ctx: Context, selector: str, *, force: bool, dry_run: bool) -> DeletePreview:
    """The targets, which of them production safety keeps, and the plan for the rest.  Unless
    this is a dry run, a selection whose every target is protected is refused here, before any
    prompt."""
    wildcard = is_wildcard(selector)
    with ctx.reading() as conn:
        reader = DbReader(conn)
        snapshot = reader.snapshot()
        ctx.learn_secrets(snapshot)
        if wildcard:
            chosen = wildcard_matches(selector, snapshot.sources)
        else:
            chosen = [resolve_source(snapshot, selector)]
        targets = build.delete_targets(reader, chosen)
    override = ctx.test_db and force
    protected = tuple(t for t in targets if t.aired and not override)
    deletable = tuple(t for t in targets if t not in protected)
    plan = Plan(tuple(build.delete_action(t, override and t.aired > 0) for t in deletable))
    preview = DeletePreview(selector, wildcard, tuple(targets), deletable, protected, plan)
    if targets and not deletable and not dry_run:
        raise _all_protected(preview)
    return preview


def delete_sources(ctx: Context, preview: DeletePreview) -> DeleteReport:
    """Delete each deletable source in its own unit, all under one hold of the apply lock."""
    deleted, kept = [], list(preview.kept)
    failures: list[RetrovueError] = []  # the typed errors of the units that rolled back
    from retrovue.model.locks import scopes_of

    # each deleted source's own lock: writers of the other sources carry on
    with ctx.locked(f"source delete {preview.selector}", scopes=scopes_of(preview.plan.actions)):
        executor = ctx.executor()
        for target, action in zip(preview.deletable, preview.plan.actions, strict=True):
            outcome = executor.execute(Plan((action,))).sources[0]
            if outcome.ok:
                deleted.append(target)
                _log_deleted(target)
            else:
                kept.append(_kept(target.source, outcome.message))
                failures.append(rolled_back(outcome.error))
    if not deleted:
        raise _nothing_deleted(kept, failures)
    return DeleteReport(preview, tuple(deleted), tuple(kept))


def _kept(source: DbSource, reason: str) -> KeptSource:
    return KeptSource(str(source.id), source.name, reason)


def _log_deleted(t: DeleteTarget) -> None:
    log.info(
        "source deleted",
        deleted=True,
        source_id=str(t.source.id),
        name=t.source.name,
        type=t.source.type,
        collections_deleted=t.collections,
        path_mappings_deleted=t.path_mappings,
        assets_deleted=t.assets,
    )


def _refusal_details(kept: Sequence[KeptSource]) -> dict:
    """What the error document adds: the same counts a run that deleted something reports."""
    return {
        "targets_processed": 0,
        "targets_skipped": len(kept),
        "results": [],
        "skipped": [dataclasses.asdict(k) for k in kept],
        "dry_run": False,
    }


def _each(kept: Sequence[KeptSource]) -> str | None:
    """Several kept sources are listed under the error, one a line."""
    if len(kept) < 2:
        return None
    return "\n  ".join(f"{k.name} (ID: {k.id}): {k.reason}" for k in kept)


def _all_protected(preview: DeletePreview) -> ProductionSafetyError:
    protected, kept = preview.protected, preview.kept
    if len(protected) == 1:
        t = protected[0]
        message = f"Source '{t.source.name}' is protected and was not deleted: {t.reason}"
    else:
        message = (
            f"All {len(protected)} sources are protected and were not deleted (production safety)"
        )
    return ProductionSafetyError(message, hint=_each(kept), details=_refusal_details(kept))


def _nothing_deleted(
    kept: Sequence[KeptSource], failures: Sequence[RetrovueError]
) -> RetrovueError:
    """``failures``: the errors of the units that rolled back; the other kept sources were
    protected before any unit ran."""
    if len(kept) == 1:
        message = f"Source '{kept[0].name}' was not deleted: {kept[0].reason}"
        if failures:  # the one source's own unit failed: its error, saying which source
            error = failures[0].restated(message)
            error.details = _refusal_details(kept)
            return error
    else:
        message = "No sources were deleted"
    safety = all(isinstance(f, ProductionSafetyError) for f in failures)
    error_class = ProductionSafetyError if safety else DatabaseError
    return error_class(message, hint=_each(kept), details=_refusal_details(kept))
