"""What a writer locks: the whole database, or one source.

A whole-database holder excludes every source holder and each source holder excludes it;
holders of two different sources work side by side, two holders of one source do not.  A writer
takes the sources it writes (``scopes_of``); creating a source, pruning and migrating take the
whole database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from retrovue.model.actions import CreateSource, PruneSource, source_of


@dataclass(frozen=True)
class LockScope:
    #: None: the whole database
    source_id: uuid.UUID | None = None
    #: for messages only: the lock is on the id, so renaming the source does not move it
    source_name: str | None = field(default=None, compare=False)

    @classmethod
    def database(cls) -> LockScope:
        return cls()

    @classmethod
    def source(cls, source_id: uuid.UUID, name: str | None = None) -> LockScope:
        return cls(source_id, name)

    @property
    def is_database(self) -> bool:
        return self.source_id is None

    @property
    def kind(self) -> str:
        return "database" if self.is_database else "source"

    def excludes(self, other: LockScope) -> bool:
        """Whether holders of the two scopes cannot both hold at once."""
        return self.is_database or other.is_database or self.source_id == other.source_id

    def __str__(self) -> str:
        if self.is_database:
            return "the whole database"
        return f'source "{self.source_name or self.source_id}"'


def scopes_of(actions: Iterable[Any]) -> frozenset[LockScope]:
    """What a writer running these plan actions must hold: each source they change; the whole
    database when one creates a source (it has no id to lock yet, and its name and external_id
    are unique across sources) or deletes one the config no longer declares (prune)."""
    scopes: set[LockScope] = set()
    for action in actions:
        if isinstance(action, PruneSource) and not action.will_delete:
            continue  # shown, kept: nothing written
        source = source_of(action)
        if isinstance(action, CreateSource | PruneSource) or source.id is None:
            return frozenset({LockScope.database()})
        scopes.add(LockScope.source(source.id, source.name))
    return frozenset(scopes)


def covers(held: Iterable[LockScope], needed: Iterable[LockScope]) -> bool:
    """Whether holding ``held`` lets a writer write everything ``needed`` names."""
    held = set(held)
    if any(s.is_database for s in held):
        return True
    return all(not s.is_database and s in held for s in needed)
