"""Issue 21: how `retrovue watch` gathers the changes an upstream reports into reconciles
(``ChangeBatcher``): a burst is one reconcile; an item added is fetched alone; a deletion
reconciles its collection whole; a change naming no collection, the source."""

from __future__ import annotations

from retrovue.app.watch_upstream import ChangeBatcher, Scope
from retrovue.importers.base import UpstreamChange


def _batcher() -> ChangeBatcher:
    return ChangeBatcher(debounce=0.2, max_wait=1.0, synced={"P": frozenset({"1", "2"})})


def test_a_burst_is_one_scope_once_it_holds_still():
    b = _batcher()
    b.saw("P", UpstreamChange("1", "10", False, at=500.0), now=10.0)
    b.saw("P", UpstreamChange("1", "11", False, at=500.1), now=10.1)
    assert b.next_due() == 10.1 + 0.2
    assert b.settled(10.25) == []  # the second change moved the deadline
    assert b.settled(10.31) == [
        ("P", Scope(False, frozenset(), frozenset({("1", "10"), ("1", "11")}), 500.0))
    ]
    assert len(b) == 0


def test_a_steady_stream_is_handed_over_after_max_wait():
    b = _batcher()
    handed = []
    for n in range(20):  # a change every 0.1 s, never 0.2 s still; the loop looks each time
        now = 10.0 + n / 10
        handed += [(now, len(scope.items)) for _s, scope in b.settled(now)]
        b.saw("P", UpstreamChange("1", str(n), False, at=500.0 + n), now=now)
    # first seen at 10.0: handed over 1 s later, the ten changes seen by then in it
    assert handed[0][1] == 10 and abs(handed[0][0] - 11.0) < 1e-9


def test_a_deletion_takes_its_collection_whole_and_no_section_means_the_source():
    b = _batcher()
    b.saw("P", UpstreamChange("1", "10", False, at=1.0), now=10.0)
    b.saw("P", UpstreamChange("1", "12", True, at=1.0), now=10.0)  # deleted: list it whole
    b.saw("P", UpstreamChange("2", "20", False, at=1.0), now=10.0)
    ((source, scope),) = b.settled(11.0)
    # the item of collection 1 is in its whole reconcile already; collection 2's stays alone
    assert scope == Scope(False, frozenset({"1"}), frozenset({("2", "20")}), 1.0)
    b.saw("P", UpstreamChange(None, "30", True, at=2.0), now=20.0)
    assert b.settled(21.0)[0][1].whole is True


def test_changes_of_collections_not_synced_are_dropped():
    b = _batcher()
    b.saw("P", UpstreamChange("9", "90", False, at=1.0), now=10.0)
    b.saw("Q", UpstreamChange("1", "10", False, at=1.0), now=10.0)  # a source not listened to
    assert len(b) == 0 and b.next_due() is None
