"""A Spill keeps appended values in a private temporary file past a memory budget (issue 23)."""

from __future__ import annotations

import uuid

import pytest

import retrovue.diff.assets as assets_module
import retrovue.model.stored_index as stored_index_module
from retrovue import spill as spill_module
from retrovue.diff.assets import diff_assets
from retrovue.model.snapshots import ExistingAsset
from retrovue.model.stored_index import StoredIndex
from retrovue.model.upstream import UpstreamAsset
from retrovue.spill import Spill


def test_values_come_back_in_order_across_batches_and_reads():
    spill: Spill[tuple] = Spill(batch=3, budget=1)
    values = [(n, f"v{n}", {"m": [n, None, 1.5]}) for n in range(10)]
    spill.extend(values)
    assert len(spill) == 10 and spill
    assert list(spill) == values
    assert list(spill) == values  # read again: the file is kept until closed
    spill.append((10, "late", {}))
    assert list(spill)[-2:] == [values[-1], (10, "late", {})]


def test_past_the_budget_only_one_batch_is_held_in_memory():
    spill: Spill[str] = Spill(batch=4, budget=1)
    spill.extend(str(n) for n in range(1001))
    assert len(spill._held) == 1  # 1,000 values are in the file
    assert spill._file is not None and spill._file.seek(0, 2) > 1000


def test_values_within_the_budget_are_held_as_they_are():
    """A small diff (the usual re-ingest) pays nothing for the file."""
    values = [(n, f"value {n}") for n in range(5000)]
    spill: Spill[tuple] = Spill(batch=100, budget=10 * 2**20)
    spill.extend(values)
    assert spill._file is None and list(spill) == values and list(spill)[0] is values[0]
    spill.extend(values * 100)  # ~50 MiB: written out, all but the batch being filled
    assert spill._file is not None and len(spill._held) < 100
    assert list(spill) == values * 101


def test_values_marshal_cannot_write_fall_back_to_pickle():
    ids = [uuid.uuid4() for _ in range(5)]
    spill: Spill[uuid.UUID] = Spill(batch=2, budget=1)
    spill.extend(ids)
    assert list(spill) == ids


def test_close_drops_the_values_and_keeps_their_number():
    spill: Spill[int] = Spill(batch=2, budget=1)
    spill.extend(range(5))
    spill.close()
    assert (len(spill), list(spill)) == (5, [])


def _item(n: int, path: str | None = None) -> UpstreamAsset:
    return UpstreamAsset(
        f"plex://{n}",
        path or f"/srv/{n}.mkv",
        n,
        f"t{n}",
        "episode",
        title=f"Episode {n}",
        metadata={"rating_key": str(n), "media": {"width": 1920, "origin": "plex-listing"}},
    )


def test_a_diff_of_new_items_past_the_budget_gives_each_back_whole(monkeypatch):
    monkeypatch.setattr(spill_module, "MEMORY_BUDGET", 1)
    items = [_item(n) for n in range(2500)]
    diff = diff_assets(StoredIndex(), iter(items))
    assert diff.new._file is not None  # written out, and read back
    assert diff.counts().new == 2500
    assert list(diff.new) == [(item, item.path) for item in items]


def test_a_plan_keeps_only_bare_new_and_changed_items():
    stored = StoredIndex.of([ExistingAsset("plex://1", uuid.uuid4().hex, "old", "/srv/1.mkv", 0)])
    diff = diff_assets(stored, [_item(1), _item(2)], keep_items=False)
    [(new, _path)] = list(diff.new)
    [(_id, changed, _path)] = list(diff.changed)
    assert (new.source_uri, new.metadata, new.title) == ("plex://2", None, None)
    assert (changed.source_uri, changed.change_token, changed.metadata) == ("plex://1", "t1", None)


def test_a_hash_shared_by_different_paths_makes_no_duplicate(monkeypatch):
    """The collision check keeps hashes of the new paths; equal hashes only make suspects,
    whose real paths decide: the smallest source_uri wins a shared path, a stored path stays
    taken, and distinct paths are all new."""
    for module in (assets_module, stored_index_module):  # the index hashes as the diff does
        monkeypatch.setattr(module, "hash", lambda value: 7, raising=False)
    # the stored path shares its hash with every listed one: its CRC-32 tells it apart
    stored = StoredIndex.of([ExistingAsset("plex://0", uuid.uuid4().hex, "t0", "/srv/held.mkv", 0)])
    listed = [
        _item(5, "/srv/shared.mkv"),
        _item(3, "/srv/shared.mkv"),
        _item(4, "/srv/own.mkv"),
        _item(6, "/srv/held.mkv"),
        _item(0, "/srv/held.mkv"),
    ]
    diff = diff_assets(stored, listed, keep_paths=True)
    assert sorted(i.source_uri for i, _ in diff.new) == ["plex://3", "plex://4"]
    assert diff.duplicates == 2 and sorted(diff.duplicate_paths) == [
        "/srv/held.mkv",
        "/srv/shared.mkv",
    ]
    assert diff.counts().unchanged == 1


@pytest.mark.parametrize("order", [1, -1], ids=["listed", "reversed"])
def test_the_smallest_source_uri_wins_a_shared_path_in_any_listing_order(order):
    listed = [_item(n, "/srv/same.mkv") for n in (3, 1, 2)][::order]
    diff = diff_assets(StoredIndex(), listed)
    assert [i.source_uri for i, _ in diff.new] == ["plex://1"] and diff.duplicates == 2


def test_a_temporary_folder_that_cannot_be_written_is_a_named_error(tmp_path, monkeypatch):
    """No traceback and no plain OSError when the spill's folder is missing or full: a typed
    error naming the folder, which fails the unit being planned or applied."""
    import tempfile

    from retrovue.errors import ScratchSpaceError

    missing = tmp_path / "no-such-folder"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    spill = Spill(batch=2, budget=0)
    with pytest.raises(ScratchSpaceError) as caught:
        spill.extend(range(10))
    assert str(missing) in caught.value.message and caught.value.code == "SCRATCH_SPACE"
