"""Use cases that look after the database itself: migrations, the apply lock and export."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.errors import NotFoundError


@dataclass(frozen=True)
class Revisions:
    database: str  # the URL with any password redacted
    before: str | None
    after: str | None
    head: str


def upgrade(ctx: Context) -> Revisions:
    """Migrate the selected database to the newest schema revision."""
    from retrovue.database import migrate
    from retrovue.database.engine import database_errors, make_engine

    engine = make_engine(ctx.target.url)
    try:
        with database_errors(ctx.target), engine.begin() as conn:
            before = migrate.current_revision(conn)
            migrate.upgrade(conn)
            after = migrate.current_revision(conn)
    finally:
        engine.dispose()
    return Revisions(ctx.target.display_url, before, after, migrate.head_revision())


def current(ctx: Context) -> Revisions:
    """Where the selected database's schema stands, without migrating it."""
    from retrovue.database import migrate
    from retrovue.database.engine import database_errors, make_engine

    engine = make_engine(ctx.target.url)
    try:
        with database_errors(ctx.target), engine.connect() as conn:
            revision = migrate.current_revision(conn)
    finally:
        engine.dispose()
    return Revisions(ctx.target.display_url, revision, revision, migrate.head_revision())


def show_lock(ctx: Context):
    from retrovue.execute.lock import show_lock

    return show_lock(ctx.engine)


def release_lock(ctx: Context, force: bool):
    from retrovue.execute.lock import release_lock

    return release_lock(ctx.engine, force=force)


def export(ctx: Context, sources: tuple[str, ...]):
    """The retrovue.yaml that pins the stored state of these sources (all when none named)."""
    from retrovue.render.export import export_yaml

    snapshot = ctx.snapshot()
    known = {s.name.casefold() for s in snapshot.sources}
    unknown = [n for n in sources if n.casefold() not in known]
    if unknown:
        raise NotFoundError(
            f"no stored source named {', '.join(repr(n) for n in unknown)}",
            hint="see `retrovue source list`",
        )
    return export_yaml(snapshot, ctx.registry, tuple(sources))
