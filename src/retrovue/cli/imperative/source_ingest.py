"""`retrovue source ingest`."""

from __future__ import annotations

import click

from retrovue.app.source_ingest import ingest_source
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options, mass_missing_option
from retrovue.model.enums import Outcome
from retrovue.render import ingest as show


@source.command("ingest")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@mass_missing_option
@click.option("--no-enrich", is_flag=True, help="Do not run the attached enrichers afterwards.")
@click.option("--title", hidden=True)
@click.option("--season", hidden=True)
@click.option("--episode", hidden=True)
@dry_run_option
@common_options
def ingest(
    console: Console, selector, allow_mass_missing, no_enrich, title, season, episode, dry_run
) -> Outcome:
    """Ingest every eligible (sync-enabled, ingestible) collection of a source; after each,
    run its attached enrichers over its assets still to enrich, as apply does (--no-enrich
    skips them)."""
    report = ingest_source(
        console.ctx,
        selector,
        allow_mass_missing=allow_mass_missing,
        dry_run=dry_run,
        narrowed=any(v is not None for v in (title, season, episode)),
        enrich=not no_enrich,
    )
    for r in report.succeeded:
        if r.degraded and not dry_run:
            console.err(show.degraded_warning(r))
    if dry_run:
        emit_dry_run(console, report.plan, show.source_document(report), show.source_lines(report))
    else:
        console.show(report, show.source_document, show.source_lines)
    if report.outcome in (Outcome.FAILED, Outcome.UNREACHABLE):
        console.err("Error: All collections failed")
    return report.outcome
