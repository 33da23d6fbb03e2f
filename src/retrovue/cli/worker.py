"""`retrovue worker`: enrich what the shared PostgreSQL database says is still to enrich."""

from __future__ import annotations

import click

from retrovue.app.worker import WorkerRequest, run_worker
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome
from retrovue.model.worker import DEFAULT_BATCH, DEFAULT_LEASE_S


@click.command()
@click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    help="Config file for this machine's path_mappings (else $RETROVUE_CONFIG, else "
    "./retrovue.yaml if present).",
)
@click.option(
    "--database-url", metavar="URL", help="The shared PostgreSQL database (same as --db)."
)
@click.option("--once", is_flag=True, help="Enrich what is to enrich now, then exit.")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Assets claimed at a time.",
)
@click.option(
    "--lease",
    "lease_s",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_LEASE_S,
    show_default=True,
    metavar="SECONDS",
    help="How long a claim lasts unless renewed; a dead worker's work returns after it.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Enrichment processes on this machine (default: one per core).",
)
@common_options
def worker(
    console: Console, config_file, database_url, once, batch, lease_s, concurrency
) -> Outcome:
    """Enrich what the shared PostgreSQL database says is still to enrich, beside other workers.

    Any number of workers, on any machines that see the media, share the work; on SQLite the
    command is refused (one machine: `collection enrich` already uses every core).

    Claims are leased and renewed; a worker that dies or loses its connection loses its lease
    and the work returns to the pool.  SIGTERM or Ctrl-C rolls back the batch in progress,
    releases the claims and exits (143 / 130).  --once exits 0 when nothing is left to enrich
    (2 if some assets failed)."""
    if database_url:
        console.ctx.db_url = database_url
    request = WorkerRequest(config_file, once, batch, lease_s, concurrency)
    done = run_worker(console.ctx, request)
    from retrovue.render import worker as view

    console.show(done.report, view.worker_document, view.worker_lines)
    return done.status
