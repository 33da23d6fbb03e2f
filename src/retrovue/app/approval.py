"""Approve assets for broadcast, or withdraw approval: one or many at once, through the one
executor under the apply lock (one ``SetApproval`` per collection, each in its source's unit).

Approving is an operator's act: only ``ready`` assets may be approved (checked again inside the
unit), and an id that names no asset, or an asset outside the collection the caller scoped the
request to, is refused before anything is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_collection
from retrovue.errors import NotFoundError, UsageError
from retrovue.model.actions import Plan, SetApproval
from retrovue.observe.activity import collections_of_assets
from retrovue.observe.db import load_snapshot
from retrovue.plan.imperative import collection_address

#: ids in one request: one IN (...) list per collection stays well within every backend's limit
MAX_ASSETS = 1_000


@dataclass(frozen=True)
class Approval:
    approved: bool
    asset_ids: tuple[uuid.UUID, ...]
    collections: int


def set_approval(
    ctx: Context, asset_ids: list[str], approved: bool, *, collection: str | None = None
) -> Approval:
    """``collection``: a collection selector the ids must all belong to (None: any)."""
    ids = list(dict.fromkeys(_as_ids(asset_ids)))
    if not ids:
        raise UsageError("No asset given: name at least one asset id")
    if len(ids) > MAX_ASSETS:
        raise UsageError(f"At most {MAX_ASSETS:,} assets at once ({len(ids):,} given)")
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        owners = collections_of_assets(conn, ids)
    ctx.learn_secrets(snapshot)
    scoped = resolve_collection(snapshot, collection)[1].id if collection is not None else None
    absent = [i for i in ids if i not in owners or scoped not in (None, owners[i])]
    if absent:
        where = f" in collection '{collection}'" if scoped is not None else ""
        raise NotFoundError(
            f"Asset '{absent[0]}' not found{where}",
            context={"asset_ids": [str(i) for i in absent]},
        )
    by_collection: dict[uuid.UUID, list[uuid.UUID]] = {}
    for i in ids:
        by_collection.setdefault(owners[i], []).append(i)
    pairs = {c.id: (s, c) for s in snapshot.sources for c in s.collections}
    actions = tuple(
        SetApproval(collection_address(*pairs[cid]), tuple(members), approved)
        for cid, members in by_collection.items()
    )
    verb = "approve" if approved else "unapprove"
    ctx.commit_source_changes(Plan(actions), f"asset {verb}")
    return Approval(approved, tuple(ids), len(actions))


def _as_ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value).strip()))
        except ValueError:
            raise UsageError(f"Invalid asset id {str(value)[:80]!r}: expected a UUID") from None
    return ids
