"""The pure asset diff (DESIGN §7, contracts §12.2), on hand-built snapshots."""

import uuid

from retrovue.diff.assets import diff_assets
from retrovue.importers.base import UpstreamAsset
from retrovue.model.snapshots import ExistingAsset


def up(uri, token="t1", path=None):
    return UpstreamAsset(source_uri=uri, path=path or f"/m/{uri}", size=1, change_token=token)


def known(uri, token="t1", canonical=None, missing=False):
    return uri, ExistingAsset(uri, uuid.uuid4(), token, canonical or f"/m/{uri}", missing)


def test_new_changed_unchanged_missing():
    existing = dict([known("a"), known("b"), known("c"), known("d"), known("e"), known("f")])
    diff = diff_assets(existing, [up("a"), up("b", "t2"), up("c"), up("d"), up("e"), up("new")])
    c = diff.counts()
    assert (c.new, c.changed, c.unchanged, c.missing) == (1, 1, 4, 1)
    assert diff.missing == [existing["f"].id]


def test_reappeared_is_counted_on_top_of_its_category():
    existing = dict([known("a", missing=True), known("b")])
    diff = diff_assets(existing, [up("a"), up("b")])
    assert diff.reappeared == [existing["a"].id]
    assert diff.counts().unchanged == 2


def test_narrowed_scope_never_marks_missing():
    existing = dict([known("a"), known("b")])
    diff = diff_assets(existing, [up("a")], full_scope=False)
    assert diff.missing == [] and not diff.degraded


def test_duplicates_by_canonical_uri_smallest_source_uri_wins():  # N-3
    existing = dict([known("held", canonical="/m/same-as-held")])
    diff = diff_assets(
        existing,
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
    diff = diff_assets(existing, [up("a", path="/new/a")])
    assert diff.remapped == [(existing["a"].id, "/new/a")]


def test_unmapped_items_are_counted_with_an_example():
    diff = diff_assets(
        {}, [up("a", path="/srv/a"), up("b", path="/srv/b")], to_canonical=lambda p: None
    )
    assert (diff.unmapped, diff.unmapped_example, diff.new) == (2, "/srv/a", [])


def test_mass_missing_guard_suppresses_above_threshold():
    existing = dict(known(f"a{i}") for i in range(10))
    diff = diff_assets(existing, [up(f"a{i}") for i in range(7)], missing_threshold=0.2)
    assert diff.degraded and diff.missing == [] and diff.missing_suppressed == 3
    assert "30%" in diff.degraded_reason
    allowed = diff_assets(
        existing, [up(f"a{i}") for i in range(7)], missing_threshold=0.2, allow_mass_missing=True
    )
    assert allowed.degraded and len(allowed.missing) == 3


def test_mass_missing_guard_empty_upstream():
    existing = dict([known("a")])
    diff = diff_assets(existing, [])
    assert diff.degraded and diff.missing == [] and "no items" in diff.degraded_reason


def test_below_threshold_marks_missing():
    existing = dict(known(f"a{i}") for i in range(10))
    diff = diff_assets(existing, [up(f"a{i}") for i in range(8)], missing_threshold=0.2)
    assert not diff.degraded and len(diff.missing) == 2
