"""The counts vocabulary of an ingest: what a diff found and what a run wrote."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestCounts:
    discovered: int = 0
    new: int = 0
    changed: int = 0
    remapped: int = 0
    unchanged: int = 0
    missing: int = 0
    reappeared: int = 0
    duplicates: int = 0
    unmapped: int = 0
    missing_suppressed: int = 0
    unusable: int = 0  # listed upstream but not storable (e.g. a name that is not UTF-8)

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.changed or self.remapped or self.missing or self.reappeared)


def sum_counts(items: list[IngestCounts]) -> IngestCounts:
    names = IngestCounts.__dataclass_fields__
    return IngestCounts(**{name: sum(getattr(c, name) for c in items) for name in names})
