"""`retrovue worker`: enrich, on this machine, what the shared PostgreSQL database says is still
to enrich, alongside any number of workers on other machines (``execute.enrich_worker``).

The database is the only thing workers share: the enrichers attached to each collection, the
ledger saying what is still to enrich, and the claims saying who is on what.  A worker reads its
own config file (``-c``, else $RETROVUE_CONFIG, else ./retrovue.yaml when there is one) only for
its ``path_mappings``, so a machine that mounts the media elsewhere finds the files: a stored
path goes back to its upstream path through the collection's stored mappings, then forward
through this machine's.  Enrichers this machine does not have are left to workers that do.

On SQLite there is one machine, and ``collection enrich`` already uses all its cores: the worker
is refused before anything is opened.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.errors import WorkersNeedPostgresError
from retrovue.model.enums import Outcome
from retrovue.model.worker import (
    DEFAULT_BATCH,
    DEFAULT_LEASE_S,
    DEFAULT_POLL_S,
    WorkCollection,
    WorkerReport,
    WorkerSettings,
)


@dataclass(frozen=True)
class WorkerRequest:
    config_file: str | None = None
    once: bool = False
    batch: int = DEFAULT_BATCH
    lease_s: float = DEFAULT_LEASE_S
    concurrency: int | None = None
    poll_s: float = DEFAULT_POLL_S


@dataclass(frozen=True)
class WorkerRun:
    report: WorkerReport
    status: Outcome


def worker_id() -> str:
    """Unique among live workers: the host and pid say where to look, the random part keeps a
    reused pid (a container restarted) from inheriting a dead worker's claims."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


def run_worker(
    ctx: Context, request: WorkerRequest, on_result: Callable[[], None] | None = None
) -> WorkerRun:
    """Run until interrupted, or with ``once`` until nothing is left; KeyboardInterrupt (SIGINT,
    SIGTERM) propagates after the claims are released."""
    require_postgres(ctx)
    ctx.require_writable_schema()  # opens (and if new, migrates) the database first
    from retrovue.app.enrichers import enricher_registry
    from retrovue.database.engine import make_engine
    from retrovue.database.tables import utcnow
    from retrovue.execute.enrich_worker import EnrichmentWorker

    settings = WorkerSettings(
        worker_id(),
        batch=request.batch,
        lease_s=request.lease_s,
        concurrency=request.concurrency,
        once=request.once,
        poll_s=request.poll_s,
    )
    own = _own_mappings(ctx, request.config_file)
    registry = enricher_registry()
    # its own engine: sessions named after the worker in pg_stat_activity, and tested before
    # use, so a session the server ended is replaced instead of failing the next batch
    engine = make_engine(ctx.target.url, application_name=f"retrovue worker {settings.worker_id}")
    worker = EnrichmentWorker(
        engine,
        registry,
        settings,
        lambda: _work_collections(engine, registry, own),
        utcnow,
        on_result=on_result,
    )
    try:
        report = worker.run()
    except KeyboardInterrupt:  # SIGINT or SIGTERM: claims released, the report still shown
        return WorkerRun(worker.report, Outcome.INTERRUPTED)
    finally:
        engine.dispose()
    status = Outcome.PARTIAL if report.failed else Outcome.OK
    return WorkerRun(report, status)


def require_postgres(ctx: Context) -> None:
    from sqlalchemy.engine import make_url

    if make_url(ctx.target.url).get_backend_name() != "postgresql":
        raise WorkersNeedPostgresError(
            f"enrichment by workers needs PostgreSQL; {ctx.target.display_url} is SQLite, "
            "which one machine uses",
            hint="on one machine `retrovue collection enrich` (and `apply`) already run the "
            "enrichers on every core; workers share a PostgreSQL database between machines",
        )


#: (source name casefolded, collection name or external id) -> that machine's path mappings
OwnMappings = dict[tuple[str, str], tuple]


def _own_mappings(ctx: Context, config_file: str | None) -> OwnMappings:
    """This machine's path mappings per declared collection; none without a config file (an
    explicit ``-c`` must exist; the default one may not)."""
    from retrovue.app.declarative import load_desired
    from retrovue.config.validate import config_path

    path = config_path(config_file)
    if config_file is None and not os.path.exists(path):
        return {}
    desired = load_desired(ctx, path)
    own: OwnMappings = {}
    for source in desired.sources:
        for decl in source.collections:
            if decl.path_mappings:
                key = decl.external_id if decl.external_id is not None else decl.name
                own[(source.name.casefold(), key or "")] = decl.path_mappings
    return own


def _work_collections(engine, registry, own: OwnMappings) -> list[WorkCollection]:
    """Every collection with an enricher attached, as this machine sees it."""
    from retrovue.importers.pathmap import remapper
    from retrovue.observe.db import load_snapshot, read_transaction

    with read_transaction(engine) as conn:
        snapshot = load_snapshot(conn)
    found = []
    for source in snapshot.sources:
        for col in source.collections:
            specs = source.enrichers_of(col)
            if not specs:
                continue
            mine = own.get((source.name.casefold(), col.external_id)) or own.get(
                (source.name.casefold(), col.name), ()
            )
            found.append(
                WorkCollection(
                    col.id,
                    f"{source.name}/{col.name}",
                    specs,
                    tuple(s for s in specs if registry.available(s.type)),
                    remapper(col.path_mappings, mine),
                )
            )
    return found
