"""Names for shell completion: the stored sources and collections, read without side effects.

Completion runs on every Tab press, so it must never create, migrate or write a database (a
mistyped ``--db`` would otherwise leave a file behind), and never fail loudly: any problem
completes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from retrovue.app.context import Context
from retrovue.model.snapshots import DbSnapshot

log = logging.getLogger(__name__)


def _stored(ctx: Context) -> DbSnapshot | None:
    from retrovue.database.engine import NoDatabase
    from retrovue.observe.db import load_snapshot, read_transaction

    engine = ctx.reading_engine  # an existing database only: creates and migrates nothing
    if isinstance(engine, NoDatabase):
        return None
    with read_transaction(engine) as conn:
        return load_snapshot(conn)


def _matching(names: Iterable[str], incomplete: str) -> list[str]:
    wanted = incomplete.casefold()  # names are matched casefolded, so completion is too
    return sorted({n for n in names if n.casefold().startswith(wanted)})


def source_names(ctx: Context, incomplete: str = "") -> list[str]:
    try:
        snapshot = _stored(ctx)
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
        log.debug("source completion failed", exc_info=True)
        return []
    if snapshot is None:
        return []
    return _matching((s.name for s in snapshot.sources), incomplete)


def collection_names(ctx: Context, incomplete: str = "") -> list[str]:
    """Collection names, and their ``SOURCE/COLLECTION`` addresses once a ``/`` is typed."""
    try:
        snapshot = _stored(ctx)
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
        log.debug("collection completion failed", exc_info=True)
        return []
    if snapshot is None:
        return []
    if "/" in incomplete:
        names = (f"{s.name}/{c.name}" for s in snapshot.sources for c in s.collections)
    else:
        names = (c.name for s in snapshot.sources for c in s.collections)
    return _matching(names, incomplete)


def enricher_types(incomplete: str = "") -> list[str]:
    """The registered enricher types (no database needed)."""
    from retrovue.enrichers.registry import load_registry

    try:
        registry = load_registry()
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
        log.debug("enricher completion failed", exc_info=True)
        return []
    return _matching(registry.types(), incomplete)
