"""Names for shell completion (and the help's stored source type): the stored sources and
collections, read without side effects.

Completion runs on every Tab press, so it must never create, migrate or write a database (a
mistyped ``--db`` would otherwise leave a file behind), and never fail loudly: any problem
completes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

from retrovue.app.context import Context
from retrovue.app.selectors import address, as_uuid, resolve_collection
from retrovue.errors import RetrovueError
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource

log = logging.getLogger(__name__)

T = TypeVar("T")


def read_quietly(test_db: bool, db_url: str | None, read: Callable[[Context], T], default: T) -> T:
    """``read`` on a context of its own, for a Tab press or a --help: ``default`` when anything
    fails (a bad --db on the line), since neither may print an error."""
    ctx = Context(test_db=test_db, db_url=db_url)
    try:
        return read(ctx)
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
        log.debug("reading for completion or help failed", exc_info=True)
        return default
    finally:
        ctx.close()


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
    try:
        snapshot = _stored(ctx)
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback
        log.debug("collection completion failed", exc_info=True)
        return []
    return [] if snapshot is None else collection_selectors(snapshot, incomplete)


def collection_selectors(snapshot: DbSnapshot, incomplete: str = "") -> list[str]:
    """Selectors of the collections whose name, or once a ``/`` is typed whose
    ``SOURCE/COLLECTION`` address, starts with what was typed.  Each is the shortest spelling
    that picks its collection alone, so a completed line never fails as ambiguous."""
    by_address = "/" in incomplete
    wanted = incomplete.casefold()  # names are matched casefolded, so completion is too
    alone = set() if by_address else _alone_by_name(snapshot)
    selectors = set()
    for source in snapshot.sources:
        for collection in source.collections:
            typed = f"{source.name}/{collection.name}" if by_address else collection.name
            if typed.casefold().startswith(wanted):
                selectors.add(_selector(snapshot, source, collection, by_address, alone))
    return sorted(selectors - {None})


def _alone_by_name(snapshot: DbSnapshot) -> set[uuid.UUID]:
    """Ids of the collections the resolver can only read their bare name as: no ``/`` (no
    address reading), not a UUID or blank, and no other collection with that name (casefolded)
    or external_id.  Found in one pass, so a long list is not resolved once per collection."""
    pairs = [(s, c) for s in snapshot.sources for c in s.collections]
    names = Counter(c.name.casefold() for _, c in pairs)
    external_ids = Counter(c.external_id for _, c in pairs)
    return {
        c.id
        for _, c in pairs
        if "/" not in c.name
        and c.name.strip()
        and as_uuid(c.name) is None
        and names[c.name.casefold()] == 1
        and external_ids[c.name] == (c.external_id == c.name)
    }


def _selector(
    snapshot: DbSnapshot,
    source: DbSource,
    collection: DbCollection,
    by_address: bool,
    alone: set[uuid.UUID],
) -> str | None:
    """The name, else the bare address, else the quoted one: the first the resolver reads as
    this collection (a name several sources hold needs its address).  None when no spelling
    picks it alone (two collections of one name in one source): only its UUID would."""
    if collection.id in alone:
        return collection.name
    spellings = [] if by_address else [collection.name]
    spellings += [f"{source.name}/{collection.name}", address(source, collection)]
    return next((s for s in spellings if _picks(snapshot, s, collection)), None)


def _picks(snapshot: DbSnapshot, selector: str, collection: DbCollection) -> bool:
    try:
        return resolve_collection(snapshot, selector)[1].id == collection.id
    except RetrovueError:  # not found, or ambiguous
        return False


def enricher_types(incomplete: str = "") -> list[str]:
    """The registered enricher types (no database needed)."""
    from retrovue.enrichers.registry import load_registry

    try:
        return _matching(load_registry().types(), incomplete)
    except Exception:  # noqa: BLE001 - a Tab press must never print a traceback (a broken plugin)
        log.debug("enricher completion failed", exc_info=True)
        return []
