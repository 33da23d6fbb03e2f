"""`retrovue source discover`."""

from __future__ import annotations

import click

from retrovue.app.source_discover import discover_collections
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options
from retrovue.render import sources as render


@source.command("discover")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@dry_run_option
@common_options
def discover(console: Console, selector: str, dry_run: bool) -> None:
    """Find the collections a source offers and store the new ones (disabled)."""
    found = discover_collections(console.ctx, selector, dry_run=dry_run)
    if found.upstream is None:  # the importer cannot list: a plain line, even under --json
        console.lines(render.discovery_lines(found))
    elif dry_run:
        emit_dry_run(console, found.plan, render.discovery_document(found))
    else:
        console.show(found, render.discovery_document, render.discovery_lines)
