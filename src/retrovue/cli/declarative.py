"""`retrovue validate | plan | apply`: the declarative workflow over retrovue.yaml."""

from __future__ import annotations

import sys

import click

from retrovue.app import declarative as use
from retrovue.cli.console import Console, stdin_is_tty
from retrovue.cli.options import common_options, mass_missing_option
from retrovue.config.validate import config_path
from retrovue.errors import ApprovalRequired, ConfigError
from retrovue.model.actions import Plan
from retrovue.model.enums import Outcome
from retrovue.plan.builder import PlanOptions

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
enrich_option = click.option(
    "--enrich",
    type=click.Choice(["self", "workers"]),
    default="self",
    show_default=True,
    help="Who enriches the ingested assets: this command, or `retrovue worker` processes "
    "(PostgreSQL; the assets stay new until a worker enriches them).",
)
detail_option = click.option(
    "--detail",
    is_flag=True,
    help="Name the files behind each asset count (at most 10 per kind, then 'and N more').",
)


@click.command()
@config_option
@common_options
def validate(console: Console, config_file: str | None) -> Outcome:
    """Check retrovue.yaml (syntax, schema, semantics). Touches no database and no upstream."""
    from retrovue.render import declarative as view

    try:
        validated = use.validate(console.ctx, config_file)
    except ConfigError as exc:
        if not console.json_output:
            raise
        # the document holds every diagnostic: stderr gets none of them a second time
        console.emit_json(view.validate_failure_document(exc, config_path(config_file)))
        return Outcome.FAILED
    for warning in validated.desired.warnings:  # valid, but unwise: stderr, not a failure
        console.err(f"Warning: {warning}")
    console.show(validated, view.validate_document, view.validate_text)
    return Outcome.OK


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
@mass_missing_option
@prune_option
@detail_option
@enrich_option
@common_options
def plan(
    console: Console,
    config_file,
    sources,
    out_file,
    detailed_exitcode,
    fmt,
    allow_mass_missing,
    prune,
    detail,
    enrich,
) -> Outcome:
    """Show what apply would change. Writes nothing."""
    options = PlanOptions(
        tuple(sources),
        allow_mass_missing,
        prune=prune,
        detail=detail,
        enrich_by_workers=enrich == "workers",
    )
    planned = use.plan(
        console.ctx, config_file, options, out_file=out_file, detailed=detailed_exitcode
    )
    _show_plan(console, planned.plan, "json" if console.json_output else fmt)
    return planned.outcome


def _show_plan(console: Console, the_plan: Plan, fmt: str | None) -> None:
    if fmt == "json":
        from retrovue.render.json import plan_to_json

        console.emit_json(plan_to_json(the_plan))
    elif fmt == "markdown":
        from retrovue.render.markdown import render_markdown

        console.out(render_markdown(the_plan))
    else:
        from retrovue.render.text import render_text

        console.out(render_text(the_plan))


@click.command()
@click.argument("plan_file", metavar="[PLAN]", required=False)
@config_option
@source_option
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Apply without asking (required when stdin is not a terminal).",
)
@mass_missing_option
@prune_option
@detail_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long for another apply to finish (default 0: fail at once).",
)
@enrich_option
@common_options
def apply(
    console: Console,
    plan_file,
    config_file,
    sources,
    auto_approve,
    allow_mass_missing,
    prune,
    detail,
    lock_timeout,
    enrich,
) -> Outcome:
    """Plan (or load the saved PLAN), show it, ask for `yes`, then carry it out."""
    from retrovue.render.declarative import applied_document
    from retrovue.render.results import render_results

    request = use.ApplyRequest(
        config_file,
        plan_file,
        PlanOptions(
            tuple(sources),
            allow_mass_missing,
            prune=prune,
            detail=detail,
            enrich_by_workers=enrich == "workers",
        ),
        lock_timeout,
    )
    # a saved plan is the reviewed artifact: applied without asking, as Terraform does (its
    # digest and staleness checks still guard what runs)
    reviewed = auto_approve or plan_file is not None
    applied = use.apply(console.ctx, request, lambda p: _approve(console, p, reviewed))
    if applied.cancelled:
        console.err("Apply cancelled.")
    elif console.json_output:
        console.emit_json(applied_document(applied))
    elif applied.result is not None:
        console.out(render_results(applied.result, applied.plan))
    return applied.outcome


def _approve(console: Console, the_plan: Plan, auto_approve: bool) -> bool:
    """Show the plan; when it changes something, have the operator type `yes`."""
    if not console.json_output:
        _show_plan(console, the_plan, "text")
    if not the_plan.has_changes or auto_approve:
        return True
    if not stdin_is_tty():
        raise ApprovalRequired(
            "apply needs approval, but stdin is not a terminal",
            hint="review the plan, then re-run with --auto-approve",
        )
    click.echo(
        "\nDo you want to perform these actions? Only 'yes' will be accepted to approve.", err=True
    )
    click.echo("  Enter a value: ", err=True, nl=False)
    return sys.stdin.readline().strip() == "yes"
