"""`retrovue collection ingest` (contracts §12): one collection, full or narrowed, one unit."""

from __future__ import annotations

import click

import retrovue.errors as _errors_module
from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.collection import collection
from retrovue.cli.imperative.ingest_common import ingest_document
from retrovue.cli.imperative.queries import collection_times
from retrovue.cli.imperative.selectors import resolve_collection
from retrovue.cli.options import INTERRUPTED, Exit, common_options
from retrovue.errors import (
    NotIngestibleError,
    NotSyncEnabledError,
    RetrovueError,
    ScopeNotFoundError,
    UsageError,
)
from retrovue.execute.executor import Executor
from retrovue.model.actions import Plan
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build
from retrovue.render.imperative import ingest_header, ingest_lines
from retrovue.render.progress import progress_factory


def _non_negative(flag: str):
    def convert(_ctx, _param, value):
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise click.BadParameter(
                f"{flag} must be a non-negative integer", param_hint=flag
            ) from None
        if number < 0:
            raise click.BadParameter(f"{flag} must be a non-negative integer", param_hint=flag)
        return number

    return convert


@collection.command("ingest")
@click.argument("selector", metavar="COLLECTION")
@click.option("--title", help="Only this series/movie title (exact, case-insensitive).")
@click.option(
    "--season",
    callback=_non_negative("--season"),
    help="Only this season (needs --title).",
)
@click.option(
    "--episode",
    callback=_non_negative("--episode"),
    help="Only this episode (needs --season).",
)
@click.option(
    "--allow-mass-missing",
    is_flag=True,
    help="Mark assets missing even above the threshold.",
)
@click.option("--verbose-assets", is_flag=True, help="List created and updated assets in JSON.")
@c.dry_run_option
@common_options
def ingest(
    app: AppContext,
    selector,
    title,
    season,
    episode,
    allow_mass_missing,
    verbose_assets,
    dry_run,
) -> None:
    """Ingest one collection (or a title/season/episode of it)."""
    if season is not None and title is None:  # CI B-3
        raise UsageError("--season requires --title")
    if episode is not None and season is None:  # CI B-4
        raise UsageError("--episode requires --season")
    if title is not None and not title.strip():  # CI N-10
        raise UsageError("--title must not be empty")
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        times = collection_times(conn)
    c.register_source_secrets(app, snapshot)
    s, col = resolve_collection(snapshot, selector)  # step 1
    scope = build.scope_of(title, season, episode)
    try:
        _ingest(
            app,
            s,
            col,
            times,
            title,
            season,
            episode,
            allow_mass_missing,
            verbose_assets,
            dry_run,
        )
    except RetrovueError as exc:  # §12.3: error documents carry the collection and the scope
        exc.message = app.scrub(exc.message)
        hints = app.scrub(exc.hint).split("\n  ") if exc.hint else []
        extra = {
            "collection_id": str(col.id),
            "collection_name": col.name,
            "scope": scope,
        }
        if exc.context:
            extra["context"] = exc.context
        c.fail(
            app,
            exc.code,
            [exc.message],
            exit_code=exc.exit_code,
            hints=hints,
            extra=extra,
        )


def _ingest(
    app,
    s,
    col,
    times,
    title,
    season,
    episode,
    allow_mass_missing,
    verbose_assets,
    dry_run,
) -> None:
    importer = c.importer_for(app, s)  # step 2
    narrowed = title is not None
    show_hint = f"Run 'retrovue collection show {col.id}' to see why"
    if not narrowed and not col.sync_enabled:  # step 3, B-11 (B-13: narrowed runs may)
        error = NotSyncEnabledError(
            f"Collection '{col.name}' is not sync-enabled",
            hint=f"Enable it with 'retrovue collection update {col.id} --sync-enable', or ingest a title with --title",
        )
        if not dry_run:
            raise error
        app.err(f"Warning: {error.message}")
    if not col.ingestible:  # B-12
        error = NotIngestibleError(
            f"Collection '{col.name}' is not ingestible",
            hint=f"{col.ingestible_reason or 'prerequisites not met'}\n  {show_hint}",
        )
        if not dry_run:
            raise error
        app.err(f"Warning: {error.message}")
    ok, reason = importer.check_ingestible(
        build.upstream_of(col), col.path_mappings
    )  # step 4, SCG G-3
    if not ok:
        raise NotIngestibleError(
            f"Collection '{col.name}' is not ingestible",
            hint=f"{reason}\n  {show_hint}",
        )
    scope = build.scope_of(title, season, episode)
    header = ingest_header(scope, col.name, title, season, episode)
    if dry_run:
        with c.read_snapshot(app.engine) as conn:
            action, diff = build.plan_ingest(
                conn,
                importer,
                s,
                col,
                title=title,
                season=season,
                episode=episode,
                allow_mass_missing=allow_mass_missing,
                enumerate_upstream=True,
            )
        if narrowed and action.counts.discovered == 0:
            raise _scope_not_found(col, scope, title, season, episode)
        verbose = _verbose_dry(diff) if verbose_assets else None
        doc = ingest_document(
            s,
            col,
            action,
            counts=action.counts,
            skipped=action.skipped,
            degraded=action.degraded,
            degraded_reason=action.degraded_reason,
            last_ingest_time=times[col.id][0],
            dry_run=True,
            verbose=verbose,
        )
        if action.degraded:
            app.err(
                f"Warning: collection '{col.name}' degraded: {action.degraded_reason}; nothing would be marked missing"
            )
        c.emit_dry_run(
            app,
            Plan((action,), allow_mass_missing=allow_mass_missing),
            doc,
            ingest_lines(header, col.name, action.counts, action.skipped),
        )
        return
    if narrowed:  # B-8: a narrowed run that matches nothing writes nothing (not even a run row)
        probe = importer.fetch_assets_for_collection(
            col.external_id,
            filter_title=title,
            filter_season=season,
            filter_episode=episode,
        )
        if next(iter(probe), None) is None:
            raise _scope_not_found(col, scope, title, season, episode)
    action, _ = build.plan_ingest(
        None,
        importer,
        s,
        col,
        title=title,
        season=season,
        episode=episode,
        enumerate_upstream=False,
    )
    executor = Executor(
        app.engine,
        app.registry,
        trigger="collection-ingest",
        scrub=app.scrub,
        progress=progress_factory(),
    )
    with c.write_lock(app, f"collection ingest {col.id}"):
        result = executor.execute(Plan((action,), allow_mass_missing=allow_mass_missing))
    outcome = result.ingests[0]
    if outcome.status == "interrupted" or result.interrupted:
        if app.json_output:
            app.emit_json(
                {
                    "status": "error",
                    "code": "INTERRUPTED",
                    "message": "interrupted; the collection was rolled back",
                    "collection_id": str(col.id),
                    "collection_name": col.name,
                    "scope": scope,
                }
            )
        app.err("Error: interrupted; the collection was rolled back")
        raise Exit(INTERRUPTED)
    if outcome.status != "ok":
        raise _as_error(outcome, col, scope, show_hint)
    if outcome.degraded:
        app.err(
            f"Warning: collection '{col.name}' degraded: {outcome.degraded_reason}; nothing marked missing"
        )
    verbose = _verbose_real(app, col.id, outcome.started_at) if verbose_assets else None
    doc = ingest_document(
        s,
        col,
        action,
        counts=outcome.counts,
        skipped=outcome.skipped,
        degraded=outcome.degraded,
        degraded_reason=outcome.degraded_reason,
        last_ingest_time=outcome.started_at,
        run_id=outcome.run_id,
        dry_run=False,
        verbose=verbose,
    )
    if app.json_output:
        app.emit_json(doc)
    else:
        c.human(app, ingest_lines(header, col.name, outcome.counts, outcome.skipped))


def _scope_not_found(col, scope, title, season, episode) -> ScopeNotFoundError:
    what = {
        "title": f"title '{title}'",
        "season": f"season {season} of '{title}'",
        "episode": f"episode S{season or 0:02d}E{episode or 0:02d} of '{title}'",
    }[scope]
    return ScopeNotFoundError(
        f"No items match {what} in collection '{col.name}'",
        context={
            "collection_id": str(col.id),
            "collection_name": col.name,
            "scope": scope,
        },
    )


def _as_error(outcome, col, scope, show_hint) -> RetrovueError:
    """Re-raise the failed unit as the typed error its code names (exit codes per §0.12)."""
    code = outcome.error_code or "DATABASE_ERROR"
    cls = next(
        (
            v
            for v in vars(_errors_module).values()
            if isinstance(v, type)
            and issubclass(v, RetrovueError)
            and getattr(v, "code", None) == code
        ),
        RetrovueError,
    )
    hint = outcome.error_hint
    if code == "NOT_INGESTIBLE":
        hint = f"{hint}\n  {show_hint}" if hint else show_hint
    message = outcome.error or "ingest failed"
    if cls is RetrovueError or code == "DATABASE_ERROR":
        from retrovue.errors import DatabaseError

        cls = DatabaseError
        if not message.startswith("Database operation failed") and not message.startswith(
            "Transaction failed"
        ):
            message = f"Transaction failed: {message}"
    error = cls(
        message,
        hint=hint,
        context={
            "collection_id": str(col.id),
            "collection_name": col.name,
            "scope": scope,
        },
    )
    return error


def _verbose_dry(diff) -> dict:
    created = [
        {
            "id": None,
            "source_uri": item.source_uri,
            "canonical_uri": canonical,
            "state": "new",
            "approved_for_broadcast": False,
        }
        for item, canonical in diff.new
    ]
    updated = [
        {
            "id": str(aid),
            "source_uri": item.source_uri,
            "canonical_uri": canonical,
            "state": "new",
            "approved_for_broadcast": False,
            "change": "content",
        }
        for aid, item, canonical in diff.changed
    ] + [
        {
            "id": str(aid),
            "source_uri": None,
            "canonical_uri": canonical,
            "state": None,
            "approved_for_broadcast": None,
            "change": "remap",
        }
        for aid, canonical in diff.remapped
    ]
    return {"created_assets": created, "updated_assets": updated}


def _verbose_real(app: AppContext, collection_id, started) -> dict:
    """Created/updated rows of this run, read back after commit: the ingest stamps them with its start."""
    from sqlalchemy import select

    from retrovue.database.models import Asset

    with c.read_snapshot(app.engine) as conn:
        rows = conn.execute(
            select(
                Asset.id,
                Asset.source_uri,
                Asset.canonical_uri,
                Asset.state,
                Asset.approved_for_broadcast,
                Asset.created_at,
                Asset.updated_at,
            )
            .where(Asset.collection_id == collection_id, Asset.updated_at == started)
            .order_by(Asset.source_uri)
        ).all()
    created, updated = [], []
    for r in rows:
        item = {
            "id": str(r.id),
            "source_uri": r.source_uri,
            "canonical_uri": r.canonical_uri,
            "state": r.state,
            "approved_for_broadcast": r.approved_for_broadcast,
        }
        if r.created_at == started:
            created.append(item)
        else:
            updated.append({**item, "change": "content" if r.state == "new" else "remap"})
    return {"created_assets": created, "updated_assets": updated}
