"""`retrovue status [-c FILE] [--json]`: how each source's catalogue stands."""

from __future__ import annotations

import click

from retrovue.cli.console import Console
from retrovue.cli.options import common_options


@click.command()
@click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    help="Also plan this config to tell whether each source is in sync (reads upstreams).",
)
@common_options
def status(console: Console, config_file: str | None) -> None:
    """Per source: last reconcile, in sync with the config, assets, enrichment backlog, last error."""
    from retrovue.app.status import status as use
    from retrovue.render import status as view

    console.show(use(console.ctx, config_file), view.status_document, view.status_text)
