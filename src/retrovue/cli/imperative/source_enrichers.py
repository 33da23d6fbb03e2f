"""`retrovue source attach-enricher | detach-enricher` (issue 11)."""

from __future__ import annotations

import click

from retrovue.app.enrichers import attach_to_source, detach_from_source
from retrovue.cli.complete import complete_enricher_type, complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options
from retrovue.render import enrichment as view


def _emit(console: Console, done) -> None:
    if done.dry_run:
        emit_dry_run(
            console, done.plan, view.attachment_document(done), view.attachment_lines(done)
        )
    else:
        console.show(done, view.attachment_document, view.attachment_lines)


@source.command("attach-enricher")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@click.argument("type_id", metavar="TYPE", shell_complete=complete_enricher_type)
@click.option(
    "--priority",
    type=int,
    default=0,
    show_default=True,
    help="Run order among the collection's enrichers (lower first).",
)
@dry_run_option
@common_options
def attach_enricher(console: Console, selector, type_id, priority, dry_run) -> None:
    """Attach enricher TYPE to SOURCE: it runs on all of SOURCE's collections.

    TYPE must be available (`retrovue enricher list-types`).  Attaching an attached TYPE with
    the same priority changes nothing (exit 0); with another priority it changes the priority."""
    _emit(console, attach_to_source(console.ctx, selector, type_id, priority, dry_run=dry_run))


@source.command("detach-enricher")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@click.argument("type_id", metavar="TYPE", shell_complete=complete_enricher_type)
@dry_run_option
@common_options
def detach_enricher(console: Console, selector, type_id, dry_run) -> None:
    """Detach enricher TYPE from SOURCE (an error, exit 1, when it is not attached there).

    Results already stored on the assets are kept."""
    _emit(console, detach_from_source(console.ctx, selector, type_id, dry_run=dry_run))
