"""The declarative use cases: validate, plan and apply ``retrovue.yaml``.

``apply`` takes the apply lock before it observes anything, so nothing moves between the plan (or
a saved plan's staleness check) and its execution; the operator's approval is asked through a
callback while the lock is held.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrovue.app.context import Context
from retrovue.app.worker import require_postgres
from retrovue.config.model import DesiredState
from retrovue.config.validate import config_path, load_config
from retrovue.errors import PlanError, UsageError
from retrovue.importers.observation import Observations
from retrovue.model.actions import Plan
from retrovue.model.enums import Outcome, ProblemKind, Trigger
from retrovue.model.locks import LockScope
from retrovue.plan.builder import PlanOptions, build_plan

if TYPE_CHECKING:  # loaded by apply's executor; a plan does not need it
    from retrovue.model.results import ExecutionResult


@dataclass(frozen=True)
class Validated:
    path: str
    desired: DesiredState


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: DesiredState
    detailed: bool = False  # --detailed-exitcode: changes are an outcome of their own

    @property
    def outcome(self) -> Outcome:
        return plan_outcome(self.plan, self.detailed)


@dataclass(frozen=True)
class Applied:
    plan: Plan
    result: ExecutionResult | None  # None: nothing to do, or the operator declined
    cancelled: bool = False

    @property
    def outcome(self) -> Outcome:
        plan, result = self.plan, self.result
        if self.cancelled:
            return Outcome.CANCELLED
        if result is None:
            return plan_outcome(plan)
        if result.interrupted:
            return Outcome.INTERRUPTED
        if result.lock_lost is not None:
            return Outcome.FAILED  # another writer may have run meanwhile: not a partial success
        failures = result.failures + plan.unreachable + plan.auth_failed
        if failures == 0:
            return Outcome.OK
        if result.successes:
            return Outcome.PARTIAL
        if plan.unreachable and not plan.auth_failed and result.failures == 0:
            return Outcome.UNREACHABLE
        return Outcome.FAILED


def plan_outcome(plan: Plan, detailed: bool = False) -> Outcome:
    if plan.auth_failed:
        return Outcome.FAILED  # bad credentials are a config error, not an outage
    if plan.unreachable:
        return Outcome.UNREACHABLE
    if detailed and plan.has_changes:
        return Outcome.CHANGES
    return Outcome.OK


def load_desired(ctx: Context, config_file: str | None) -> DesiredState:
    desired = load_config(config_path(config_file), ctx.registry)
    for source in desired.sources:
        ctx.register_secrets(source.config, source.sensitive_keys)
    return desired


def validate(ctx: Context, config_file: str | None) -> Validated:
    """Syntax, schema and semantics of the file; touches no database and no upstream."""
    return Validated(config_path(config_file), load_desired(ctx, config_file))


def make_plan(
    ctx: Context,
    desired: DesiredState,
    options: PlanOptions = PlanOptions(),
    observations: Observations | None = None,
) -> Plan:
    """Observe the database and the upstreams and compute the plan; writes nothing (a database
    that does not exist yet is planned as empty, with a note saying so).  ``observations`` keeps
    the upstream listings for an apply in this process."""
    options = dataclasses.replace(options, database_files=ctx.database_files)
    with ctx.plan_reader() as reader:
        plan = build_plan(
            desired, reader, ctx.registry, options, scrub=ctx.scrub, observations=observations
        )
    if ctx.database_note:
        plan = dataclasses.replace(plan, notes=(*plan.notes, ctx.database_note))
    errors = [p for p in plan.problems if p.kind == ProblemKind.ERROR]
    if errors:
        raise PlanError(
            "; ".join(f'source "{p.source}": {p.message}' for p in errors),
            hint=f"fix {desired.file} and plan again",
        )
    return plan


def plan(
    ctx: Context,
    config_file: str | None,
    options: PlanOptions = PlanOptions(),
    *,
    out_file: str | None = None,
    detailed: bool = False,
) -> Planned:
    desired = load_desired(ctx, config_file)
    if options.enrich_by_workers:
        require_postgres(ctx)
    if out_file:
        options = dataclasses.replace(options, fingerprint=True)
    the_plan = make_plan(ctx, desired, options)
    if out_file:
        save(ctx, the_plan, desired, options, out_file)
    return Planned(the_plan, desired, detailed)


def save(ctx: Context, the_plan: Plan, desired: DesiredState, options: PlanOptions, path: str):
    """Write the saved plan with its digest and secret fingerprints, keyed with the database's
    key (read, never written: plan writes nothing)."""
    from retrovue.plan.document import plan_to_json
    from retrovue.plan.saved import (
        SavedOptions,
        environment_fingerprints,
        saved_document,
        sealed,
        secret_fingerprints,
        write_plan_file,
    )

    saved = SavedOptions(
        options.only_sources, options.allow_mass_missing, options.prune or desired.prune
    )
    key = _database_key(ctx)
    document = saved_document(
        plan_to_json(the_plan),
        the_plan,
        saved,
        secret_fingerprints(desired, key),
        environment_fingerprints(desired, key),
    )
    write_plan_file(path, sealed(document, key, ctx.scrub), ctx.scrub)


def _database_key(ctx: Context) -> bytes:
    from retrovue.observe.keys import database_key
    from retrovue.observe.reader import DbReader

    with ctx.plan_reader() as reader:
        if not isinstance(reader, DbReader):  # no database yet, so no key to make the plan with
            raise PlanError(
                f"cannot save the plan: {ctx.database_note}",
                hint="a saved plan is checked with its database's key: create the database "
                "first (`retrovue db upgrade`), then plan again",
            )
        return database_key(reader.conn)


@dataclass(frozen=True)
class ApplyRequest:
    config_file: str | None = None
    plan_file: str | None = None
    options: PlanOptions = PlanOptions()
    lock_timeout: float = 0.0


def apply(ctx: Context, request: ApplyRequest, approve: Callable[[Plan], bool]) -> Applied:
    """Plan (or load the saved plan), have it approved, execute it; all under the apply lock.

    ``approve`` sees the plan before anything is written and returns False to cancel; it is
    called even when there is nothing to do, so the plan is always shown.
    """
    if request.options.enrich_by_workers:
        require_postgres(ctx)
    saved = None
    if request.plan_file:
        options = request.options
        if (
            options.only_sources
            or options.allow_mass_missing
            or options.prune
            or options.enrich_by_workers
        ):
            raise UsageError(
                "--source, --allow-mass-missing, --prune and --enrich are fixed by the saved plan"
            )
        from retrovue.plan.saved import load_saved_plan

        saved = load_saved_plan(request.plan_file)
        # -c: the same file, checked out elsewhere
        desired = load_desired(ctx, request.config_file or _saved_config(saved))
        command = f"apply {request.plan_file}"
    else:
        desired = load_desired(ctx, request.config_file)
        command = f"apply -c {desired.file}"
    return reconcile(
        ctx,
        desired,
        request.options,
        command=command,
        lock_timeout=request.lock_timeout,
        approve=approve,
        saved=saved,
    )


#: how many times apply plans again under a wider lock when its plan writes a source it did not
#: lock (one declared source was created, or renamed, between the guess and the lock)
_LOCK_ATTEMPTS = 3


def reconcile(
    ctx: Context,
    desired: DesiredState,
    options: PlanOptions,
    *,
    command: str,
    lock_timeout: float | None,
    approve: Callable[[Plan], bool] = lambda _plan: True,
    trigger: Trigger = Trigger.APPLY,
    saved=None,
) -> Applied:
    """Plan ``desired`` (or check the saved plan), have it approved, execute it: the one path
    of ``apply`` and of ``watch``.  It holds the lock of each source it writes, the whole
    database when it creates or prunes one, from before it observes until the plan has run."""
    from retrovue.model.locks import covers, scopes_of

    scopes = _scopes_to_lock(ctx, desired, options, saved)
    for attempt in range(_LOCK_ATTEMPTS):
        if attempt == _LOCK_ATTEMPTS - 1:
            scopes = frozenset({LockScope.database()})
        # one observation per apply: the executor reuses this plan's listings while the
        # upstream can prove it has not moved; a saved plan's were never kept, so it reads
        # them again
        observations = Observations() if saved is None else None
        with ctx.locked(command, timeout=lock_timeout, scopes=scopes) as held:
            if saved is not None:
                the_plan = _fresh_saved_plan(ctx, saved, desired)
            else:
                the_plan = make_plan(ctx, desired, options, observations)
            needed = scopes_of(the_plan.actions)
            if not covers(held.scopes, needed):
                scopes = frozenset(scopes) | needed  # what moved since the guess: lock it too
                continue
            if not approve(the_plan):
                return Applied(the_plan, None, cancelled=True)
            if not the_plan.has_changes:
                return Applied(the_plan, None)
            executor = ctx.executor(trigger, observations=observations)
            return Applied(the_plan, executor.execute(the_plan))
    raise AssertionError("unreachable: the last attempt holds the whole database")


def _scopes_to_lock(ctx: Context, desired: DesiredState, options: PlanOptions, saved):
    """The sources a plan of ``desired`` will write, guessed from the stored sources before the
    lock is taken (the plan, made under the lock, is checked against it): each declared source
    that is stored; the whole database when one is not (it will be created), or when pruning
    may delete an undeclared one."""
    from retrovue.model.enums import SourceOrigin
    from retrovue.model.locks import scopes_of

    whole = frozenset({LockScope.database()})
    if saved is not None:
        try:  # the file is checked (digest, freshness) under the lock; here it only guides it
            return scopes_of(plan_from_saved(saved, desired).actions) or whole
        except Exception:  # noqa: BLE001 - an unreadable file is refused under the lock
            return whole
    snapshot = ctx.snapshot()
    scopes = set()
    selected = (
        desired.sources
        if not options.only_sources
        else [d for n in options.only_sources if (d := desired.source(n)) is not None]
    )
    declared = set()
    for decl in selected:
        stored = snapshot.match_source(decl.name, decl.external_id)
        if stored is None:
            return whole
        declared.add(stored.id)
        scopes.add(LockScope.source(stored.id, stored.name))
    if (options.prune or desired.prune) and not options.only_sources:
        every_declared = {
            s.id for d in desired.sources if (s := snapshot.match_source(d.name, d.external_id))
        }
        if any(
            s.origin == SourceOrigin.CONFIG and s.id not in every_declared for s in snapshot.sources
        ):
            return whole
    return frozenset(scopes) or whole


def plan_from_saved(saved, desired: DesiredState) -> Plan:
    from retrovue.plan.saved import plan_from_json

    return plan_from_json(saved.document, desired, f"saved plan {saved.path}")


def _saved_config(saved) -> str:
    """The config the saved plan was made from (stored absolute), or an error naming it."""
    if not os.path.exists(saved.config_file):
        raise PlanError(
            f"config file not found: {saved.config_file} (saved plan {saved.path} was made from it)",
            hint="pass the same config file with -c FILE (e.g. from the checkout that applies)",
        )
    return saved.config_file


def _fresh_saved_plan(ctx: Context, saved, desired: DesiredState) -> Plan:
    from retrovue.observe.state import StateObserver
    from retrovue.plan.saved import check_fresh, plan_from_json, verify_digest

    with ctx.engine.connect() as conn:
        observer = StateObserver(conn)
        verify_digest(saved, observer.key())  # first: an edited plan is looked at no further
        check_fresh(saved, desired, observer)
    return plan_from_json(saved.document, desired, f"saved plan {saved.path}")
