"""What `retrovue db upgrade | current | check` print about the selected database's schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrovue.app.admin import Revisions

#: what `db current` says about each schema status
_STANDING = {
    "current": "up to date",
    "behind": "out of date: run `retrovue db upgrade`",
    "newer": "made by a newer retrovue: use that version",
    "foreign": "tables but no retrovue revision: not a retrovue database",
    "empty": "empty: created and migrated on first use",
    "missing": "does not exist yet: created and migrated on first use",
}


def upgrade_document(r: Revisions) -> dict[str, Any]:
    return {"status": "ok", "database": r.database, "from": r.before, "to": r.after}


def upgrade_text(r: Revisions) -> str:
    return f"Database {r.database}: {r.before or '(empty)'} -> {r.after}\n"


def current_document(r: Revisions) -> dict[str, Any]:
    return {
        "status": "ok",
        "database": r.database,
        "current": r.before,
        "head": r.head,
        "up_to_date": r.status == "current",
        "schema": r.status,
    }


def current_text(r: Revisions) -> str:
    return (
        f"Database {r.database}: revision {r.before or '(none)'}, head {r.head} "
        f"({_STANDING[r.status]})\n"
    )


# `db check` hands over a ``database.check.SchemaCheck``: render/ does not import database/


def check_document(result) -> dict[str, Any]:
    return {
        "status": "ok" if result.matches else "mismatch",
        "database": result.database,
        "revision": result.revision,
        "head": result.head,
        "matches": result.matches,
        "differences": [d.to_json() for d in result.differences],
    }


def matching_text(result) -> str:
    return f"Database {result.database}: the schema matches this retrovue's models.\n"


def difference_lines(result) -> list[str]:
    count = len(result.differences)
    head = (
        f"Database {result.database}: {count} difference{'s' if count != 1 else ''} "
        "from this retrovue's models:"
    )
    return [head] + [f"  {d.message}" for d in result.differences]
