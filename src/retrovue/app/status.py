"""`retrovue status`: per source, how its catalogue stands.

The last reconcile (when, what triggered it, how it ended), whether it is in sync with the
config (a plan of it has no change), its assets by state, the enrichment backlog (assets still
``new``, and those an enricher failed on) and the last error.  The result is plain data that
``dataclasses.asdict`` turns into JSON as it is (times are ISO 8601 text), so a web API serves
the same thing the CLI prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from retrovue.app.context import Context
from retrovue.errors import RetrovueError


@dataclass(frozen=True)
class Reconcile:
    at: str | None
    trigger: str
    outcome: str  # ok | failed | interrupted | skipped (an ingest run's status, or a watch's)
    error: str | None = None
    collection: str | None = None  # the collection of the ingest run it was read from


@dataclass(frozen=True)
class LastError:
    at: str | None
    message: str
    collection: str | None = None


@dataclass(frozen=True)
class SourceStatus:
    name: str
    id: str | None  # None: declared in the config, not created yet
    type: str
    last_reconcile: Reconcile | None
    #: None: not known (no config given, or the plan of this source could not be made)
    in_sync: bool | None
    #: why it is not in sync, or why that is not known
    sync_detail: str | None
    assets: dict[str, int] = field(default_factory=dict)  # state -> count; "missing" apart
    backlog_new: int = 0  # present assets not ready yet: enrichment still to do
    backlog_failed: int = 0  # present assets an enricher failed on for their current file
    last_error: LastError | None = None
    #: the running `retrovue watch` that watches it ("user on host (pid N) watching since …")
    watched_by: str | None = None


@dataclass(frozen=True)
class Status:
    database: str
    config_file: str | None
    sources: tuple[SourceStatus, ...]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def status(ctx: Context, config_file: str | None = None) -> Status:
    """The status of every stored source, and of each declared one not created yet.  With a
    config, each source is planned (reading its upstream, writing nothing) to tell whether it
    is in sync."""
    from retrovue.observe import status as read

    with ctx.reading() as conn:
        rows = read.sources(conn)
        states = read.asset_states(conn)
        failed = read.failed_assets(conn)
        runs = read.last_runs(conn)
        failures = read.last_runs(conn, failed_only=True)
        recorded = read.recorded_reconciles(conn)
    sync = _sync_by_source(ctx, config_file) if config_file else None
    watches = _watches(ctx)
    out = []
    for row in rows:
        tally = states.get(row.id, {})
        in_sync, detail = (
            (None, "no config given: status -c FILE tells")
            if sync is None
            else sync.pop(row.id, _UNDECLARED)
        )
        out.append(
            SourceStatus(
                name=row.name,
                id=str(row.id),
                type=row.type,
                last_reconcile=last_reconcile(runs.get(row.id), recorded.get(row.id)),
                in_sync=in_sync,
                sync_detail=detail,
                assets=dict(sorted(tally.items())),
                backlog_new=tally.get("new", 0) + tally.get("enriching", 0),
                backlog_failed=failed.get(row.id, 0),
                last_error=_last_error(failures.get(row.id), recorded.get(row.id)),
                watched_by=watches.get(row.name.casefold()),
            )
        )
    for key, (in_sync, detail) in (sync or {}).items():
        if isinstance(key, str):  # declared, not stored
            name, type_id = key.split("\0", 1)
            out.append(
                SourceStatus(
                    name, None, type_id, None, in_sync, detail,
                    watched_by=watches.get(name.casefold()),
                )
            )  # fmt: skip
    return Status(ctx.target.display_url, config_file, tuple(out))


_UNDECLARED = (None, "not declared in the config")


def _watches(ctx: Context) -> dict[str, str]:
    """claim key (the source's name, case-folded) -> the live watch holding it: one small read."""
    from retrovue.execute.watch_claims import live_claims

    return {key: info.describe() for key, info in live_claims(ctx.engine).items()}


def _sync_by_source(ctx: Context, config_file: str) -> dict:
    """source id (or "name\\0type" for one not created yet) -> (in sync, detail)."""
    from retrovue.app.declarative import load_desired, make_plan
    from retrovue.model.actions import is_change, source_of

    desired = load_desired(ctx, config_file)
    snapshot = ctx.snapshot()
    keys = {}
    for decl in desired.sources:
        stored = snapshot.match_source(decl.name, decl.external_id)
        keys[decl.name] = stored.id if stored is not None else f"{decl.name}\0{decl.type}"
    try:
        plan = make_plan(ctx, desired)
    except RetrovueError as exc:
        return {key: (None, f"could not plan: {exc.message}") for key in keys.values()}
    changes: dict[str, int] = {}
    for action in plan.actions:
        if is_change(action):
            name = source_of(action).name
            changes[name] = changes.get(name, 0) + 1
    problems = {p.source: p.message for p in plan.problems}
    out = {}
    for name, key in keys.items():
        if name in problems:
            out[key] = (None, f"could not plan: {problems[name]}")
        elif changes.get(name):
            out[key] = (False, f"{changes[name]} planned change(s): run `retrovue plan`")
        else:
            out[key] = (True, None)
    return out


def last_reconcile(run, recorded: dict | None) -> Reconcile | None:
    """The newer of a source's latest ingest run and the reconcile a watch recorded for it."""
    from retrovue.observe.status import iso

    from_run = (
        Reconcile(iso(run.finished_at or run.started_at), run.trigger, run.status, run.error,
                  run.collection)
        if run is not None
        else None
    )  # fmt: skip
    from_watch = (
        Reconcile(recorded.get("at"), recorded.get("trigger", "?"), recorded.get("outcome", "?"),
                  recorded.get("error"))
        if recorded
        else None
    )  # fmt: skip
    candidates = [r for r in (from_watch, from_run) if r is not None]  # a tie: the watch
    return max(candidates, key=lambda r: r.at or "") if candidates else None


def _last_error(run, recorded: dict | None) -> LastError | None:
    from retrovue.observe.status import iso

    found = []
    if run is not None:
        found.append(LastError(iso(run.finished_at or run.started_at), run.error or "failed",
                               run.collection))  # fmt: skip
    if recorded and recorded.get("error"):
        found.append(LastError(recorded.get("at"), recorded["error"]))
    return max(found, key=lambda e: e.at or "") if found else None
