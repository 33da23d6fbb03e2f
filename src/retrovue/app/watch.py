"""`retrovue watch`: keep the catalogue in line continuously.

One loop, in one thread, makes every decision and every write; watcher threads only put items
on its queue (``watch_folders``).  Every reconcile is ``declarative.reconcile``, the path
``apply`` takes, so the plan, the mass-missing guard, ingestibility, path mappings, enrichers
and the locks are apply's own:

- at start, everything (trigger ``watch-start``);
- a file event: once the file is complete (size and mtime still for ``settle`` seconds; a
  deletion at once), the folder holding it is reconciled alone (``watch-event``): its
  collection's ingest lists that folder and compares only the assets stored under it, so a
  file landing in a 100,000-file collection costs one folder's listing (a deleted or created
  path: that path, with all it holds; a file in the collection's root: that file; an
  importer that cannot list folders alone: the whole collection).  A burst's folders make
  one reconcile.  A folder made where a source's collections are (``collection_parents``,
  a folder source's base_path) reconciles that source whole: it may be a new collection;
- a change an upstream reports itself (``watch_upstream``: a media server's notifications), once
  the burst it belongs to is over (``watch-event``): items added or changed are fetched and
  ingested alone (``BaseImporter.fetch_items``), a deletion reconciles its collection whole
  (only a listing says what is missing; the mass-missing guard judges it); a stream lost and
  connected again re-lists its source whole (what was said meanwhile went unheard);
- every source is re-listed whole every ``resync`` seconds (``watch-resync``): events miss
  things (a network mount's remote writes, a watcher that stopped); and soon after a batch of
  events so large that the kernel's queue may have overflowed and dropped some unsaid
  (``watch_folders.overflow_batch``);
- the config file changed, or SIGHUP: a valid file is reconciled whole (``watch-config``); an
  invalid one is reported with its diagnostics and the last good one stays in force;
- a reconcile that fails (database unreachable, a source locked by another writer beyond
  ``lock_timeout``, an upstream down) is reported and tried again with a growing delay.

``stop()`` (SIGTERM/SIGINT) ends the loop: a reconcile in progress is interrupted as apply's
would be (the unit in progress rolls back, committed ones stay, the locks are released).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retrovue.app.context import Context
from retrovue.app.watch_folders import (
    ConfigWatcher,
    FileEvent,
    FolderWatcher,
    MaybeOverflowed,
    Reload,
    Roots,
    Settler,
    Target,
    WatcherFailed,
    roots_of,
)
from retrovue.app.watch_upstream import UpstreamEvent, UpstreamWatchers
from retrovue.config.model import DesiredState
from retrovue.errors import ConfigError, RetrovueError, WatchClaimedError
from retrovue.importers.base import StreamState
from retrovue.logs import get_logger
from retrovue.model.enums import Outcome, Trigger

if TYPE_CHECKING:
    from retrovue.app.watch_metrics import WatchMetrics

log = get_logger("retrovue.watch")

#: every declared source (and pruning, when the config asks for it)
EVERYTHING = Target(None)

#: a failed reconcile is tried again after 1 s, then twice as long each time, at most this long
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class WatchOptions:
    config_file: str | None = None
    #: how long a reconcile waits for another writer of its sources
    lock_timeout: float = 60.0
    #: a file counts once its size and mtime held still this long
    settle: float = 0.5
    #: watchfiles gathers events this long before handing them over
    debounce_ms: int = 100
    #: how long this watch's claim on its sources outlives it if it dies without letting go
    claim_lease: float = 60.0


@dataclass(frozen=True)
class Note:
    """What the watch tells whoever runs it (the CLI prints it; a server may show it)."""

    kind: (
        str  # started | reconciled | failed | config-invalid | config-reloaded | watcher | stopped
    )
    message: str
    source: str | None = None
    trigger: str | None = None
    outcome: str | None = None
    error: bool = False


@dataclass(frozen=True)
class ClaimsLost:
    """Put on the queue by the claims' renewal thread: these sources are another watch's now."""

    sources: tuple[str, ...]


@dataclass
class _Retry:
    trigger: Trigger
    due: float
    delay: float


@dataclass
class _State:
    desired: DesiredState | None = None
    watchers: dict[str, FolderWatcher] = field(default_factory=dict)
    #: source -> its collections waiting for a reconcile (each with the paths its events
    #: named), and the first event's time
    dirty: dict[str, tuple[dict[str, set[str]] | None, float]] = field(default_factory=dict)
    resync_due: dict[str, float] = field(default_factory=dict)
    retries: dict[Target, _Retry] = field(default_factory=dict)
    #: declared sources another watch holds: neither reconciled nor watched by this one
    unclaimed: set[str] = field(default_factory=set)


class Watch:
    def __init__(
        self,
        ctx: Context,
        options: WatchOptions,
        notify: Callable[[Note], None] = lambda _note: None,
        metrics: WatchMetrics | None = None,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.notify = notify
        self.metrics = metrics
        # SimpleQueue: its put is reentrant, so a signal handler (stop, SIGHUP) may call it
        # while the loop is inside get; a Queue's lock would deadlock there
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.settler = Settler(options.settle)
        self._stopping = False  # a plain flag: set from a signal handler, read by the loop
        self._busy = False
        self._state = _State()
        self._config_watcher: ConfigWatcher | None = None
        self.upstream = UpstreamWatchers(self.queue)
        self._claims = None

    # -- control, from signal handlers or other threads --------------------------------------

    def stop(self) -> bool:
        """Ask the loop to end; True when a reconcile is running (the caller may interrupt it:
        its unit rolls back, as apply's does on SIGTERM)."""
        self._stopping = True
        self.queue.put(None)
        return self._busy

    def reload(self, why: str = "SIGHUP") -> None:
        self.queue.put(Reload(why))

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Until ``stop``.  An invalid config at start raises ``ConfigError``: there is no last
        good state to keep."""
        from retrovue.app.declarative import load_desired

        state = self._state
        state.desired = load_desired(self.ctx, self.options.config_file)
        self._config_watcher = ConfigWatcher(state.desired.file, self.queue).start()
        self._say(Note("started", f"watching {state.desired.file}"))
        try:
            self._reconcile(EVERYTHING, Trigger.WATCH_START)
            while not self.stopping:
                try:
                    self._tick()
                except (KeyboardInterrupt, WatchClaimedError):
                    raise  # the second: a start retried after the database came back
                except Exception as exc:  # noqa: BLE001 - a service reports and carries on
                    self._error("internal", f"unexpected error: {_describe(self.ctx, exc)}")
                    time.sleep(1.0)
        except KeyboardInterrupt:
            if not self.stopping:
                raise
        finally:
            self._shutdown()
        self._say(Note("stopped", "stopped"))
        return Outcome.OK

    def _tick(self) -> None:
        now = time.monotonic()
        try:
            item = self.queue.get(timeout=max(self._next_deadline(now) - now, 0.0))
        except queue.Empty:
            item = None
        items = [item]
        while True:  # a burst of events is taken in one go
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        for it in items:
            self._take(it, now)
        if self.stopping:
            return
        for source, collection, path, first_at in self.settler.settled(now):
            self._mark_dirty(source, collection, first_at, self._scope_of_file(source, path))
        for source, scope in self.upstream.settled(now):
            if scope.whole:
                self._state.resync_due[source] = now
                continue
            for collection in scope.collections:
                self._mark_dirty(source, collection, scope.first_at)
            if scope.items:
                self._reconcile_items(source, scope.items, scope.first_at)
        self._run_dirty()
        self._run_resyncs(time.monotonic())
        self._run_retries(time.monotonic())
        if self.metrics is not None:
            self.metrics.pending_events.set(
                len(self.settler) + len(self.upstream) + len(self._state.dirty)
            )
            self.metrics.last_loop = time.monotonic()

    def _next_deadline(self, now: float) -> float:
        s = self._state
        times = [now + 30.0]  # wake now and then whatever happens (metrics, health)
        times += s.resync_due.values()
        times += [r.due for r in s.retries.values()]
        for due in (self.settler.next_due(), self.upstream.next_due()):
            if due is not None:
                times.append(due)
        if s.dirty:
            times.append(now)
        return min(times)

    def _take(self, item, now: float) -> None:
        if item is None:
            return
        if isinstance(item, FileEvent):
            watcher = self._state.watchers.get(item.source)
            collection = watcher.roots.collection_of(item.path) if watcher else None
            if collection is None:
                # a folder made beside the collections: a new one (a stored one going away is
                # a collection's root, seen above; a loose file or stray folder going is nothing)
                if (
                    watcher is not None
                    and not item.deleted
                    and watcher.roots.may_be_collection(item.path)
                    and os.path.isdir(item.path)
                ):
                    self._mark_dirty(item.source, None, item.at, item.path)
                return
            if item.deleted or os.path.isdir(item.path):
                # the path itself, with all it holds (a folder moved in or away, a file gone)
                self._mark_dirty(item.source, collection, item.at, item.path)
            else:
                self.settler.saw(item.source, collection, item.path, item.at, now)
        elif isinstance(item, UpstreamEvent):
            self._take_upstream(item, now)
        elif isinstance(item, Reload):
            self._reload(item.why)
        elif isinstance(item, ClaimsLost):
            self._claims_lost(item.sources)
        elif isinstance(item, MaybeOverflowed):
            # events past an overflow are lost without a word: the source is re-listed once
            # the burst is over (each big batch puts that off; its files settle meanwhile)
            delay = max(2.0, 2 * self.options.settle)
            if item.source not in self._state.unclaimed:
                self._state.resync_due[item.source] = now + delay
            self._error(
                "watcher",
                f"{item.changes} changes at once: the watcher may have missed changes (the "
                f"kernel's event queue may have overflowed); re-listing the source in {delay:g} s",
                item.source,
                note="watcher",
            )
        elif isinstance(item, WatcherFailed):
            self._error("watcher", f"watching stopped: {item.message}", item.source or None)
            self._state.watchers.pop(item.source, None)
            if item.source:  # re-listed soon, and watched again after it
                self._state.resync_due[item.source] = now + 5.0

    def _take_upstream(self, event: UpstreamEvent, now: float) -> None:
        what = event.what
        if not isinstance(what, StreamState):
            self.upstream.saw(event.source, what, now)
        elif not what.connected:
            self._error("watcher", what.message, event.source)
        else:
            catching_up = " (re-listing the source: changes made meanwhile went unheard)"
            self._say(
                Note(
                    "watcher",
                    what.message + (catching_up if what.reconnected else ""),
                    source=event.source,
                )
            )
            if what.reconnected:
                self._state.resync_due[event.source] = now

    def _scope_of_file(self, source: str, path: str) -> str:
        """A settled file's folder (what else changed beside it is seen too), or the file
        alone when that folder is its collection's root (a flat folder of 100,000 films must
        not be listed for one of them)."""
        folder = os.path.dirname(path)
        watcher = self._state.watchers.get(source)
        if watcher is not None and any(folder == root for root, _ in watcher.roots.by_root):
            return path
        return folder

    def _mark_dirty(
        self, source: str, collection: str | None, first_at: float, path: str | None = None
    ) -> None:
        """``collection`` None: a collection may have come or gone, the whole source is
        reconciled (its watched folders then follow).  ``path`` None: the whole collection
        (an upstream's deletion: only a listing says what is missing)."""
        collections, first = self._state.dirty.get(source, ({}, first_at))
        if collection is None or collections is None:
            collections = None
        elif path is None:
            collections[collection] = None
        elif (paths := collections.setdefault(collection, set())) is not None:
            paths.add(os.path.abspath(path))
        self._state.dirty[source] = (collections, min(first, first_at))

    def _run_dirty(self) -> None:
        dirty, self._state.dirty = self._state.dirty, {}
        for source, (collections, first_at) in dirty.items():
            if self.stopping:
                return
            if collections is None:
                target = Target(source)
            else:
                folders = frozenset(
                    (c, p) for c, paths in collections.items() if paths is not None for p in paths
                )
                target = Target(source, frozenset(collections), folders)
            ok = self._reconcile(target, Trigger.WATCH_EVENT)
            if ok and self.metrics is not None:
                self.metrics.event_lag.observe(max(time.time() - first_at, 0.0))

    def _reconcile_items(self, source: str, items, first_at: float) -> None:
        """The items an upstream named, fetched alone (a failure is retried as a reconcile of
        their collections whole)."""
        target = Target(source, frozenset(c for c, _i in items))
        scoped = frozenset((source.casefold(), c, i) for c, i in items)
        ok = self._reconcile(target, Trigger.WATCH_EVENT, scoped)
        if ok and self.metrics is not None:
            self.metrics.event_lag.observe(max(time.time() - first_at, 0.0))

    def _run_resyncs(self, now: float) -> None:
        for source, due in list(self._state.resync_due.items()):
            if due <= now and not self.stopping:
                self._reconcile(Target(source), Trigger.WATCH_RESYNC)

    def _run_retries(self, now: float) -> None:
        for target, retry in list(self._state.retries.items()):
            if retry.due <= now and not self.stopping:
                self._reconcile(target, retry.trigger)

    # -- config --------------------------------------------------------------------------------

    def _reload(self, why: str) -> None:
        from retrovue.app.declarative import load_desired

        try:
            desired = load_desired(self.ctx, self.options.config_file)
        except ConfigError as exc:
            lines = [str(d) for d in exc.diagnostics] or [exc.message]
            self._error(
                "config",
                "the config is invalid; the last good one stays in force:\n  " + "\n  ".join(lines),
                note="config-invalid",
            )
            return
        except RetrovueError as exc:
            self._error("config", f"cannot read the config: {exc.message}", note="config-invalid")
            return
        old = self._state.desired
        if why != "SIGHUP" and old is not None and old.config_hash == desired.config_hash:
            return  # touched, not changed (SIGHUP asks for a reconcile whatever changed)
        self._state.desired = desired
        self._reclaim(desired)
        self._say(Note("config-reloaded", f"{why}: reconciling everything"))
        self._reconcile(EVERYTHING, Trigger.WATCH_CONFIG)

    # -- reconciling ---------------------------------------------------------------------------

    def _reconcile(self, target: Target, trigger: Trigger, items=frozenset()) -> bool:
        """One reconcile through apply's path; False when it failed (then tried again later)."""
        from retrovue.app.declarative import reconcile
        from retrovue.plan.builder import PlanOptions

        desired = self._state.desired
        assert desired is not None
        sources = self._sources_of(target, desired)
        if not sources:
            self._state.retries.pop(target, None)
            return True
        if not self._claimed(target, trigger, sources):
            return False
        # with a source held by another watch, "everything" is only ours (and never prunes)
        narrowed = target.source is not None or bool(self._state.unclaimed)
        options = PlanOptions(
            only_sources=tuple(sources) if narrowed else (),
            only_collections=(
                frozenset((target.source.casefold(), c) for c in target.collections)
                if target.collections is not None
                else None
            ),
            only_items=items,
            # the planner narrows each collection to these folders when its importer can
            # list them alone (else the whole collection: never less than the events name)
            only_folders=frozenset(
                (target.source.casefold(), c, path) for c, path in target.folders
            ),
        )
        command = f"watch -c {desired.file}"
        self._busy = True
        try:
            applied = reconcile(
                self.ctx,
                desired,
                options,
                command=command,
                lock_timeout=self.options.lock_timeout,
                trigger=trigger,
            )
        except KeyboardInterrupt:
            if self.stopping:
                return False
            raise
        except Exception as exc:  # noqa: BLE001 - reported, tried again: the watch keeps running
            error = _describe(self.ctx, exc)
            self._failed(target, trigger, sources, error)
            return False
        finally:
            self._busy = False
        outcome = applied.outcome
        if self.stopping and outcome == Outcome.INTERRUPTED:
            return False
        ok = outcome in (Outcome.OK,)
        error = None if ok else _result_error(applied)
        self._after(
            sources, trigger, "ok" if ok else outcome.value, error, applied, target.collections
        )
        if ok:
            self._state.retries.pop(target, None)
        else:  # the retry known so far sets the next delay: forgetting it kept it at 1 s
            self._schedule_retry(target, trigger)
        return ok

    def _sources_of(self, target: Target, desired: DesiredState) -> list[str]:
        unclaimed = self._state.unclaimed
        if target.source is None:
            return [s.name for s in desired.sources if s.name not in unclaimed]
        decl = desired.source(target.source)
        return [decl.name] if decl is not None and decl.name not in unclaimed else []

    def _failed(self, target: Target, trigger: Trigger, sources: list[str], error: str) -> None:
        self._error("reconcile", f"{trigger.value} of {_what(target)} failed: {error}")
        for source in sources:
            if self.metrics is not None:
                self.metrics.reconciles.labels(source, trigger.value, "failed").inc()
        self._record(sources, trigger, "failed", error)
        self._refresh_metrics()  # /healthz turns 503 while the database cannot be read
        self._schedule_retry(target, trigger)

    def _schedule_retry(self, target: Target, trigger: Trigger) -> None:
        known = self._state.retries.get(target)
        delay = 1.0 if known is None else min(known.delay * 2, MAX_BACKOFF)
        self._state.retries[target] = _Retry(trigger, time.monotonic() + delay, delay)

    def _after(
        self, sources: list[str], trigger: Trigger, outcome: str, error, applied, collections=None
    ) -> None:
        """A reconcile ran: record it, refresh the watched folders and the metrics, then say
        so (in that order: once it is said, the folders are watched and the numbers match).
        ``collections`` None: it covered whole sources (an event's may have found a collection)."""
        self._record(sources, trigger, outcome, error)
        if trigger != Trigger.WATCH_EVENT or collections is None:
            for source in sources:
                self._state.resync_due[source] = time.monotonic() + self._decl_resync(source)
            self._refresh_watchers()
        self._refresh_metrics()
        for source in sources:
            counts = _counts(applied, source)
            if self.metrics is not None:
                self.metrics.reconciles.labels(source, trigger.value, outcome).inc()
                self.metrics.last_reconcile.labels(source).set(time.time())
            self._say(
                Note(
                    "reconciled",
                    f'{trigger.value} of source "{source}": {outcome}{counts}'
                    + (f" ({error})" if error else ""),
                    source=source,
                    trigger=trigger.value,
                    outcome=outcome,
                    # a listing that could not read something is said as a warning
                    error=error is not None or " (skipped: " in counts,
                )
            )

    def _decl_resync(self, source: str) -> float:
        decl = self._state.desired.source(source) if self._state.desired else None
        return decl.resync if decl is not None else 3600.0

    def _record(self, sources: list[str], trigger: Trigger, outcome: str, error) -> None:
        from retrovue.execute.reconciles import record_reconcile

        try:
            snapshot = self.ctx.snapshot()
            for name in sources:
                decl = self._state.desired.source(name)
                stored = snapshot.match_source(decl.name, decl.external_id) if decl else None
                if stored is not None:
                    record_reconcile(self.ctx.engine, stored.id, trigger.value, outcome, error)
        except Exception as exc:  # noqa: BLE001 - the database may be what failed
            log.debug("could not record the reconcile", error=str(exc))

    def _refresh_watchers(self) -> None:
        """Watch each declared source's synced collections' local folders (read from the
        database, where the reconcile just left them)."""
        from retrovue.importers.own_files import local_roots

        desired = self._state.desired
        try:
            snapshot = self.ctx.snapshot()
        except Exception as exc:  # noqa: BLE001 - kept as they are; the next reconcile retries
            log.debug("could not read the collections to watch", error=str(exc))
            return
        wanted: dict[str, Roots] = {}
        synced: dict[str, frozenset[str]] = {}
        for decl in desired.sources:
            if decl.watch == "off" or decl.name in self._state.unclaimed:
                continue
            stored = snapshot.match_source(decl.name, decl.external_id)
            if stored is None:
                continue
            importer_cls = self.ctx.registry.get(decl.type)
            mapped = getattr(importer_cls, "uses_path_mappings", False)
            pairs = [
                (root, c.external_id)
                for c in stored.collections
                if c.sync_enabled and c.ingestible
                for root in local_roots(mapped, c.locations, c.path_mappings)
            ]
            parents = importer_cls.collection_parents(decl.config)
            wanted[decl.name] = roots_of(decl.name, decl.watch, decl.poll_interval, pairs, parents)
            synced[decl.name] = frozenset(
                c.external_id for c in stored.collections if c.sync_enabled
            )
        self.upstream.refresh(desired, self.ctx.registry, synced)
        watchers = self._state.watchers
        for name in list(watchers):
            old, new = watchers[name].roots, wanted.get(name)
            if new == old:
                continue
            if new is not None and _same_watch(old, new):
                # the same folders watched (a parent holds the roots): only which collection a
                # path is in changed, and a restart could miss a file landing meanwhile
                watchers[name].roots = new
                continue
            watchers.pop(name).stop()
            self.settler.forget(name)
        for name, roots in wanted.items():
            if name not in watchers and roots.folders:
                watchers[name] = FolderWatcher(roots, self.queue, self.options.debounce_ms).start()
        for name in list(self._state.resync_due):
            if desired.source(name) is None:  # no longer declared
                del self._state.resync_due[name]

    def _refresh_metrics(self) -> None:
        if self.metrics is None:
            return
        from retrovue.observe.status import collection_states

        try:
            with self.ctx.reading() as conn:
                self.metrics.set_assets(collection_states(conn))
            self.metrics.healthy, self.metrics.health_detail = True, "ok"
        except Exception as exc:  # noqa: BLE001 - the database may be down: health says so
            self.metrics.healthy, self.metrics.health_detail = False, _describe(self.ctx, exc)

    # -- reporting -----------------------------------------------------------------------------

    def _say(self, note: Note) -> None:
        fields = {"kind": note.kind}
        fields.update(
            {k: getattr(note, k) for k in ("source", "trigger", "outcome") if getattr(note, k)}
        )
        (log.warning if note.error else log.info)(note.message, **fields)
        self.notify(note)

    def _error(
        self, kind: str, message: str, source: str | None = None, note: str = "failed"
    ) -> None:
        """``kind``: the metrics' error label; ``note``: the Note's kind."""
        if self.metrics is not None:
            self.metrics.errors.labels(kind).inc()
            if kind == "reconcile":
                self.metrics.health_detail = message
        self._say(Note(note, message, source=source, error=True))

    # -- claims: one watch per source (execute/watch_claims.py) ---------------------------------

    def _new_claims(self, desired: DesiredState):
        from retrovue.execute.watch_claims import WatchClaims

        return WatchClaims(
            self.ctx.engine,
            f"watch -c {desired.file}",
            self.options.claim_lease,
            on_lost=lambda names: self.queue.put(ClaimsLost(tuple(names))),
        )

    def _claimed(self, target: Target, trigger: Trigger, sources: list[str]) -> bool:
        """Before the first reconcile, claim every declared source.  Another watch holding one
        raises ``WatchClaimedError``: this watch ends having reconciled nothing.  A database
        that cannot be reached is a failed start, tried again as a reconcile would be."""
        if self._claims is not None and self._claims.started:
            return True
        try:
            # the engine opens here: a database that cannot be reached is a failed start
            self._claims = claims = self._new_claims(self._state.desired)
            claims.claim_all(s.name for s in self._state.desired.sources)
        except WatchClaimedError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, tried again like a reconcile
            self._failed(target, trigger, sources, _describe(self.ctx, exc))
            return False
        claims.start()
        return True

    def _reclaim(self, desired: DesiredState) -> None:
        """A reloaded config: sources no longer declared are let go, new ones claimed; one
        another watch holds is reported and left to it, the rest carry on."""
        if self._claims is None or not self._claims.started:
            return  # the start, still to come, claims the new file's sources
        names = {s.name for s in desired.sources}
        self._claims.release(self._claims.held - names)
        try:
            refused = self._claims.claim_each(sorted(names - self._claims.held))
        except RetrovueError as exc:  # the database: the new sources wait for the next reload
            self._error("claim", f"could not claim the new sources: {exc.message}")
            refused = {n: None for n in names - self._claims.held}
        self._state.unclaimed = set(refused)
        for name, holder in refused.items():
            if holder is not None:
                self._error(
                    "claim",
                    f'source "{name}" is not watched: another retrovue watch already watches '
                    f"it ({holder.describe()})",
                    name,
                )

    def _claims_lost(self, names: tuple[str, ...]) -> None:
        self._state.unclaimed |= set(names)
        for name in names:
            self._state.resync_due.pop(name, None)
            self._error(
                "claim",
                f'source "{name}" is no longer watched: its claim ran out while this watch could '
                "not renew it, and another watch took it over",
                name,
            )
        self._refresh_watchers()

    def _shutdown(self) -> None:
        self.upstream.stop_all()
        for watcher in self._state.watchers.values():
            watcher.stop()
        self._state.watchers.clear()
        if self._config_watcher is not None:
            self._config_watcher.stop()
        if self._claims is not None:
            self._claims.close()


def _same_watch(old: Roots, new: Roots) -> bool:
    return (old.folders, old.mode, old.poll_interval) == (new.folders, new.mode, new.poll_interval)


def _what(target: Target) -> str:
    if target.source is None:
        return "every source"
    if target.collections is None:
        return f'source "{target.source}"'
    return f'source "{target.source}" (collections {", ".join(sorted(target.collections))})'


def _describe(ctx: Context, exc: BaseException) -> str:
    if isinstance(exc, RetrovueError):
        return ctx.scrub(exc.message)
    typed = ctx.typed_error(exc)
    if typed is not None:
        return typed.message
    return ctx.scrub(f"{type(exc).__name__}: {exc}")


def _counts(applied, source: str) -> str:
    """This source's part of a reconcile (one of everything: each source's note says its own)."""
    degraded = [
        str(a.collection)
        for a in applied.plan.actions
        if getattr(a, "degraded", False) and a.collection.source.name == source
    ]
    held = f" (mass-missing guard held for {', '.join(degraded)})" if degraded else ""
    # what the listing could not read (a folder made unreadable, a file that cannot be
    # stat'ed): kept as it was, and said, or a permission change would pass unseen
    skips = [
        f"{s.reason} ({s.count:,}, e.g. {s.example})"
        for a in applied.plan.actions
        if getattr(a, "skipped", None) and a.collection.source.name == source
        for s in a.skipped
    ]
    skipped = f" (skipped: {'; '.join(skips)})" if skips else ""
    return _asset_counts(applied, source) + held + skipped


def _asset_counts(applied, source: str) -> str:
    result = applied.result
    if result is None:
        return ", no changes" if not applied.plan.has_changes else ""
    counts = [
        i.counts
        for i in result.ingests
        if i.counts is not None and i.collection.source.name == source
    ]
    new, changed, missing = (
        sum(getattr(c, k) for c in counts) for k in ("new", "changed", "missing")
    )
    return f", assets +{new} ~{changed} -{missing}"


def _result_error(applied) -> str | None:
    problems = [p.message for p in applied.plan.problems]
    result = applied.result
    if result is not None:
        problems += [u.message for u in (*result.sources, *result.ingests) if u.error is not None]
    return "; ".join(problems) or applied.outcome.value
