"""`retrovue enricher list-types` (issue 11): the registered enricher types."""

from __future__ import annotations

import click

from retrovue.app.enrichers import list_enricher_types
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import enrichment as view


@click.group()
def enricher() -> None:
    """Enrichers: what probes ingested media (ffprobe, loudness, plugins)."""


@enricher.command("list-types")
@common_options
def list_types(console: Console) -> None:
    """List the registered enricher types: version, provider, availability, parameters."""
    types = list_enricher_types()
    console.show(types, view.types_document, view.types_lines)
