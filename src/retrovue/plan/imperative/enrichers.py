"""Plans for attaching and detaching enrichers (issue 11): `source attach-enricher|detach-enricher`
and `collection update --add-enricher|--remove-enricher`.

Each builds one ``SetEnrichers`` naming the owner's whole list after the change (the executor
makes the stored attachments exactly that), or no action at all when nothing would change, so a
repeated attach writes nothing.  Pure: the caller resolved the owner and checked the type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from retrovue.errors import NotFoundError
from retrovue.model.actions import CollectionAddress, SetEnrichers, SourceAddress
from retrovue.model.enrichment import EnricherSpec, run_order


@dataclass(frozen=True)
class AttachmentChange:
    """What attaching or detaching one type does to one owner's list."""

    owner: str  # `source 'Library'` / `collection 'Shows'`, for the messages
    operation: str  # "attach" | "detach"
    type: str
    before: tuple[EnricherSpec, ...]
    after: tuple[EnricherSpec, ...]
    action: SetEnrichers | None
    #: why nothing changes (an attach of what is already attached); None when something does
    noop_message: str | None = None

    @property
    def operation_name(self) -> str:
        """As `collection update`'s ``operation`` list names it."""
        return "add-enricher" if self.operation == "attach" else "remove-enricher"

    @property
    def updated(self) -> bool:
        return self.action is not None

    @property
    def spec(self) -> EnricherSpec | None:
        """The attachment of ``type`` after an attach, before a detach."""
        pool = self.after if self.operation == "attach" else self.before
        return next((s for s in pool if s.type == self.type), None)

    def change_line(self) -> str | None:
        """`enricher ffprobe: attached (priority 0)` and the like; None when nothing changes."""
        if self.action is None:
            return None
        if self.operation == "detach":
            return f"enricher {self.type}: detached"
        old = next((s for s in self.before if s.type == self.type), None)
        new = self.spec
        if old is None:
            return f"enricher {self.type}: attached (priority {new.priority})"
        return f"enricher {self.type}: priority {old.priority} -> {new.priority}"


def plan_attach(
    owner: str,
    source: SourceAddress,
    collection: CollectionAddress | None,
    before: tuple[EnricherSpec, ...],
    type_id: str,
    priority: int,
) -> AttachmentChange:
    """Attach ``type_id`` with ``priority``; an attached one keeps its params and gets the new
    priority; the same priority again changes nothing."""
    old = next((s for s in before if s.type == type_id), None)
    if old is not None and old.priority == priority:
        return AttachmentChange(
            owner,
            "attach",
            type_id,
            before,
            before,
            None,
            f"Enricher '{type_id}' is already attached to {owner} (priority {priority}); "
            "nothing changed",
        )
    spec = (
        dataclasses.replace(old, priority=priority)
        if old is not None
        else EnricherSpec(type_id, priority)
    )
    after = run_order([s for s in before if s.type != type_id] + [spec])
    return AttachmentChange(
        owner,
        "attach",
        type_id,
        before,
        after,
        SetEnrichers(source, before, after, collection),
    )


def plan_detach(
    owner: str,
    source: SourceAddress,
    collection: CollectionAddress | None,
    before: tuple[EnricherSpec, ...],
    type_id: str,
    elsewhere: str | None = None,
) -> AttachmentChange:
    """Detach ``type_id``; one that is not attached here is an error naming what is
    (``elsewhere``: where else it is attached, e.g. the source of a collection)."""
    if not any(s.type == type_id for s in before):
        attached = ", ".join(s.type for s in before) or "none"
        hint = f"attached to {owner}: {attached}"
        if elsewhere:
            hint += f"; '{type_id}' is attached to {elsewhere}"
        raise NotFoundError(f"Enricher '{type_id}' is not attached to {owner}", hint=hint)
    after = tuple(s for s in before if s.type != type_id)
    return AttachmentChange(
        owner,
        "detach",
        type_id,
        before,
        after,
        SetEnrichers(source, before, after, collection),
    )
