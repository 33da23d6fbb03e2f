"""The file side of `retrovue watch`: which collection a path belongs to, threads that turn
filesystem events into queue items, and the rule that a file counts once it is complete.

The threads only put items on the watch's queue: every decision and every database write is
made by the watch loop, in one thread.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field

from retrovue.importers.folder_scope import outermost


@dataclass(frozen=True)
class Target:
    """What one reconcile covers: a source, and within it some collections (None: all), and
    within those some folders (``(collection, local path)``; a collection with none: all)."""

    source: str | None  # None: every declared source
    collections: frozenset[str] | None = None
    folders: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class FileEvent:
    source: str
    path: str
    deleted: bool
    at: float  # wall clock (time.time()), for the event lag


@dataclass(frozen=True)
class WatcherFailed:
    source: str
    message: str


@dataclass(frozen=True)
class MaybeOverflowed:
    """A batch of events so large that the kernel's queue may have overflowed before it was
    read: some changes may have been dropped without a word (see ``overflow_batch``)."""

    source: str
    changes: int


@dataclass(frozen=True)
class Reload:
    """Read retrovue.yaml again (it changed, or SIGHUP)."""

    why: str


@dataclass(frozen=True)
class Roots:
    """A source's watched folders: each collection's local root, longest first, so a path is
    given to the innermost collection that holds it."""

    source: str
    mode: str  # events | poll
    poll_interval: float
    by_root: tuple[tuple[str, str], ...]  # (root, collection external_id)
    #: folders whose new subfolders are new collections (``BaseImporter.collection_parents``)
    parents: tuple[str, ...] = ()

    def collection_of(self, path: str) -> str | None:
        for root, collection in self.by_root:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return collection
        return None

    def may_be_collection(self, path: str) -> bool:
        """A path right inside a parent of collections (a folder made or gone there): the
        source may have a collection more or fewer."""
        return os.path.dirname(path) in self.parents

    @property
    def folders(self) -> tuple[str, ...]:
        """What is watched (recursively): each collection's root, and each parent of
        collections, none twice (a root inside a parent is watched through it)."""
        roots = {root for root, _ in self.by_root} | set(self.parents)
        return outermost(root for root in roots if os.path.isdir(root))


def roots_of(source: str, mode: str, poll_interval: float, pairs, parents=()) -> Roots:
    ordered = sorted(
        ((os.path.abspath(root), ext) for root, ext in pairs), key=lambda p: -len(p[0])
    )
    return Roots(
        source, mode, poll_interval, tuple(ordered), tuple(os.path.abspath(p) for p in parents)
    )


#: how long the watcher thread waits for events before it looks up (and, the first time, says
#: it is ready); between, it sleeps in the Rust watcher
_READY_TIMEOUT_MS = 1000


def overflow_batch() -> int:
    """How many changes in one batch make an overflow possible.  The kernel keeps at most
    ``fs.inotify.max_queued_events`` (16,384 by default) events for a reader that falls behind,
    then drops the rest and queues IN_Q_OVERFLOW; notify passes that on as a "rescan" event
    with no path, which watchfiles drops, so the watch is never told.  A queue that overflowed
    was read as one batch of at least that many events; a file written makes three or four
    (create, open, modify, close), so a sixteenth of the queue in distinct paths is taken as
    the sign.  A rewrite storm of a few files that overflows is not seen: the resync is its net."""
    try:
        with open("/proc/sys/fs/inotify/max_queued_events") as limit:
            return max(int(limit.read()) // 16, 64)
    except (OSError, ValueError):
        return 1024


class FolderWatcher:
    """One thread watching one source's folders through ``watchfiles`` (inotify, or a poll
    every ``poll_interval`` for network mounts that deliver no events)."""

    def __init__(self, roots: Roots, out: queue.SimpleQueue, debounce_ms: int = 100) -> None:
        self.roots = roots
        self._out = out
        self._debounce_ms = debounce_ms
        self._overflow_at = overflow_batch()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch {roots.source}", daemon=True)

    def start(self, wait: float = 5.0) -> FolderWatcher:
        """Start watching; returns once the watches are in place (at most ``wait`` seconds),
        so a file written after a reconcile that started a watcher is never missed."""
        self._thread.start()
        self._ready.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import watchfiles

        folders = self.roots.folders
        if not folders:
            self._ready.set()
            return
        poll = self.roots.mode == "poll"
        try:
            for changes in watchfiles.watch(
                *folders,
                # what is content is the importer's to decide (its exclude rules), not a filter's
                watch_filter=None,
                stop_event=self._stop,
                debounce=self._debounce_ms,
                step=50,
                # the first yield (a timeout) says the watches are in place
                rust_timeout=_READY_TIMEOUT_MS,
                yield_on_timeout=True,
                force_polling=poll,
                poll_delay_ms=int(self.roots.poll_interval * 1000),
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                self._ready.set()
                now = time.time()
                for change, path in changes:
                    deleted = change == watchfiles.Change.deleted
                    self._out.put(FileEvent(self.roots.source, path, deleted, now))
                if not poll and len(changes) >= self._overflow_at:
                    self._out.put(MaybeOverflowed(self.roots.source, len(changes)))
        except Exception as exc:  # noqa: BLE001 - a vanished root, a mount gone: reported, resynced
            self._out.put(WatcherFailed(self.roots.source, f"{type(exc).__name__}: {exc}"))
        finally:
            self._ready.set()


class ConfigWatcher:
    """A thread that asks for a reload when the config file changes (editors replace files, so
    the folder is watched and the file's name picked out)."""

    def __init__(self, path: str, out: queue.SimpleQueue) -> None:
        self.path = os.path.abspath(path)
        self._out = out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch config", daemon=True)

    def start(self) -> ConfigWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import watchfiles

        folder = os.path.dirname(self.path)
        try:
            for changes in watchfiles.watch(
                folder,
                stop_event=self._stop,
                debounce=200,
                step=50,
                recursive=False,
                raise_interrupt=False,
            ):
                if any(os.path.abspath(p) == self.path for _c, p in changes):
                    self._out.put(Reload("the config file changed"))
        except Exception as exc:  # noqa: BLE001 - SIGHUP still reloads
            self._out.put(WatcherFailed("", f"config watcher stopped: {exc}"))


@dataclass
class _Unsettled:
    source: str
    collection: str
    first_at: float  # wall clock of the first event, for the event lag
    last_change: float  # monotonic: when its size or mtime last moved
    stat: tuple[int, int] | None  # (size, mtime_ns); None: gone


@dataclass
class Settler:
    """A file is counted once it is complete: its size and mtime held still for ``settle``
    seconds (a copy in progress keeps growing).  A deletion counts at once."""

    settle: float = 0.5
    _files: dict[str, _Unsettled] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._files)

    def saw(self, source: str, collection: str, path: str, at: float, now: float) -> None:
        known = self._files.get(path)
        first = known.first_at if known is not None else at
        self._files[path] = _Unsettled(source, collection, first, now, _stat(path))

    def next_due(self) -> float | None:
        if not self._files:
            return None
        return min(f.last_change for f in self._files.values()) + self.settle

    def settled(self, now: float) -> list[tuple[str, str, str, float]]:
        """(source, collection, path, first event time) of each file complete by now."""
        done = []
        for path, f in list(self._files.items()):
            if now - f.last_change < self.settle:
                continue
            current = _stat(path)
            if current != f.stat:  # still being written: wait another settle
                f.stat, f.last_change = current, now
                continue
            del self._files[path]
            done.append((f.source, f.collection, path, f.first_at))
        return done

    def forget(self, source: str) -> None:
        for path in [p for p, f in self._files.items() if f.source == source]:
            del self._files[path]


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)
