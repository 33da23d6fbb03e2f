"""`retrovue collection ingest`."""

from __future__ import annotations

import click

from retrovue.app.collection_ingest import IngestRequest, ingest_collection
from retrovue.cli.complete import complete_collection
from retrovue.cli.console import Console
from retrovue.cli.imperative.collection import collection
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.options import common_options, mass_missing_option
from retrovue.model.enums import Outcome
from retrovue.render import ingest as show
from retrovue.render.results import interruption_line


def _non_negative(flag: str):
    def convert(_ctx, _param, value):
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            raise click.BadParameter(f"{flag} must be a non-negative integer", param_hint=flag)
        return number

    return convert


@collection.command("ingest")
@click.argument("selector", metavar="COLLECTION", shell_complete=complete_collection)
@click.option("--title", help="Only this series/movie title (exact, case-insensitive).")
@click.option(
    "--season", callback=_non_negative("--season"), help="Only this season (needs --title)."
)
@click.option(
    "--episode", callback=_non_negative("--episode"), help="Only this episode (needs --season)."
)
@mass_missing_option
@click.option("--verbose-assets", is_flag=True, help="List created and updated assets in JSON.")
@click.option("--no-enrich", is_flag=True, help="Do not run the attached enrichers afterwards.")
@dry_run_option
@common_options
def ingest(console: Console, selector, no_enrich, **options) -> Outcome:
    """Ingest one collection (or a title/season/episode of it), then run its attached
    enrichers over its assets still to enrich, as apply does (--no-enrich skips them)."""
    request = IngestRequest(selector, enrich=not no_enrich, **options)
    done = ingest_collection(console.ctx, request)
    report = done.report
    for warning in done.warnings:
        console.err(f"Warning: {warning}")
    if report.degraded:
        console.err(show.degraded_warning(report))
    if report.dry_run:
        emit_dry_run(
            console, done.plan, show.collection_document(report), show.collection_lines(report)
        )
    else:
        console.show(report, show.collection_document, show.collection_lines)
    if done.interrupted_after_commit:
        console.err(interruption_line(rolled_back=False))
        return Outcome.INTERRUPTED
    return Outcome.OK
