"""Use cases that look after the database itself: migrations and the apply lock."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.errors import NotFoundError
from retrovue.model.locks import LockScope


@dataclass(frozen=True)
class Revisions:
    database: str  # the URL with any password redacted
    before: str | None
    after: str | None
    head: str
    #: where it stands: "current", "behind", "newer" (made by a newer retrovue), "foreign"
    #: (tables but no revision), "empty" or "missing" (no database yet)
    status: str = "current"


def upgrade(ctx: Context) -> Revisions:
    """Migrate the selected database to the newest schema revision, in one transaction.  A
    database made by a newer retrovue is refused before anything runs."""
    from retrovue.database.engine import migrate_database
    from retrovue.database.revision import HEAD_REVISION

    before, after = migrate_database(ctx.target)
    return Revisions(ctx.target.display_url, before.revision, after.revision, HEAD_REVISION)


def current(ctx: Context) -> Revisions:
    """Where the selected database's schema stands, without creating or migrating it."""
    from retrovue.database.engine import NoDatabase, read_schema_state
    from retrovue.database.revision import HEAD_REVISION

    state = read_schema_state(ctx.target)
    if isinstance(state, NoDatabase):
        return Revisions(ctx.target.display_url, None, None, HEAD_REVISION, "missing")
    return Revisions(
        ctx.target.display_url,
        state.revision,
        state.revision,
        HEAD_REVISION,
        state.status.value,
    )


def check(ctx: Context):
    """How the live schema differs from this retrovue's models (empty: it matches)."""
    from retrovue.database.check import check_schema

    return check_schema(ctx.target)


def show_lock(ctx: Context):
    """The whole-database lock (None: free)."""
    from retrovue.execute.lock import show_lock

    return show_lock(ctx.engine)


def list_locks(ctx: Context):
    """Every lock held or left behind: the whole database's, then each source's."""
    from retrovue.execute.lock import list_locks

    return list_locks(ctx.engine)


def release_lock(ctx: Context, force: bool, scope: LockScope | None = None):
    """Release the lock on ``scope`` (None: the whole database's); see ``lock_scope``."""
    from retrovue.execute.lock import release_lock

    return release_lock(ctx.engine, force=force, scope=scope or LockScope.database())


def lock_scope(ctx: Context, source: str | None) -> LockScope:
    """The scope a selector names: a stored source, else the id of a source whose lock outlived
    it (deleted since); None: the whole database."""
    if source is None:
        return LockScope.database()
    from retrovue.app.selectors import as_uuid, resolve_source

    try:
        found = resolve_source(ctx.snapshot(), source)
    except NotFoundError:
        wanted = as_uuid(source)
        orphan = next((i.scope for i in list_locks(ctx) if i.scope.source_id == wanted), None)
        if wanted is None or orphan is None:
            raise
        return orphan
    return LockScope.source(found.id, found.name)
