"""The declarative use cases: validate, plan and apply ``retrovue.yaml``.

``apply`` takes the apply lock before it observes anything, so nothing moves between the plan (or
a saved plan's staleness check) and its execution; the operator's approval is asked through a
callback while the lock is held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.config.model import DesiredState
from retrovue.config.validate import config_path, load_config
from retrovue.errors import PlanError, UsageError
from retrovue.model.actions import Plan
from retrovue.model.enums import Outcome, ProblemKind, Trigger
from retrovue.model.results import ExecutionResult
from retrovue.plan.builder import PlanOptions, build_plan


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


def make_plan(ctx: Context, desired: DesiredState, options: PlanOptions = PlanOptions()) -> Plan:
    """Observe the database and the upstreams and compute the plan; writes nothing."""
    from retrovue.observe.reader import DbReader

    with ctx.engine.connect() as conn:
        plan = build_plan(desired, DbReader(conn), ctx.registry, options, scrub=ctx.scrub)
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
    if out_file:
        options = PlanOptions(options.only_sources, options.allow_mass_missing, True, options.prune)
    the_plan = make_plan(ctx, desired, options)
    if out_file:
        save(ctx, the_plan, desired, options, out_file)
    return Planned(the_plan, desired, detailed)


def save(ctx: Context, the_plan: Plan, desired: DesiredState, options: PlanOptions, path: str):
    from retrovue.plan.saved import SavedOptions, saved_document
    from retrovue.render.json import plan_to_json
    from retrovue.render.savefile import save_plan

    saved = SavedOptions(
        options.only_sources, options.allow_mass_missing, options.prune or desired.prune
    )
    save_plan(path, saved_document(plan_to_json(the_plan), the_plan, saved), ctx.scrub)


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
    saved = None
    if request.plan_file:
        options = request.options
        if options.only_sources or options.allow_mass_missing or options.prune:
            raise UsageError(
                "--source, --allow-mass-missing and --prune are fixed by the saved plan"
            )
        from retrovue.plan.saved import load_saved_plan

        saved = load_saved_plan(request.plan_file)
        # -c: the same file, checked out elsewhere
        desired = load_desired(ctx, request.config_file or saved.config_file)
        command = f"apply {request.plan_file}"
    else:
        desired = load_desired(ctx, request.config_file)
        command = f"apply -c {desired.file}"
    with ctx.locked(command, timeout=request.lock_timeout):
        if saved is not None:
            the_plan = _fresh_saved_plan(ctx, saved, desired)
        else:
            the_plan = make_plan(ctx, desired, request.options)
        if not approve(the_plan):
            return Applied(the_plan, None, cancelled=True)
        if not the_plan.has_changes:
            return Applied(the_plan, None)
        return Applied(the_plan, ctx.executor(Trigger.APPLY).execute(the_plan))


def _fresh_saved_plan(ctx: Context, saved, desired: DesiredState) -> Plan:
    from retrovue.observe.state import StateObserver
    from retrovue.plan.saved import check_fresh, plan_from_json

    with ctx.engine.connect() as conn:
        check_fresh(saved, desired, StateObserver(conn))
    return plan_from_json(saved.document, desired)
