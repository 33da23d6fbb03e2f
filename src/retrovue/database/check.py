"""Does the live schema match this retrovue's models?  Alembic's own comparison decides.

A schema revision says which migrations ran, not what the tables look like now: a column dropped
by hand, or a table changed by another tool, would otherwise only show up as failing writes.
Tables the models do not name are left out: other software may share the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine

from retrovue.database.engine import DatabaseTarget, NoDatabase, database_errors, open_existing
from retrovue.database.models import metadata
from retrovue.database.revision import HEAD_REVISION, current_revision
from retrovue.errors import DatabaseError, SchemaMismatchError

#: how many differences an error message names before it points at `retrovue db check`
SHOWN_IN_ERRORS = 3


@dataclass(frozen=True)
class Difference:
    kind: str  # Alembic's operation name, e.g. "add_column" (the database lacks the column)
    table: str | None
    message: str
    column: str | None = None

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "table": self.table,
            "column": self.column,
            "message": self.message,
        }


@dataclass(frozen=True)
class SchemaCheck:
    database: str  # the URL with any password redacted
    revision: str | None
    head: str
    differences: tuple[Difference, ...]

    @property
    def matches(self) -> bool:
        return not self.differences


def check_schema(target: DatabaseTarget) -> SchemaCheck:
    """Compare an existing database with the models (reading only; nothing is created)."""
    engine = open_existing(target)
    if isinstance(engine, NoDatabase):
        raise DatabaseError(f"nothing to check: database {engine.database} {engine.state}")
    try:
        with database_errors(target), engine.connect() as conn:
            revision = current_revision(conn)
            found = differences(conn)
    finally:
        engine.dispose()
    return SchemaCheck(target.display_url, revision, HEAD_REVISION, found)


def require_matching_schema(engine: Engine, display_url: str) -> None:
    """Refuse to write to a database whose schema is not the models' (raises SchemaMismatchError)."""
    with engine.connect() as conn:
        found = differences(conn)
    if found:
        shown = "; ".join(d.message for d in found[:SHOWN_IN_ERRORS])
        more = len(found) - SHOWN_IN_ERRORS
        raise SchemaMismatchError(
            f"Database {display_url} does not have the schema this retrovue writes: {shown}"
            + (f" (and {more} more)" if more > 0 else ""),
            hint="see `retrovue db check`; nothing was written",
            context={"differences": [d.to_json() for d in found]},
        )


def differences(conn: Connection) -> tuple[Difference, ...]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _ours})
    found: list[Difference] = []
    for entry in compare_metadata(context, metadata):
        # column modifications come grouped per column as a list of operations
        for op in entry if isinstance(entry, list) else [entry]:
            found.append(_describe(op))
    return tuple(found)


def _ours(name: str | None, type_: str, _parent) -> bool:
    return type_ != "table" or name in metadata.tables


def _describe(op: tuple) -> Difference:
    kind = op[0]
    if kind in ("add_table", "remove_table"):
        table = op[1].name
        return Difference(kind, table, f"table {table} {_presence(kind)}")
    if kind in ("add_column", "remove_column"):
        table, column = op[2], op[3].name
        return Difference(kind, table, f"column {table}.{column} {_presence(kind)}", column)
    if kind in ("modify_type", "modify_nullable", "modify_default"):
        table, column, found, expected = op[2], op[3], op[5], op[6]
        what = {"modify_type": "type ", "modify_nullable": "", "modify_default": "default "}[kind]
        return Difference(
            kind,
            table,
            f"column {table}.{column} is {what}{_shown(found)}, "
            f"the models declare {what}{_shown(expected)}",
            column,
        )
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        item = op[1]
        table = item.table.name if item.table is not None else None
        noun = "index" if kind.endswith("index") else "constraint"
        return Difference(kind, table, f"{noun} {item.name} on {table} {_presence(kind)}")
    if kind in ("add_fk", "remove_fk"):
        fk = op[1]
        table = fk.parent.name
        return Difference(kind, table, f"foreign key {fk.name} on {table} {_presence(kind)}")
    return Difference(kind, None, f"{kind.replace('_', ' ')}: {op[1:]!r}")


def _presence(kind: str) -> str:
    # Alembic names what would make the database match the models: "add" means it lacks it
    return "is missing" if kind.startswith("add") else "is not in this retrovue's models"


def _shown(value) -> str:
    if isinstance(value, bool):
        return "nullable" if value else "NOT NULL"
    return str(value)
