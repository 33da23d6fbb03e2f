"""The one selector resolver: UUID id, then exact external_id, then casefolded name.

The first step that yields rows decides.  Matching is literal (no wildcards).  Works on a
``DbSnapshot`` so a command resolves and reads from the same snapshot, so what is shown is
what was resolved.

Collections also take the address the plan prints, ``SOURCE/COLLECTION`` (``"Home NAS"/"Movies"``
quoted, or bare), tried right after the UUID.  An external_id or name matching collections of
several sources is ambiguous: external_ids are only unique within a source, so picking one
source's collection silently would act on the wrong catalogue.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from retrovue.errors import AmbiguousSelectorError, NotFoundError, UsageError
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource

T = TypeVar("T")


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


def _pick(items: Sequence[T], selector: str, id_of, external_id_of, name_of) -> list[T]:
    wanted = as_uuid(selector)
    if wanted is not None:
        hits = [i for i in items if id_of(i) == wanted]
        if hits:
            return hits
    hits = [i for i in items if external_id_of(i) == selector]
    if hits:
        return hits
    folded = selector.casefold()
    return [i for i in items if name_of(i).casefold() == folded]


def decide(
    hits: list[T],
    selector: str,
    noun: str,
    describe: Callable[[T], tuple[str, str, str, str]],
    address_of: Callable[[T], str] | None = None,
) -> T:
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NotFoundError(f"{noun.capitalize()} '{selector}' not found")
    rows = sorted(describe(h) + ((address_of(h),) if address_of else ("",)) for h in hits)
    raise AmbiguousSelectorError(
        f"Multiple {noun}s match '{selector}'. Please specify the UUID.",
        hint="\n  ".join(f"{i}  {n}  ({e}, {w}){f'  {a}' if a else ''}" for i, n, e, w, a in rows),
        context={"candidates": [{"id": i, "name": n, "external_id": e} for i, n, e, *_ in rows]},
    )


def resolve_source(snapshot: DbSnapshot, selector: str) -> DbSource:
    if not selector or not selector.strip():
        raise UsageError("Invalid source ID format. Expected UUID, external ID, or source name.")
    hits = _pick(
        snapshot.sources,
        selector,
        lambda s: s.id,
        lambda s: s.external_id,
        lambda s: s.name,
    )
    return decide(hits, selector, "source", lambda s: (str(s.id), s.name, s.external_id, s.type))


def address(source: DbSource, collection: DbCollection) -> str:
    """A collection's address as the plan prints it."""
    return f'"{source.name}"/"{collection.name}"'


_QUOTED = re.compile(r'^"(?P<source>.*)"/"(?P<collection>.*)"$')


def _address_splits(selector: str) -> list[tuple[str, str]]:
    """Every (source, collection) reading of ``selector``: the quoted form is exact; a bare one
    may split at any ``/`` since upstream names may hold one."""
    quoted = _QUOTED.match(selector)
    if quoted:
        return [(quoted["source"], quoted["collection"])]
    return [(selector[:i], selector[i + 1 :]) for i, ch in enumerate(selector) if ch == "/" and i]


def _by_address(snapshot: DbSnapshot, selector: str) -> list[tuple[DbSource, DbCollection]]:
    hits = []
    for source_text, collection_text in _address_splits(selector):
        folded = source_text.casefold()
        for s in snapshot.sources:
            if s.external_id != source_text and s.name.casefold() != folded:
                continue
            own = _pick(
                [(s, c) for c in s.collections],
                collection_text,
                lambda p: p[1].id,
                lambda p: p[1].external_id,
                lambda p: p[1].name,
            )
            hits.extend(h for h in own if h not in hits)
    return hits


def _by_id_or_name(pairs, selector: str) -> list[tuple[DbSource, DbCollection]]:
    """External_id before name within a source, but a name matching a collection of another
    source joins the candidates instead of losing to the external_id silently."""
    hits = [p for p in pairs if p[1].external_id == selector]
    folded = selector.casefold()
    sources = {p[0].id for p in hits}
    hits += [p for p in pairs if p[1].name.casefold() == folded and p[0].id not in sources]
    return hits


def resolve_collection(snapshot: DbSnapshot, selector: str) -> tuple[DbSource, DbCollection]:
    if not selector or not selector.strip():
        raise UsageError(
            "Invalid collection ID format. Expected UUID, external ID, or collection name."
        )
    pairs = [(s, c) for s in snapshot.sources for c in s.collections]
    wanted = as_uuid(selector)
    hits = [p for p in pairs if p[1].id == wanted] if wanted is not None else []
    hits = hits or _by_address(snapshot, selector) or _by_id_or_name(pairs, selector)
    # each candidate's hint line ends with its address, a selector that picks that one
    return decide(
        hits,
        selector,
        "collection",
        lambda p: (str(p[1].id), p[1].name, p[1].external_id, p[0].name),
        lambda p: address(*p),
    )


def stored_source_type(ctx, selector: str) -> str | None:
    """The type of the stored source ``selector`` names, read without creating a database (for
    help text); None when there is no database yet."""
    from retrovue.database.engine import NoDatabase
    from retrovue.observe.db import load_snapshot, read_transaction

    engine = ctx.reading_engine
    if isinstance(engine, NoDatabase):
        return None
    with read_transaction(engine) as conn:
        return resolve_source(load_snapshot(conn), selector).type


def resolve_asset(conn, selector: str):
    """The asset row: UUID id, then exact source_uri, then exact canonical_uri."""
    from retrovue.observe.catalog import find_asset

    return find_asset(conn, selector, decide)
