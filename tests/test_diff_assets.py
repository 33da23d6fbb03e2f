"""The pure asset diff (DESIGN §7, contracts §12.2), on hand-built snapshots."""

import uuid

from retrovue.diff.assets import UNMAPPED_REASON, diff_assets
from retrovue.importers.base import UpstreamAsset
from retrovue.model.actions import SkipReason
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import ExistingAsset
from retrovue.model.stored_index import StoredIndex


def up(uri, token="t1", path=None):
    return UpstreamAsset(source_uri=uri, path=path or f"/m/{uri}", size=1, change_token=token)


def known(uri, token="t1", canonical=None, missing=False):
    # the id as SQLite's text gives it: the index hands stored ids back in the database's form
    return uri, ExistingAsset(uri, uuid.uuid4().hex, token, canonical or f"/m/{uri}", missing)


def stored(rows: dict) -> StoredIndex:
    return StoredIndex.of(rows.values())


def test_new_changed_unchanged_missing():
    existing = dict([known("a"), known("b"), known("c"), known("d"), known("e"), known("f")])
    diff = diff_assets(
        stored(existing), [up("a"), up("b", "t2"), up("c"), up("d"), up("e"), up("new")]
    )
    c = diff.counts()
    assert (c.new, c.changed, c.unchanged, c.missing) == (1, 1, 4, 1)
    assert diff.missing == [existing["f"].id]


def test_reappeared_is_counted_on_top_of_its_category():
    existing = dict([known("a", missing=True), known("b")])
    diff = diff_assets(stored(existing), [up("a"), up("b")])
    assert diff.reappeared == [existing["a"].id]
    assert diff.counts().unchanged == 2


def test_narrowed_scope_never_marks_missing():
    existing = dict([known("a"), known("b")])
    diff = diff_assets(stored(existing), [up("a")], full_scope=False)
    assert diff.missing == [] and not diff.degraded


def test_duplicates_by_canonical_uri_smallest_source_uri_wins():  # N-3
    existing = dict([known("held", canonical="/m/same-as-held")])
    diff = diff_assets(
        stored(existing),
        [
            up("held", path="/m/same-as-held"),
            up("z", path="/m/x"),
            up("y", path="/m/x"),
            up("w", path="/m/same-as-held"),
        ],
    )
    assert [i.source_uri for i, _ in diff.new] == ["y"]
    assert diff.duplicates == 2
    c = diff.counts()
    assert c.discovered == c.new + c.changed + c.remapped + c.unchanged + c.unmapped + c.duplicates


def test_remapped_when_only_canonical_changes():  # N-9
    existing = dict([known("a", canonical="/old/a")])
    diff = diff_assets(stored(existing), [up("a", path="/new/a")])
    assert diff.remapped == [(existing["a"].id, "/new/a")]


def test_unmapped_items_are_counted_with_an_example():
    diff = diff_assets(
        stored({}), [up("a", path="/srv/a"), up("b", path="/srv/b")], to_canonical=lambda p: None
    )
    assert (diff.unmapped, diff.unmapped_example, list(diff.new)) == (2, "/srv/a", [])


def test_mass_missing_guard_suppresses_above_threshold():
    existing = dict(known(f"a{i}") for i in range(10))
    diff = diff_assets(stored(existing), [up(f"a{i}") for i in range(7)], missing_threshold=0.2)
    assert diff.degraded and diff.missing == [] and diff.missing_suppressed == 3
    assert "30%" in diff.degraded_reason
    allowed = diff_assets(
        stored(existing),
        [up(f"a{i}") for i in range(7)],
        missing_threshold=0.2,
        allow_mass_missing=True,
    )
    assert allowed.degraded and len(allowed.missing) == 3


def test_mass_missing_guard_empty_upstream():
    existing = dict([known("a")])
    diff = diff_assets(stored(existing), [])
    assert diff.degraded and diff.missing == [] and "no items" in diff.degraded_reason


def test_below_threshold_marks_missing():
    existing = dict(known(f"a{i}") for i in range(10))
    diff = diff_assets(stored(existing), [up(f"a{i}") for i in range(8)], missing_threshold=0.2)
    assert not diff.degraded and len(diff.missing) == 2


def test_counts_of_a_mixed_run_are_exact():  # N-4: reappeared counts on top of its category
    existing = dict(
        [known("a"), known("b"), known("c", missing=True), known("d")]
        + [known(f"k{i}") for i in range(7)]
    )
    upstream = [up("a"), up("b", "t2"), up("c"), up("new")] + [up(f"k{i}") for i in range(7)]
    diff = diff_assets(stored(existing), upstream)
    assert diff.counts() == IngestCounts(
        discovered=11, new=1, changed=1, unchanged=9, missing=1, reappeared=1
    )
    assert diff.missing == [existing["d"].id] and diff.reappeared == [existing["c"].id]
    assert not diff.degraded


def test_unchanged_token_and_canonical_writes_nothing():  # B-16 / B-18
    existing = dict([known("a", canonical="/local/a")])
    diff = diff_assets(
        stored(existing), [up("a", path="/srv/a")], to_canonical=lambda p: "/local/a"
    )
    assert list(diff.new) == list(diff.changed) == [] == diff.remapped
    assert diff.reappeared == diff.missing == []
    assert diff.counts() == IngestCounts(discovered=1, unchanged=1)


def test_changed_token_is_changed_with_the_new_canonical_not_remapped():  # B-17
    existing = dict([known("a", canonical="/old/a")])
    item = up("a", "t2", path="/new/a")
    diff = diff_assets(stored(existing), [item])
    assert list(diff.changed) == [(existing["a"].id, item, "/new/a")]
    assert diff.remapped == [] and diff.counts().unchanged == 0


def test_reappeared_with_a_new_token_is_changed_and_reappeared():  # N-4
    existing = dict([known("a", missing=True)])
    diff = diff_assets(stored(existing), [up("a", "t2")])
    assert (diff.counts().changed, diff.counts().reappeared, diff.counts().unchanged) == (1, 1, 0)


def test_same_source_uri_listed_twice_is_one_item_and_one_duplicate():
    diff = diff_assets(stored({}), [up("a"), up("a")])
    assert [i.source_uri for i, _ in diff.new] == ["a"]
    assert diff.counts() == IngestCounts(discovered=2, new=1, duplicates=1)


def test_canonical_held_only_by_a_missing_asset_is_not_taken():  # N-3: taken = non-missing
    existing = dict([known("old", canonical="/m/x", missing=True)])
    diff = diff_assets(stored(existing), [up("new", path="/m/x")])
    assert [(i.source_uri, c) for i, c in diff.new] == [("new", "/m/x")]
    assert diff.duplicates == 0 and diff.missing == [] and not diff.degraded


def test_new_items_are_stored_under_their_mapped_canonical_uri():  # N-2
    item = up("a", path="/srv/Movies/a.mkv")
    diff = diff_assets(stored({}), [item], to_canonical=lambda p: p.replace("/srv", "/mnt/nas", 1))
    assert list(diff.new) == [(item, "/mnt/nas/Movies/a.mkv")]


def test_unmapped_items_give_one_skip_reason_with_the_first_example():  # N-2
    def to_canonical(path):
        return path.replace("/srv", "/mnt", 1) if path.startswith("/srv/") else None

    diff = diff_assets(
        stored({}),
        [up("a", path="/other/a"), up("b", path="/srv/b"), up("c", path="/other/c")],
        to_canonical=to_canonical,
    )
    assert diff.skip_reasons() == (SkipReason(UNMAPPED_REASON, 2, "/other/a"),)
    assert diff.counts() == IngestCounts(discovered=3, new=1, unmapped=2)


def test_no_unmapped_items_no_skip_reason():
    assert diff_assets(stored({}), [up("a")], to_canonical=lambda p: p).skip_reasons() == ()


def test_mass_missing_empty_upstream_with_override_marks_all_missing():  # N-5
    existing = dict([known("a"), known("b")])
    diff = diff_assets(stored(existing), [], allow_mass_missing=True)
    assert diff.degraded and diff.missing_suppressed == 0
    assert sorted(map(str, diff.missing)) == sorted(str(a.id) for a in existing.values())


def test_empty_upstream_suppresses_missing_and_counts_it():  # N-5
    existing = dict([known("a"), known("b")])
    diff = diff_assets(stored(existing), [])
    assert diff.counts() == IngestCounts(missing_suppressed=2)
    assert diff.degraded_reason == "the upstream returned no items for a non-empty collection"


def test_empty_upstream_for_a_collection_with_only_missing_assets_is_not_degraded():  # N-5
    existing = dict([known("a", missing=True)])
    diff = diff_assets(stored(existing), [])
    assert not diff.degraded and diff.missing == [] and diff.missing_suppressed == 0


def test_empty_upstream_for_an_empty_collection_is_not_degraded():
    diff = diff_assets(stored({}), [])
    assert not diff.degraded and diff.counts() == IngestCounts()


def test_mass_missing_ratio_counts_only_non_missing_assets():  # N-5
    present = [known(f"p{i}") for i in range(5)]
    already = [known(f"m{i}", missing=True) for i in range(5)]
    existing = dict(present + already)
    diff = diff_assets(stored(existing), [up(f"p{i}") for i in range(3)], missing_threshold=0.2)
    # 2 of 5 present (40%), not 2 of 10 (20%, which would pass)
    assert diff.degraded and diff.missing == [] and diff.missing_suppressed == 2
    assert diff.degraded_reason == ("2 of 5 assets (40%) would go missing, above the 20% threshold")


def test_missing_threshold_is_the_one_given():
    existing = dict(known(f"a{i}") for i in range(10))
    diff = diff_assets(stored(existing), [up(f"a{i}") for i in range(7)], missing_threshold=0.5)
    assert not diff.degraded and len(diff.missing) == 3


def test_already_missing_asset_is_not_marked_again():  # N-4
    existing = dict([known("gone", missing=True)] + [known(f"a{i}") for i in range(5)])
    diff = diff_assets(stored(existing), [up(f"a{i}") for i in range(5)])
    assert diff.missing == [] and not diff.degraded
    assert diff.counts() == IngestCounts(discovered=5, unchanged=5)


def test_describe_completes_only_the_changed_items():
    """New items stay as listed: the writer completes them one batch at a time, so a first
    ingest never holds a completed copy of every item (test_bulk_insert covers that side)."""
    existing = dict([known("same"), known("changed")])
    calls = []

    def describe(item):
        calls.append(item.source_uri)
        return item._replace(title=f"described {item.source_uri}")

    diff = diff_assets(
        stored(existing), [up("same"), up("changed", "t2"), up("new")], describe=describe
    )
    assert calls == ["changed"]
    assert [i.title for i, _ in diff.new] == [None]
    assert [i.title for _, i, _ in diff.changed] == ["described changed"]


def test_the_listing_is_consumed_with_the_cyclic_gc_paused_and_resumed_after():
    """A million-item listing would otherwise have the collector walk the growing heap again and
    again (retrovue.gc_pause); it runs again once the diff is made."""
    import gc

    seen_enabled = []

    def listing():
        for name in ("a", "b"):
            seen_enabled.append(gc.isenabled())
            yield up(name)

    assert gc.isenabled()
    diff_assets(stored({}), listing())
    assert seen_enabled == [False, False] and gc.isenabled()


def test_an_item_not_offered_is_counted_and_goes_missing_like_a_deleted_one():
    """Issue 19: a listed item that is no content (in the upstream's trash, say) is a named,
    counted skip; what is stored under its identity is not seen, so it goes missing."""
    from retrovue.model.upstream import NOT_OFFERED

    existing = dict([known(u) for u in "abcdef"])
    trashed = UpstreamAsset("a", "/m/a", None, "", kind=NOT_OFFERED, problem="in the trash")
    diff = diff_assets(stored(existing), [trashed, *(up(u) for u in "bcdef"), up("new")])
    assert diff.missing == [existing["a"].id] and len(diff.new) == 1
    assert diff.skip_reasons() == (SkipReason("in the trash", 1, "/m/a"),)
