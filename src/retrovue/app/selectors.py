"""The one selector resolver: UUID id, then exact external_id, then casefolded name.

The first step that yields rows decides.  Matching is literal (no wildcards).  Works on a
``DbSnapshot`` so a command resolves and reads from the same snapshot (CDG G-7).
"""

from __future__ import annotations

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
) -> T:
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NotFoundError(f"{noun.capitalize()} '{selector}' not found")
    rows = sorted(describe(h) for h in hits)
    raise AmbiguousSelectorError(
        f"Multiple {noun}s match '{selector}'. Please specify the UUID.",
        hint="\n  ".join(f"{i}  {n}  ({e}, {w})" for i, n, e, w in rows),
        context={"candidates": [{"id": i, "name": n, "external_id": e} for i, n, e, _ in rows]},
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


def resolve_collection(snapshot: DbSnapshot, selector: str) -> tuple[DbSource, DbCollection]:
    if not selector or not selector.strip():
        raise UsageError(
            "Invalid collection ID format. Expected UUID, external ID, or collection name."
        )
    pairs = [(s, c) for s in snapshot.sources for c in s.collections]
    hits = _pick(
        pairs,
        selector,
        lambda p: p[1].id,
        lambda p: p[1].external_id,
        lambda p: p[1].name,
    )
    return decide(
        hits,
        selector,
        "collection",
        lambda p: (str(p[1].id), p[1].name, p[1].external_id, p[0].name),
    )


def resolve_asset(conn, selector: str):
    """The asset row: UUID id, then exact source_uri, then exact canonical_uri."""
    from retrovue.observe.catalog import find_asset

    return find_asset(conn, selector, decide)
