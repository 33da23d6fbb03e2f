"""The upstream side of `retrovue watch`: each source whose importer offers a change stream
(``BaseImporter.change_stream``, e.g. a media server's notification websocket) is listened to,
and what it reports is debounced into collection reconciles.

As with ``watch_folders``, the streams' threads only put items on the watch's queue; the loop
decides and writes.  A change waits ``debounce`` seconds for the ones that follow it (a server
reports a season as one entry per episode) and is then one reconcile, at most ``max_wait`` after
the first: of the items named when only items were added or changed (the importer fetches them
alone: a listing of a 50,000-item collection costs seconds), of the whole collection when one
was deleted (only a listing says what is missing, and the mass-missing guard judges it), of
the whole source when a change named no collection.
"""

from __future__ import annotations

import json
import queue
from dataclasses import dataclass, field

from retrovue.importers.base import StreamState, UpstreamChange
from retrovue.logs import get_logger

log = get_logger("retrovue.watch")


@dataclass(frozen=True)
class UpstreamEvent:
    source: str
    what: UpstreamChange | StreamState


@dataclass(frozen=True)
class Scope:
    """What one source's settled changes ask to reconcile."""

    whole: bool  # the whole source
    collections: frozenset[str]  # these collections whole
    items: frozenset[tuple[str, str]]  # (collection, item id): only these items
    first_at: float


@dataclass
class _Pending:
    collections: set[str]
    items: set[tuple[str, str]]
    whole: bool  # a change named no collection: the source is re-listed
    first_at: float  # wall clock of the first change, for the event lag
    first_seen: float  # monotonic
    due: float  # monotonic


@dataclass
class ChangeBatcher:
    """Each source's changes, gathered until they hold still for ``debounce`` seconds (at most
    ``max_wait`` after the first), then handed over as one ``Scope``.  Changes of collections
    not in ``synced`` are dropped: the config does not sync them."""

    debounce: float = 0.2
    max_wait: float = 1.0
    #: source -> the collections whose changes count (the synced ones)
    synced: dict[str, frozenset[str]] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._pending)

    def saw(self, source: str, change: UpstreamChange, now: float) -> None:
        """A change reported (monotonic ``now``)."""
        if change.collection is not None and change.collection not in self.synced.get(
            source, frozenset()
        ):
            return
        pending = self._pending.get(source)
        if pending is None:
            pending = self._pending[source] = _Pending(set(), set(), False, change.at, now, now)
        if change.collection is None:
            pending.whole = True
        elif change.deleted or change.item is None:
            pending.collections.add(change.collection)
        else:
            pending.items.add((change.collection, change.item))
        pending.first_at = min(pending.first_at, change.at)
        pending.due = min(now + self.debounce, pending.first_seen + self.max_wait)

    def next_due(self) -> float | None:
        return min((p.due for p in self._pending.values()), default=None)

    def settled(self, now: float) -> list[tuple[str, Scope]]:
        """(source, what to reconcile) of each source whose changes have held still; an item
        of a collection reconciled whole is in it already."""
        done = []
        for source, p in list(self._pending.items()):
            if p.due <= now:
                del self._pending[source]
                items = frozenset((c, i) for c, i in p.items if c not in p.collections)
                done.append((source, Scope(p.whole, frozenset(p.collections), items, p.first_at)))
        return done

    def forget(self, source: str) -> None:
        self._pending.pop(source, None)


@dataclass
class UpstreamWatchers:
    out: queue.SimpleQueue
    batcher: ChangeBatcher = field(default_factory=ChangeBatcher)
    #: source -> (what it was started with, its stream)
    _streams: dict[str, tuple[str, object]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.batcher)

    def refresh(self, desired, registry, synced: dict[str, frozenset[str]]) -> None:
        """Listen to each declared source (``watch`` not ``off``) whose importer has a change
        stream; a source whose declaration changed is listened to afresh."""
        self.batcher.synced = dict(synced)
        wanted: dict[str, tuple[str, object]] = {}
        for decl in desired.sources:
            if decl.watch == "off" or decl.name not in synced:
                continue
            key = json.dumps([decl.type, decl.config], sort_keys=True, default=str)
            known = self._streams.get(decl.name)
            if known is not None and known[0] == key:
                wanted[decl.name] = known
                continue
            try:
                stream = registry.create(decl.type, decl.config).change_stream()
            except Exception as exc:  # noqa: BLE001 - no stream: the resync still runs
                log.debug("no change stream", source=decl.name, error=type(exc).__name__)
                continue
            if stream is not None:
                wanted[decl.name] = (key, stream)
        for name, (_key, stream) in list(self._streams.items()):
            if wanted.get(name, (None, None))[1] is not stream:
                stream.stop()
                self.batcher.forget(name)
        for name, (_key, stream) in wanted.items():
            if self._streams.get(name, (None, None))[1] is not stream:
                stream.start(lambda what, source=name: self.out.put(UpstreamEvent(source, what)))
        self._streams = wanted

    def saw(self, source: str, change: UpstreamChange, now: float) -> None:
        if source in self._streams:  # else a stream stopped since: its source is not listened to
            self.batcher.saw(source, change, now)

    def next_due(self) -> float | None:
        return self.batcher.next_due()

    def settled(self, now: float) -> list[tuple[str, Scope]]:
        return self.batcher.settled(now)

    def stop_all(self) -> None:
        for _key, stream in self._streams.values():
            stream.stop()
        self._streams.clear()
        for source in list(self.batcher.synced):
            self.batcher.forget(source)
