"""`retrovue validate | plan | apply`: the declarative workflow over retrovue.yaml."""

from __future__ import annotations

import sys

import click

from retrovue.cli.context import AppContext, stdin_is_tty
from retrovue.cli.options import Exit, common_options
from retrovue.config.model import DesiredState
from retrovue.config.validate import config_path, load_config
from retrovue.errors import ApprovalRequired, ConfigError, PlanError
from retrovue.execute.executor import Executor
from retrovue.execute.lock import apply_lock
from retrovue.model.actions import Plan
from retrovue.model.results import ExecutionResult
from retrovue.plan.builder import PlanOptions, build_plan
from retrovue.plan.saved import (
    SavedOptions,
    check_fresh,
    load_saved_plan,
    plan_from_json,
    saved_document,
)
from retrovue.render.json import plan_to_json
from retrovue.render.markdown import render_markdown
from retrovue.render.progress import progress_factory
from retrovue.render.results import render_results, results_to_json
from retrovue.render.text import render_text

config_option = click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    help="Config file (else $RETROVUE_CONFIG, else ./retrovue.yaml).",
)
source_option = click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Only this declared source (repeatable).",
)
prune_option = click.option(
    "--prune",
    is_flag=True,
    help="Delete config-created sources no longer in the file (also `prune: true`).",
)


def _load(app: AppContext, config_file: str | None) -> DesiredState:
    desired = load_config(config_path(config_file), app.registry)
    for source in desired.sources:
        app.register_secrets(source.config, source.sensitive_keys)
    return desired


@click.command()
@config_option
@common_options
def validate(app: AppContext, config_file: str | None) -> None:
    """Check retrovue.yaml (syntax, schema, semantics). Touches no database and no upstream."""
    path = config_path(config_file)
    try:
        desired = _load(app, config_file)
    except ConfigError as exc:
        if app.json_output:
            app.emit_json(
                {
                    "status": "error",
                    "code": exc.code,
                    "valid": False,
                    "file": path,
                    "diagnostics": [d.to_json() for d in exc.diagnostics],
                }
            )
            for d in exc.diagnostics:
                app.err(f"  {d}")
            raise Exit(1) from None
        raise
    if app.json_output:
        app.emit_json(
            {
                "status": "ok",
                "valid": True,
                "file": path,
                "sources": len(desired.sources),
                "diagnostics": [],
            }
        )
    else:
        app.out(
            f"{path}: valid ({len(desired.sources)} source{'s' if len(desired.sources) != 1 else ''})\n"
        )


def _make_plan(
    app: AppContext,
    desired: DesiredState,
    sources,
    allow_mass_missing: bool,
    fingerprint=False,
    prune=False,
) -> Plan:
    plan = build_plan(
        desired,
        app.engine,
        app.registry,
        PlanOptions(tuple(sources), allow_mass_missing, fingerprint, prune),
        scrub=app.scrub,
    )
    errors = [p for p in plan.problems if p.kind == "error"]
    if errors:
        raise PlanError(
            "; ".join(f'source "{p.source}": {p.message}' for p in errors),
            hint=f"fix {desired.file} and plan again",
        )
    return plan


@click.command()
@config_option
@source_option
@click.option("--out", "out_file", metavar="PLAN", help="Also save the plan as JSON to this file.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 for no changes, 2 for changes, 1 for errors."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default=None,
    help="Output format.",
)
@click.option(
    "--allow-mass-missing", is_flag=True, help="Plan missing-marking even above the threshold."
)
@prune_option
@common_options
def plan(
    app: AppContext,
    config_file,
    sources,
    out_file,
    detailed_exitcode,
    fmt,
    allow_mass_missing,
    prune,
) -> None:
    """Show what apply would change. Writes nothing."""
    desired = _load(app, config_file)
    the_plan = _make_plan(
        app, desired, sources, allow_mass_missing, fingerprint=bool(out_file), prune=prune
    )
    document = plan_to_json(the_plan)
    if out_file:
        from retrovue.render.savefile import save_plan

        options = SavedOptions(tuple(sources), allow_mass_missing, prune or desired.prune)
        save_plan(out_file, saved_document(document, the_plan, options), app.scrub)
    if app.json_output or fmt == "json":
        app.emit_json(document)
    elif fmt == "markdown":
        app.out(render_markdown(the_plan))
    else:
        app.out(render_text(the_plan))
    if the_plan.auth_failed:
        raise Exit(1)  # bad credentials are a config error, not an outage
    if the_plan.unreachable:
        raise Exit(3)
    if detailed_exitcode and the_plan.has_changes:
        raise Exit(2)


@click.command()
@click.argument("plan_file", metavar="[PLAN]", required=False)
@config_option
@source_option
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Apply without asking (required when stdin is not a terminal).",
)
@click.option(
    "--allow-mass-missing", is_flag=True, help="Mark assets missing even above the threshold."
)
@prune_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long for another apply to finish (default 0: fail at once).",
)
@common_options
def apply(
    app: AppContext,
    plan_file,
    config_file,
    sources,
    auto_approve,
    allow_mass_missing,
    prune,
    lock_timeout,
) -> None:
    """Plan (or load the saved PLAN), show it, ask for `yes`, then carry it out."""
    saved = None
    if plan_file:
        if sources or allow_mass_missing or prune:
            raise click.UsageError(
                "--source, --allow-mass-missing and --prune are fixed by the saved plan"
            )
        saved = load_saved_plan(plan_file)
        desired = _load(
            app, config_file or saved.config_file
        )  # -c: the same file, checked out elsewhere
    else:
        desired = _load(app, config_file)
    command = f"apply {plan_file}" if plan_file else f"apply -c {desired.file}"
    # locked before observing, so nothing moves between the plan (or the staleness check) and its execution
    with apply_lock(app.engine, command, timeout=lock_timeout):
        if saved is not None:
            with app.engine.connect() as conn:
                check_fresh(saved, desired, conn)
            the_plan = plan_from_json(saved.document, desired)
        else:
            the_plan = _make_plan(app, desired, sources, allow_mass_missing, prune=prune)
        _run_apply(app, the_plan, auto_approve)


def _run_apply(app: AppContext, the_plan: Plan, auto_approve: bool) -> None:
    if not app.json_output:
        app.out(render_text(the_plan))
    if not the_plan.has_changes:
        if app.json_output:
            app.emit_json({"status": "ok", "plan": plan_to_json(the_plan), "results": None})
        raise Exit(1 if the_plan.auth_failed else 3 if the_plan.unreachable else 0)
    if not auto_approve:
        _confirm(app)
    executor = Executor(
        app.engine, app.registry, trigger="apply", scrub=app.scrub, progress=progress_factory()
    )
    result = executor.execute(the_plan)
    code = exit_code(the_plan, result)
    if app.json_output:
        status = {0: "ok", 2: "partial"}.get(code, "error")
        app.emit_json(
            {"status": status, "plan": plan_to_json(the_plan), "results": results_to_json(result)}
        )
    else:
        app.out(render_results(result))
    raise Exit(code)


def _confirm(app: AppContext) -> None:
    if not stdin_is_tty():
        raise ApprovalRequired(
            "apply needs approval, but stdin is not a terminal",
            hint="review the plan, then re-run with --auto-approve",
        )
    click.echo(
        "\nDo you want to perform these actions? Only 'yes' will be accepted to approve.", err=True
    )
    click.echo("  Enter a value: ", err=True, nl=False)
    answer = sys.stdin.readline()
    if answer.strip() != "yes":
        app.err("Apply cancelled.")
        raise Exit(0)


def exit_code(plan: Plan, result: ExecutionResult) -> int:
    """DESIGN §6 for apply: 0 all done, 2 partial, 1 nothing done (3 when an unreachable upstream
    is why), 130 after Ctrl-C."""
    if result.interrupted:
        return 130
    failures = result.failures + (1 if plan.unreachable else 0) + (1 if plan.auth_failed else 0)
    if failures == 0:
        return 0
    if result.successes:
        return 2
    return 3 if plan.unreachable and not plan.auth_failed and result.failures == 0 else 1
