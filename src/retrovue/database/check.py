"""Does the live schema match this retrovue's models?  Alembic's own comparison decides.

A schema revision says which migrations ran, not what the tables look like now: a column dropped
by hand, or a table changed by another tool, would otherwise only show up as failing writes.
Tables the models do not name are left out: other software may share the database.

Before a write the comparison is skipped when the schema is exactly one it already passed: the
catalogue's own description of every table, column, constraint and index (one query) is digested
with the models' DDL, and the digest of the last schema that matched is kept in ``settings``.
Any change of shape (a column dropped by hand, an index removed, a migration, another retrovue's
models) gives another digest, and Alembic compares again.  That saves each write command ~70 ms
of importing Alembic and 20–150 ms of comparing.  ``retrovue db check`` always compares.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable

from retrovue.database.engine import DatabaseTarget, NoDatabase, database_errors, open_existing
from retrovue.database.revision import HEAD_REVISION, current_revision
from retrovue.database.tables import Setting, metadata
from retrovue.errors import DatabaseError, SchemaMismatchError

#: the settings row holding the digest of the last schema that matched the models
VERIFIED_NAME = "schema_verified"

#: every table, column (type, nullability, default), constraint and index of the current schema,
#: as the catalogue describes them; the statement per backend, the rows are digested in order
_SHAPE_QUERIES = {
    "sqlite": "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
    "postgresql": """
        SELECT 'column', c.relname, a.attname,
               format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
               || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped
        UNION ALL
        SELECT 'constraint', c.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema()
        UNION ALL
        SELECT 'index', tablename, indexname, indexdef
        FROM pg_indexes WHERE schemaname = current_schema()
        ORDER BY 1, 2, 3
    """,
}

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
    """Refuse to write to a database whose schema is not the models' (raises SchemaMismatchError).
    A schema that matched before and has not changed since is not compared again."""
    with engine.connect() as conn:
        digest = shape_digest(conn)
        if digest is not None and _verified_digest(conn) == digest:
            return
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
    if digest is not None:
        _remember_verified(engine, digest)


def differences(conn: Connection) -> tuple[Difference, ...]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

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


def shape_digest(conn: Connection) -> str | None:
    """A digest of the live schema's shape and of the models' DDL for this backend (None: a
    backend without a shape query, always compared)."""
    query = _SHAPE_QUERIES.get(conn.dialect.name)
    if query is None:
        return None
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=conn.dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=conn.dialect)).encode())
    for row in conn.exec_driver_sql(query):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _verified_digest(conn: Connection) -> str | None:
    query = select(Setting.c.value).where(Setting.c.name == VERIFIED_NAME)
    return conn.execute(query).scalar_one_or_none()


def _remember_verified(engine: Engine, digest: str) -> None:
    """Kept for the next write command.  Best effort: a database that refuses this write (read
    only, locked) is compared again next time, and the command's own writes meet the refusal
    with their own error."""
    try:
        with engine.begin() as conn:
            _store_verified(conn, digest)
    except DBAPIError:
        pass


def remember_if_matching(conn: Connection) -> None:
    """After a migration, in its transaction: the schema it made, compared now while Alembic is
    loaded anyway, so the first write after ``db upgrade`` need not compare it again."""
    digest = shape_digest(conn)
    if digest is not None and not differences(conn):
        _store_verified(conn, digest)


def _store_verified(conn: Connection, digest: str) -> None:
    conn.execute(delete(Setting).where(Setting.c.name == VERIFIED_NAME))
    conn.execute(insert(Setting).values(name=VERIFIED_NAME, value=digest))
