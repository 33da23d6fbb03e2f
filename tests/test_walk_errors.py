"""One file the walk cannot read stops nothing else (issue 17, item 3).

A symlink loop, a dangling symlink, EIO/ESTALE/EACCES on one file, a subfolder that cannot be
listed: each is a counted skip with its reason in the plan (text and ``--json``), the healthy
collection beside it is planned and applied, and what is already stored behind the error is
not marked missing.  Only an unreadable collection root fails that collection, alone.
"""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset
from retrovue.importers.filesystem import BROKEN_SYMLINK, FilesystemImporter
from tests.helpers import fs_config, make_tree


def _library(tmp_path):
    """Collection "a" (where things go wrong) beside the healthy collection "b"."""
    base = make_tree(tmp_path / "media", {"a": ["ok.mkv"], "b": ["fine.mkv"]})
    return base, fs_config(tmp_path / "r.yaml", base, {"a": True, "b": True})


def _ingests(plan_json: str) -> dict[str, dict]:
    doc = json.loads(plan_json)
    return {a["collection"]["name"]: a for a in doc["actions"] if a["kind"] == "ingest_collection"}


def _stored(engine) -> dict[str, bool]:
    """file name -> whether it is marked missing."""
    with engine.connect() as conn:
        rows = conn.execute(select(Asset.c.canonical_uri, Asset.c.missing_since)).all()
    return {os.path.basename(uri): missing is not None for uri, missing in rows}


def _reasons(ingest: dict) -> list[tuple[str, int]]:
    return [(s["reason"], s["count"]) for s in ingest["skipped_reasons"]]


class _Listing(list):
    """What ``os.scandir`` returns, for a stand-in: iterable and a context manager."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _FailingStat:
    """A DirEntry whose stat() fails as a dropped NFS mount or a bad disk makes it fail."""

    def __init__(self, entry: os.DirEntry, error: OSError):
        self._entry, self._error = entry, error

    def __getattr__(self, name):
        return getattr(self._entry, name)

    def stat(self, *, follow_symlinks=True):
        raise self._error


def _fail_stat_of(monkeypatch, path, code: int) -> None:
    real = os.scandir

    def scandir(folder="."):
        error = OSError(code, os.strerror(code), str(path))
        entries = [_FailingStat(e, error) if e.path == str(path) else e for e in real(folder)]
        return _Listing(entries)

    monkeypatch.setattr(os, "scandir", scandir)


def _fail_listing_of(monkeypatch, folder, code: int) -> None:
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(folder):
            raise OSError(code, os.strerror(code), str(folder))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def _plan_and_apply(rv, db_url, config):
    plan = rv("plan", "-c", str(config), "--json", db=db_url)
    assert plan.code == 0, plan.err
    text = rv("plan", "-c", str(config), db=db_url)
    assert text.code == 0, text.err
    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err + applied.out
    return _ingests(plan.out), text.out


def test_a_symlink_loop_is_a_counted_skip_and_the_rest_is_ingested(rv, db_url, engine, tmp_path):
    base, config = _library(tmp_path)
    os.symlink("l2.mkv", base / "a" / "l1.mkv")
    os.symlink("l1.mkv", base / "a" / "l2.mkv")
    ingests, text = _plan_and_apply(rv, db_url, config)
    loop = f"cannot read file: {os.strerror(errno.ELOOP)}"
    assert _reasons(ingests["a"]) == [(loop, 2)]
    assert ingests["a"]["counts"]["new"] == 1 and ingests["a"]["counts"]["unusable"] == 2
    assert ingests["b"]["counts"]["new"] == 1
    assert f"skipped: {loop} (2, e.g. {base / 'a' / 'l1.mkv'})" in text
    assert _stored(engine) == {"ok.mkv": False, "fine.mkv": False}
    again = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert again.code == 0, again.out  # a skip is no change: the plan converges


def test_a_dangling_symlink_is_a_counted_skip(rv, db_url, engine, tmp_path):
    base, config = _library(tmp_path)
    os.symlink(tmp_path / "nowhere.mkv", base / "a" / "gone.mkv")
    ingests, text = _plan_and_apply(rv, db_url, config)
    assert _reasons(ingests["a"]) == [(BROKEN_SYMLINK, 1)]
    assert f"skipped: {BROKEN_SYMLINK} (1, e.g. {base / 'a' / 'gone.mkv'})" in text
    assert _stored(engine) == {"ok.mkv": False, "fine.mkv": False}


@pytest.mark.parametrize("code", [errno.EIO, errno.ESTALE, errno.EACCES])
def test_an_unreadable_file_is_skipped_and_its_stored_asset_kept(
    rv, db_url, engine, tmp_path, monkeypatch, code
):
    base, config = _library(tmp_path)
    (base / "a" / "bad.mkv").write_bytes(b"x")
    first = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert first.code == 0, first.err
    (base / "b" / "new.mkv").write_bytes(b"x")
    _fail_stat_of(monkeypatch, base / "a" / "bad.mkv", code)
    ingests, text = _plan_and_apply(rv, db_url, config)
    reason = f"cannot read file: {os.strerror(code)}"
    assert _reasons(ingests["a"]) == [(reason, 1)]
    assert ingests["a"]["counts"]["missing"] == 0
    assert ingests["b"]["counts"]["new"] == 1
    assert f"skipped: {reason} (1, e.g. {base / 'a' / 'bad.mkv'})" in text
    stored = _stored(engine)
    assert stored["bad.mkv"] is False  # the file is still there: not marked missing
    assert stored["new.mkv"] is False


def test_a_subfolder_that_cannot_be_listed_is_skipped_and_what_it_held_kept(
    rv, db_url, engine, tmp_path, monkeypatch
):
    base, config = _library(tmp_path)
    make_tree(base, {"a": ["show/ep1.mkv", "show/ep2.mkv"]})
    first = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert first.code == 0, first.err
    (base / "b" / "new.mkv").write_bytes(b"x")
    _fail_listing_of(monkeypatch, base / "a" / "show", errno.ESTALE)  # a dropped NFS mount
    ingests, text = _plan_and_apply(rv, db_url, config)
    reason = f"cannot list folder: {os.strerror(errno.ESTALE)}"
    assert _reasons(ingests["a"]) == [(reason, 1)]
    assert ingests["a"]["counts"]["missing"] == 0 and not ingests["a"]["degraded"]
    assert f"skipped: {reason} (1, e.g. {base / 'a' / 'show'})" in text
    assert _stored(engine) == dict.fromkeys(
        ["ok.mkv", "ep1.mkv", "ep2.mkv", "fine.mkv", "new.mkv"], False
    )


def _too_long_folder(parent) -> str:
    """A folder under ``parent`` whose path is longer than PATH_MAX: made one level at a time
    (mkdirat), it cannot be listed by its path (ENAMETOOLONG), even by root."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    path = str(parent)
    try:
        while len(path) <= os.pathconf("/", "PC_PATH_MAX"):
            name = "d" * 250
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd, path = inner, f"{path}/{name}"
        os.close(os.open("deep.mkv", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    return path


def test_a_folder_too_deep_to_list_is_skipped_not_the_collection(rv, db_url, engine, tmp_path):
    base, config = _library(tmp_path)
    _too_long_folder(base / "a")
    try:
        ingests, text = _plan_and_apply(rv, db_url, config)
        reason = f"cannot list folder: {os.strerror(errno.ENAMETOOLONG)}"
        assert _reasons(ingests["a"]) == [(reason, 1)]
        assert f"skipped: {reason} (1, e.g. " in text
        assert _stored(engine) == {"ok.mkv": False, "fine.mkv": False}
    finally:
        shutil.rmtree(base / "a")


def test_an_unreadable_collection_root_fails_that_collection_alone(
    rv, db_url, engine, tmp_path, monkeypatch
):
    base, config = _library(tmp_path)
    _fail_listing_of(monkeypatch, base / "a", errno.EIO)
    plan = rv("plan", "-c", str(config), "--json", db=db_url)
    assert plan.code == 3, plan.err  # an upstream problem; the rest is still planned
    doc = json.loads(plan.out)
    assert [(p["collection"], p["kind"]) for p in doc["problems"]] == [("a", "upstream")]
    assert set(_ingests(plan.out)) == {"b"}
    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 2, applied.err + applied.out  # partial: b committed, a not
    assert _stored(engine) == {"fine.mkv": False}


def test_a_base_path_entry_whose_type_cannot_be_read_is_a_skipped_collection(
    rv, db_url, engine, tmp_path
):
    base, _ = _library(tmp_path)
    os.symlink("loop", base / "loop")  # followed, as asked: ELOOP
    config = tmp_path / "follow.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "Library",
                        "type": "filesystem",
                        "config": {"base_path": str(base), "follow_symlinks": True},
                        "collections": [{"name": "a", "sync": True}, {"name": "b", "sync": True}],
                    }
                ],
            }
        )
    )
    plan = rv("plan", "-c", str(config), "--json", db=db_url)
    assert plan.code == 0, plan.err
    doc = json.loads(plan.out)
    assert [(s["name"], s["reason"]) for s in doc["skipped_collections"]] == [
        ("loop", f"cannot read folder: {os.strerror(errno.ELOOP)}")
    ]
    assert set(_ingests(plan.out)) == {"a", "b"}
    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err + applied.out
    assert _stored(engine) == {"ok.mkv": False, "fine.mkv": False}


def test_a_walk_that_skipped_an_entry_offers_no_proof_to_reuse(tmp_path):
    """A skipped file may read fine a moment later: apply then lists the collection again
    instead of reusing the plan's listing."""
    base, _ = _library(tmp_path)
    imp = FilesystemImporter({"base_path": str(base)})
    list(imp.fetch_assets_for_collection("b"))
    assert imp.observation_token("b") is not None
    os.symlink(tmp_path / "nowhere.mkv", base / "b" / "gone.mkv")
    items = list(imp.fetch_assets_for_collection("b"))
    assert [i.problem for i in items] == [None, BROKEN_SYMLINK]
    assert imp.observation_token("b") is None
