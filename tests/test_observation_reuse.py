"""One observation per apply (issue 12): `apply -c` lists each collection once, unless the
upstream moved between its plan and its execution; a saved plan lists again."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, Collection
from retrovue.importers.filesystem import FilesystemImporter
from retrovue.importers.observation import Observations, Recording
from retrovue.importers.plex import PlexImporter
from tests.helpers import fs_config, make_tree


@pytest.fixture
def listings(monkeypatch) -> Counter:
    """How many times each collection was listed (the real importers, counted)."""
    calls: Counter = Counter()
    for cls in (FilesystemImporter, PlexImporter):
        real = cls.fetch_assets_for_collection

        def counted(self, external_id, *args, _real=real, **kwargs):
            calls[external_id] += 1
            return _real(self, external_id, *args, **kwargs)

        monkeypatch.setattr(cls, "fetch_assets_for_collection", counted)
    return calls


@pytest.fixture
def library(tmp_path):
    base = make_tree(
        tmp_path / "media",
        {
            "shows": ["Space Patrol/Season 01/Space Patrol - S01E01.mkv", "Other/ep.mkv"],
            "movies": ["Night of the Robots (1962).avi", "Heat (1995).mkv"],
        },
    )
    collections = {"shows": True, "movies": True}
    # no mass-missing guard: these collections are small enough for one file to be half
    return base, str(fs_config(tmp_path / "retrovue.yaml", base, collections, missing_threshold=1))


def after_planning(monkeypatch, hook) -> None:
    """Run ``hook`` once the apply's plan is made, before anything executes."""
    import retrovue.app.declarative as declarative

    real = declarative.make_plan

    def planned(*args, **kwargs):
        plan = real(*args, **kwargs)
        hook()
        return plan

    monkeypatch.setattr(declarative, "make_plan", planned)


def stored_paths(engine, collection: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Asset.c.canonical_uri)
            .join(Collection, Collection.c.id == Asset.c.collection_id)
            .where(Collection.c.name == collection, Asset.c.missing_since.is_(None))
        )
        return {Path(r[0]).name for r in rows}


def test_apply_lists_each_collection_once(rv, db_url, engine, library, listings):
    _base, config = library
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"shows": 1, "movies": 1}
    assert stored_paths(engine, "movies") == {"Night of the Robots (1962).avi", "Heat (1995).mkv"}
    assert len(stored_paths(engine, "shows")) == 2


def test_a_collection_that_moved_after_its_plan_is_listed_again(
    rv, db_url, engine, library, listings, monkeypatch
):
    base, config = library
    after_planning(monkeypatch, lambda: (base / "movies" / "Alien (1979).mkv").write_bytes(b""))
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"shows": 1, "movies": 2}  # only the one that moved
    assert "Alien (1979).mkv" in stored_paths(engine, "movies")  # ingested as it is now


def test_a_removal_deep_in_the_tree_is_seen(rv, db_url, engine, library, listings, monkeypatch):
    base, config = library
    rv("apply", "-c", config, "--auto-approve", db=db_url)
    (base / "shows" / "Other" / "new.mkv").write_bytes(b"")
    listings.clear()
    after_planning(monkeypatch, lambda: os.unlink(base / "shows" / "Other" / "ep.mkv"))
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"shows": 2, "movies": 1}
    assert stored_paths(engine, "shows") == {"Space Patrol - S01E01.mkv", "new.mkv"}


def test_nothing_is_kept_for_a_collection_without_changes(rv, db_url, library, monkeypatch):
    _base, config = library
    rv("apply", "-c", config, "--auto-approve", db=db_url)
    (Path(library[0]) / "movies" / "Alien (1979).mkv").write_bytes(b"")
    kept = []
    real = Recording.keep
    monkeypatch.setattr(
        Recording, "keep", lambda self, key: (kept.append(key.name), real(self, key))
    )
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    assert kept == ["movies"]  # "shows" had nothing to ingest, so its listing was let go


def test_a_saved_plan_lists_again(rv, db_url, library, listings, tmp_path):
    _base, config = library
    rv("db", "upgrade", db=db_url)
    assert rv("plan", "-c", config, "--out", str(tmp_path / "plan.json"), db=db_url).code == 0
    listings.clear()
    result = rv("apply", str(tmp_path / "plan.json"), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"shows": 1, "movies": 1}  # the executor's own listing: none was kept


# -- the rule, unit by unit ---------------------------------------------------------------------


class _Importer(FilesystemImporter):
    def __init__(self, base, fresh=True):
        super().__init__({"base_path": str(base)})
        self.fresh = fresh

    def is_unchanged(self, external_id, token):
        return self.fresh


def _kept(observations: Observations, importer, key="k"):
    recording = observations.recording(
        importer, "movies", importer.fetch_assets_for_collection("movies")
    )
    items = list(recording)
    recording.keep(key)
    return items


def test_take_hands_a_listing_out_once_and_only_while_fresh(library):
    base, _ = library
    now = [100.0]
    observations = Observations(max_age=600, clock=lambda: now[0])
    items = _kept(observations, _Importer(base))
    assert list(observations.take("k", _Importer(base))) == items
    assert observations.take("k", _Importer(base)) is None  # handed out once

    _kept(observations, _Importer(base))
    assert observations.take("k", _Importer(base, fresh=False)) is None  # the upstream moved

    _kept(observations, _Importer(base))
    now[0] += 601
    assert observations.take("k", _Importer(base)) is None  # too old, whatever the proof

    _kept(observations, _Importer(base))
    other = _Importer(base)
    other.config["extensions"] = ["avi"]
    assert observations.take("k", other) is None  # not read the way this importer reads


def test_an_importer_without_a_proof_keeps_nothing(library):
    base, _ = library

    class NoProof(FilesystemImporter):
        def observation_token(self, external_id):
            return None

    observations = Observations()
    _kept(observations, NoProof({"base_path": str(base)}))
    assert len(observations) == 0


@pytest.mark.parametrize(
    "move",
    [
        lambda d: (d / "Other" / "new.mkv").write_bytes(b""),
        lambda d: os.unlink(d / "Other" / "ep.mkv"),
        lambda d: os.rename(d / "Other" / "ep.mkv", d / "Other" / "ep2.mkv"),
        lambda d: (d / "Other" / "Sub").mkdir(),
        lambda d: os.rename(d / "Other", d / "Renamed"),
    ],
    ids=["added", "removed", "renamed", "new-folder", "folder-renamed"],
)
def test_filesystem_proof_sees_the_tree_move(library, move):
    base, _ = library
    importer = FilesystemImporter({"base_path": str(base)})
    list(importer.fetch_assets_for_collection("shows"))
    token = importer.observation_token("shows")
    assert importer.is_unchanged("shows", token)
    move(base / "shows")
    assert not FilesystemImporter({"base_path": str(base)}).is_unchanged("shows", token)


def test_filesystem_proof_of_a_settled_folder_costs_one_stat(library, monkeypatch):
    base, _ = library
    for folder, _dirs, _files in os.walk(base / "shows"):
        os.utime(folder, ns=(1_000_000_000, 1_000_000_000))  # modified long before the walk
    importer = FilesystemImporter({"base_path": str(base)})
    list(importer.fetch_assets_for_collection("shows"))
    token = importer.observation_token("shows")
    monkeypatch.setattr(os, "listdir", lambda _p: pytest.fail("a settled folder is not listed"))
    assert importer.is_unchanged("shows", token)


def test_an_unfinished_listing_gives_no_proof(library):
    base, _ = library
    importer = FilesystemImporter({"base_path": str(base)})
    next(iter(importer.fetch_assets_for_collection("shows")))
    assert importer.observation_token("shows") is None


# -- Plex: one listing per section per apply ----------------------------------------------------

TOKEN_ENV = "TEST_PLEX_TOKEN"


def _plex_config(tmp_path, plex, local):
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN_ENV + "}"},
                "collections": [
                    {
                        "name": "TV",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/TV", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


@pytest.fixture
def plex_tv(fake_plex, tmp_path, monkeypatch):
    tv = fake_plex.add_section("2", "TV", "show", ["/data/TV"])
    for n in range(3):
        fake_plex.add_show(tv, f"Show {n}", {1: 10, 2: 10})
    local = tmp_path / "nas" / "TV"
    local.mkdir(parents=True)
    monkeypatch.setenv(TOKEN_ENV, fake_plex.token)
    monkeypatch.setattr(PlexImporter, "page_size", 7)  # 60 episodes: 9 pages
    return fake_plex, tv, _plex_config(tmp_path, fake_plex, local)


def test_plex_apply_lists_the_section_once(rv, db_url, engine, plex_tv, listings):
    plex, _tv, config = plex_tv
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"2": 1}
    pages = [
        r
        for r in plex.requests_to(r"/library/sections/2/all")
        if r.query.get("X-Plex-Container-Size") != "0"
    ]
    assert len(pages) == math.ceil(60 / 7)
    # the whole apply: the listing's pages plus a constant (root and sections per importer,
    # and the executor's one count-only request)
    assert len(plex.log) <= math.ceil(60 / 7) + 6
    with engine.connect() as conn:
        assert len(conn.execute(select(Asset.c.id)).all()) == 60


def test_plex_section_that_moved_after_its_plan_is_listed_again(
    rv, db_url, engine, plex_tv, listings, monkeypatch
):
    plex, tv, config = plex_tv
    after_planning(
        monkeypatch, lambda: plex.add_season(tv.items[0], 3, episodes=2, root="/data/TV")
    )
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert listings == {"2": 2}
    with engine.connect() as conn:
        assert len(conn.execute(select(Asset.c.id)).all()) == 62
