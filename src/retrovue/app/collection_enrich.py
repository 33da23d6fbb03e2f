"""`collection enrich` (issue 11): run a collection's enrichers over its assets still to enrich.

It builds the ``EnrichCollection`` that `retrovue plan` builds for the collection and runs it
through the one executor, under the apply lock, committing in batches.  How it ends:

- ``OK`` (exit 0): every asset it tried was enriched, or there was nothing to do (also: no
  enricher attached; the result says so).  Assets a killed run left ``enriching`` are settled
  either way (new, or ready by the ready rule with the enrichers attached now);
- ``PARTIAL`` (exit 2): some assets failed (each is listed with its reason), or one attached
  enricher could not run while others did;
- ``FAILED`` (exit 1): nothing could be enriched because of a run-level error (an attached
  enricher is unavailable or cannot start), or the apply lock was lost;
- ``INTERRUPTED`` (exit 130): Ctrl-C; the committed batches stay, the next run resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from retrovue.app.context import Context
from retrovue.app.enrichers import EffectiveEnricher, effective_enrichers, enricher_registry
from retrovue.app.selectors import resolve_collection
from retrovue.app.worker import require_postgres
from retrovue.errors import InterruptedByOperator, RetrovueError
from retrovue.model.actions import EnrichCollection, Plan
from retrovue.model.enums import Outcome
from retrovue.model.results import EnrichmentOutcome
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan.enrichment import plan_enrichment
from retrovue.plan.imperative import collection_address


@dataclass(frozen=True)
class EnrichRequest:
    selector: str
    force: bool = False
    retry_failed: bool = False
    dry_run: bool = False
    #: --enrich=workers: leave the enriching to `retrovue worker` (PostgreSQL); the run only
    #: reports how many assets are left to them
    by_workers: bool = False


@dataclass(frozen=True)
class CollectionEnrichment:
    source: DbSource
    collection: DbCollection
    enrichers: tuple[EffectiveEnricher, ...]
    #: None when no enricher is attached and no asset is stuck enriching (nothing to do)
    action: EnrichCollection | None
    plan: Plan
    #: attached enrichers that cannot run here, with the reason
    unavailable: tuple[str, ...] = ()
    #: per type: present assets whose last attempt failed (kept unless --retry-failed/--force)
    failed_before: dict[str, int] = field(default_factory=dict)
    outcome: EnrichmentOutcome | None = None  # None on a dry run, or when nothing ran
    status: Outcome = Outcome.OK
    #: the run-level error behind FAILED or INTERRUPTED (reported as the command's error)
    error: RetrovueError | None = None
    dry_run: bool = False
    force: bool = False
    retry_failed: bool = False


def enrich_collection(ctx: Context, request: EnrichRequest) -> CollectionEnrichment:
    source, col = resolve_collection(ctx.snapshot(), request.selector)
    try:
        return _enrich(ctx, request, source, col)
    except RetrovueError as exc:  # error documents name the collection
        exc.details = {"collection_id": str(col.id), "collection_name": col.name, **exc.details}
        raise


def _enrich(ctx: Context, request: EnrichRequest, source, col) -> CollectionEnrichment:
    if request.by_workers:
        require_postgres(ctx)
    shown = effective_enrichers(source, col)
    specs = tuple(e.spec for e in shown)
    common = {
        "dry_run": request.dry_run,
        "force": request.force,
        "retry_failed": request.retry_failed,
    }
    registry = enricher_registry() if specs else None
    action, notes = _plan(ctx, registry, source, col, specs, request)
    if action is None:
        return CollectionEnrichment(source, col, shown, None, Plan(()), **common)
    if request.by_workers:
        action = replace(action, by_workers=True)
    failed_before = _failed_before(ctx, col, action, request)
    plan = Plan((action,))
    planned = CollectionEnrichment(
        source, col, shown, action, plan, tuple(notes), failed_before, **common
    )
    if specs and not action.work:  # every attached enricher is unavailable: refuse, nothing
        raise _unavailable(registry, specs)  # written; a dry run fails alike (contracts §0.7)
    if request.dry_run:
        return planned
    result = ctx.run(plan, f"collection enrich {col.id}")
    outcome = result.enrichments[0] if result.enrichments else None
    if result.interrupted or (outcome is not None and outcome.interrupted):
        done = outcome.enriched if outcome else 0
        error = InterruptedByOperator(
            f"interrupted; {done:,} asset{'s' if done != 1 else ''} enriched in committed "
            "batches stay, the next run resumes"
        )
        return _ended(planned, outcome, Outcome.INTERRUPTED, error)
    if result.lock_lost is not None:
        return _ended(planned, outcome, Outcome.FAILED, _typed(result.lock_lost))
    return _judged(registry, planned, outcome, specs)


def _plan(ctx: Context, registry, source, col, specs, request: EnrichRequest):
    from retrovue.observe.reader import DbReader

    with ctx.reading() as conn:
        return plan_enrichment(
            DbReader(conn),
            lambda: registry,
            collection_address(source, col),
            col.id,
            specs,
            force=request.force,
            retry_failed=request.retry_failed,
        )


def _failed_before(
    ctx: Context, col: DbCollection, action: EnrichCollection, request: EnrichRequest
) -> dict[str, int]:
    """Per type, the assets a plain run leaves alone because they failed before."""
    if request.force or request.retry_failed:
        return {}
    from retrovue.observe.enrichment import failed_count

    with ctx.reading() as conn:
        return {w.type: failed_count(conn, col.id, w.type) for w in action.work}


def _judged(registry, planned, outcome: EnrichmentOutcome | None, specs) -> CollectionEnrichment:
    """The run's verdict (see the module docstring)."""
    errors: list[RetrovueError] = []
    if outcome is not None and outcome.error is not None:
        errors.append(_typed(outcome.error))
    elif planned.unavailable:
        errors.append(_unavailable(registry, specs))
    enriched = outcome.enriched if outcome else 0
    failed = outcome.failed if outcome else 0
    if errors and enriched == 0 and failed == 0:
        return _ended(planned, outcome, Outcome.FAILED, errors[0])
    if errors or failed:
        return _ended(planned, outcome, Outcome.PARTIAL)
    return _ended(planned, outcome, Outcome.OK)


def _ended(planned, outcome=None, status=Outcome.OK, error=None) -> CollectionEnrichment:
    return replace(planned, outcome=outcome, status=status, error=error)


def _unavailable(registry, specs) -> RetrovueError:
    """The first attached enricher that cannot run, as the registry explains it."""
    for spec in specs:
        if not registry.available(spec.type):
            try:
                registry.require_available(spec.type)
            except RetrovueError as exc:
                return exc
    return RetrovueError("no attached enricher can run")


def _typed(error: BaseException) -> RetrovueError:
    if isinstance(error, RetrovueError):
        return error
    return RetrovueError(f"Enrichment failed: {type(error).__name__}: {error}")
