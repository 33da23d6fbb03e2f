"""What a writer locks: the whole database, or one source.

A whole-database holder excludes every source holder and each source holder excludes it;
holders of two different sources work side by side, two holders of one source do not.  Every
command takes the whole database today; a ``watch`` loop or a parallel applier takes sources.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


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
