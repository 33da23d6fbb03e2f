"""`retrovue collection enrich` (issue 11)."""

from __future__ import annotations

import click

from retrovue.app.collection_enrich import EnrichRequest, enrich_collection
from retrovue.cli.complete import complete_collection
from retrovue.cli.console import Console
from retrovue.cli.imperative.collection import collection
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome
from retrovue.render import enrichment as view


@collection.command("enrich")
@click.argument("selector", metavar="COLLECTION", shell_complete=complete_collection)
@click.option("--force", is_flag=True, help="Enrich every present asset again.")
@click.option(
    "--retry-failed", is_flag=True, help="Also retry the assets whose last attempt failed."
)
@click.option(
    "--enrich",
    "by",
    type=click.Choice(["self", "workers"]),
    default="self",
    show_default=True,
    help="Enrich here, or leave it to `retrovue worker` processes (PostgreSQL; the assets "
    "stay new until a worker enriches them).",
)
@dry_run_option
@common_options
def enrich(console: Console, selector, force, retry_failed, by, dry_run) -> Outcome | None:
    """Run the collection's enrichers over its assets still to enrich.

    Failed assets are listed with their reason.  Exit 0: all enriched, nothing to do, or no
    enricher attached (a message says so); 2: some assets failed; 1: nothing could be enriched
    (e.g. an attached enricher is unavailable); 130: interrupted (committed batches stay)."""
    request = EnrichRequest(selector, force, retry_failed, dry_run, by_workers=by == "workers")
    done = enrich_collection(console.ctx, request)
    for note in done.unavailable:
        console.err(f"Warning: {note}")
    if dry_run:
        emit_dry_run(
            console, done.plan, view.enrich_document(done), view.enrich_preview_lines(done)
        )
        return None
    if done.error is not None:  # nothing could be enriched, or interrupted: the error reports it
        error = done.error
        error.details = {**view.failure_details(done), **error.details}
        if done.status == Outcome.INTERRUPTED and done.outcome and not console.json_output:
            console.lines(view.outcome_lines(done.outcome))  # what the committed batches hold
        console.report(error)
        return done.status
    console.show(done, view.enrich_document, view.enrich_lines)
    return done.status
