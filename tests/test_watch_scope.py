"""Issue 21: folder-scoped ingest.  A `watch` event reconciles only the folders it names: the
importer lists those folders, only the assets stored under them are compared, so nothing
outside them can go missing; a saved plan carrying such a scope is checked again by the
executor.  The watch tests run the real CLI in a subprocess; nothing here is timed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from retrovue.config.validate import load_config
from retrovue.database.tables import Asset, IngestRun
from retrovue.execute.executor import Executor
from retrovue.importers.registry import load_registry
from retrovue.model.enums import RunStatus, Scope
from retrovue.observe.keys import database_key
from retrovue.plan.builder import PlanOptions
from retrovue.plan.saved import sealed
from tests.helpers import fs_config, make_tree, plan_on

#: four folders of five films: a folder is 25 % of the collection, above the guard's 20 %, so
#: deletions here stay one file at a time
LAYOUT = {
    f"movies/{folder}": [f"{folder} Film {i} ({2000 + i}).mkv" for i in range(5)]
    for folder in ("Alpha", "Beta", "Gamma", "Delta")
}


@pytest.fixture
def library(tmp_path):
    media = make_tree(tmp_path / "media", LAYOUT)
    return fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}), media


def _row(engine, path: Path):
    with engine.connect() as conn:
        return conn.execute(
            select(Asset.c.id, Asset.c.missing_since, Asset.c.updated_at).where(
                Asset.c.canonical_uri == str(path)
            )
        ).first()


def _present(engine, path: Path) -> bool:
    row = _row(engine, path)
    return row is not None and row.missing_since is None


def _missing(engine, path: Path) -> bool:
    row = _row(engine, path)
    return row is not None and row.missing_since is not None


def _runs(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(IngestRun.c.trigger, IngestRun.c.scope, IngestRun.c.counts).order_by(
                IngestRun.c.started_at
            )
        ).all()


def _ghost(engine, real: Path) -> Path:
    """Make the stored asset of ``real`` stand for a file that does not exist, as a deletion
    no event reported would leave it (a network mount's remote delete)."""
    ghost = real.with_name("Ghost (1999).mkv")
    with engine.begin() as conn:
        conn.execute(
            update(Asset)
            .where(Asset.c.canonical_uri == str(real))
            .values(source_uri="file://" + str(ghost).replace(" ", "%20"), canonical_uri=str(ghost))
        )
    return ghost


def _event_reports(watching) -> list[str]:
    return [line for line in watching.lines if "watch-event of source" in line]


# --- the watch -------------------------------------------------------------------------------


def test_an_event_ingests_its_folder_and_touches_nothing_else(watching, library, engine):
    _config, media = library
    # a file of Beta's gone with no event: only a resync (a whole listing) may find it
    unseen = _ghost(engine, media / "movies" / "Beta" / "Beta Film 0 (2000).mkv")
    untouched = _row(engine, media / "movies" / "Gamma" / "Gamma Film 1 (2001).mkv")
    added = media / "movies" / "Alpha" / "Arrival (2016).mkv"
    partial = media / "Arrival.part"
    partial.write_bytes(b"x" * 1000)
    shutil.move(partial, added)  # copied beside, moved in whole, as copiers do
    watching.wait_for(lambda: _present(engine, added), "the new asset")
    watching.wait_for(lambda: watching.said('watch-event of source "Library": ok'), "the report")
    assert _present(engine, unseen)  # outside the event's folder: not compared, not missing
    assert _row(engine, media / "movies" / "Gamma" / "Gamma Film 1 (2001).mkv") == untouched
    trigger, scope, counts = _runs(engine)[-1]
    # the ingest compared Alpha's five stored files and the new one, not the collection's 20
    assert (trigger, scope) == ("watch-event", Scope.FOLDERS)
    assert (counts["discovered"], counts["new"], counts["missing"]) == (6, 1, 0)

    # a deletion in Beta is seen, and marks only what is gone in that path
    gone = media / "movies" / "Beta" / "Beta Film 3 (2003).mkv"
    gone.unlink()
    watching.wait_for(lambda: _missing(engine, gone), "the deleted file marked missing")
    assert _present(engine, unseen)
    assert watching.stop() == 0


def test_a_file_in_the_collection_root_is_ingested_alone(watching, library, engine):
    _config, media = library
    unseen = _ghost(engine, media / "movies" / "Gamma" / "Gamma Film 0 (2000).mkv")
    flat = media / "movies" / "Flat (2011).mkv"
    flat.write_bytes(b"x" * 10)
    watching.wait_for(lambda: _present(engine, flat), "the file in the root")
    trigger, scope, counts = _runs(engine)[-1]
    assert (trigger, scope, counts["discovered"], counts["new"]) == (
        "watch-event",
        Scope.FOLDERS,
        1,  # that file, not the root's folders
        1,
    )
    assert _present(engine, unseen)
    assert watching.stop() == 0


def test_a_file_in_a_folder_made_after_the_start_is_ingested(watching, library, engine):
    _config, media = library
    season = media / "movies" / "New Show" / "Season 01"
    season.mkdir(parents=True)  # folders the watch never saw at its start
    first = season / "New Show - S01E01.mkv"
    first.write_bytes(b"x" * 100)
    watching.wait_for(lambda: _present(engine, first), "the file in the new folder")
    second = season / "New Show - S01E02.mkv"  # a later file there: the folder is watched
    second.write_bytes(b"x" * 100)
    watching.wait_for(lambda: _present(engine, second), "a later file in the new folder")
    assert all(scope == Scope.FOLDERS for trigger, scope, _ in _runs(engine)[1:])
    assert watching.stop() == 0


def test_a_collection_folder_made_after_the_start_is_seen_at_once(watching, library, engine):
    """base_path is watched too: a folder made there is a collection, discovered by the next
    event's reconcile, not at the resync an hour later; once synced, its files are ingested
    on events."""
    from retrovue.database.tables import Collection

    config, media = library
    (media / "shows" / "Show").mkdir(parents=True)
    (media / "shows" / "Show" / "Show - S01E01.mkv").write_bytes(b"x")

    def stored() -> bool:
        with engine.connect() as conn:
            return (
                conn.execute(
                    select(Collection.c.id).where(Collection.c.external_id == "shows")
                ).first()
                is not None
            )

    watching.wait_for(stored, "the new collection discovered")
    watching.wait_for(  # by an event's reconcile: there is no other before the resync
        lambda: watching.said('watch-event of source "Library": ok'), "the event's reconcile"
    )
    assert not watching.said("watch-resync")
    fs_config(config, media, {"movies": True, "shows": True})  # the operator syncs it
    watching.wait_for(
        lambda: _present(engine, media / "shows" / "Show" / "Show - S01E01.mkv"),
        "its first file",
    )
    later = media / "shows" / "Show" / "Show - S01E02.mkv"
    later.write_bytes(b"x")
    watching.wait_for(lambda: _present(engine, later), "a file landing in it later")
    assert watching.stop() == 0


def test_a_burst_over_several_folders_is_one_reconcile(watching, library, engine):
    _config, media = library
    staged = media.parent / "staged"  # beside base_path: a folder in it would be a collection
    staged.mkdir()
    names = {folder: f"{folder} Burst (2020).mkv" for folder in ("Alpha", "Gamma", "Delta")}
    for name in names.values():
        (staged / name).write_bytes(b"x" * 100)
    for folder, name in names.items():  # three folders within a few milliseconds
        os.rename(staged / name, media / "movies" / folder / name)
    landed = [media / "movies" / f / n for f, n in names.items()]
    watching.wait_for(lambda: all(_present(engine, p) for p in landed), "the three files")
    watching.wait_for(lambda: _event_reports(watching), "the report")
    assert len(_event_reports(watching)) == 1, watching.err
    assert "assets +3 ~0 -0" in _event_reports(watching)[0]
    trigger, scope, counts = _runs(engine)[-1]
    assert (trigger, scope, counts["discovered"], counts["new"]) == (
        "watch-event",
        Scope.FOLDERS,
        18,  # three folders of five, and the three new files
        3,
    )
    assert watching.stop() == 0


def test_a_folder_moved_within_the_collection(watching, library, engine):
    _config, media = library
    before = {
        name: _row(engine, media / "movies" / "Delta" / name).id for name in LAYOUT["movies/Delta"]
    }
    # into a folder watched from the start (a folder made just before could still be
    # getting its inotify watch when the move lands: a race of inotify itself)
    moved = media / "movies" / "Alpha" / "Delta"
    os.rename(media / "movies" / "Delta", moved)
    watching.wait_for(
        lambda: all(_present(engine, moved / n) for n in before), "the moved files present"
    )
    watching.wait_for(
        lambda: all(not _present(engine, media / "movies" / "Delta" / n) for n in before),
        "the old paths gone",
    )
    after = {name: _row(engine, moved / name).id for name in before}
    assert after == before  # the same assets, at their new paths
    assert watching.stop() == 0


# --- the plan and the executor ---------------------------------------------------------------


def test_a_folder_listing_is_the_whole_walk_under_that_folder(tmp_path):
    """The scoped listing gives exactly what the whole walk gives under each path: excluded
    folders and files, hidden ones, a path inside an excluded folder, a file, a path gone."""
    from retrovue.importers.filesystem import FilesystemImporter

    media = make_tree(
        tmp_path / "media",
        {
            "movies/Show/Season 1": ["Show - S01E01.mkv", ".Show - S01E02.mkv.part", "notes.txt"],
            "movies/Show/Sample": ["Show - sample.mkv"],
            "movies/Show": ["Show - S00E01-sample.mkv", "Show - S00E02.mkv"],
            "movies/.hidden": ["Secret (2000).mkv"],
            "movies/Other": ["Other (2001).mkv"],
        },
    )
    importer = FilesystemImporter({"base_path": str(media)})
    whole = sorted(importer.fetch_assets_for_collection("movies"))
    root = media / "movies"
    for path in (
        root / "Show",
        root / "Show" / "Season 1",
        root / "Show" / "Sample",
        root / "Show" / "Season 1" / "Show - S01E01.mkv",
        root / ".hidden",
        root / "Gone",
    ):
        under = [i for i in whole if i.path == str(path) or i.path.startswith(str(path) + os.sep)]
        # an excluded folder is one skip item in the whole walk, named by the folder
        under = [i for i in under if not i.path.endswith("/")]
        scoped = sorted(
            i
            for i in importer.fetch_assets_for_folders("movies", [str(path)])
            if not i.path.endswith("/")
        )
        assert scoped == under, path
    with pytest.raises(Exception, match="not inside collection folder"):
        list(importer.fetch_assets_for_folders("movies", [str(media / "elsewhere")]))


def _desired(config: Path):
    registry = load_registry()
    return load_config(str(config), registry), registry


def _apply(engine, config: Path, options: PlanOptions | None = None):
    desired, registry = _desired(config)
    plan = plan_on(engine, desired, registry, options)
    return plan, Executor(engine, registry).execute(plan)


def test_a_scoped_plan_lists_and_compares_only_its_folders(library, engine):
    config, media = library
    sibling = media / "movies" / "Alpha 2" / "Sibling (2000).mkv"  # sorts among Alpha's paths
    sibling.parent.mkdir()
    sibling.write_bytes(b"x")
    _apply(engine, config)
    sibling.unlink()  # outside the scope, however its path sorts
    (media / "movies" / "Beta" / "Beta Film 1 (2001).mkv").unlink()  # outside the scope
    (media / "movies" / "Alpha" / "Alpha Film 2 (2002).mkv").unlink()
    (media / "movies" / "Alpha" / "Extra (2010).mkv").write_bytes(b"x")
    alpha = str(media / "movies" / "Alpha")
    plan, result = _apply(
        engine, config, PlanOptions(only_folders=frozenset({("library", "movies", alpha)}))
    )
    ingest = next(a for a in plan.actions if type(a).__name__ == "IngestCollection")
    assert (ingest.scope, ingest.folders) == (Scope.FOLDERS, (alpha,))
    assert (ingest.counts.discovered, ingest.counts.new, ingest.counts.missing) == (5, 1, 1)
    assert result.ingests[0].counts.missing == 1
    assert _missing(engine, media / "movies" / "Alpha" / "Alpha Film 2 (2002).mkv")
    assert _present(engine, media / "movies" / "Beta" / "Beta Film 1 (2001).mkv")
    assert _present(engine, sibling)


def test_a_scope_at_the_collection_root_or_outside_it_is_the_whole_collection(library, engine):
    config, media = library
    _apply(engine, config)
    for path in (media / "movies", media / "elsewhere"):
        desired, registry = _desired(config)
        plan = plan_on(
            engine,
            desired,
            registry,
            PlanOptions(only_folders=frozenset({("library", "movies", str(path))})),
        )
        ingest = next(a for a in plan.actions if type(a).__name__ == "IngestCollection")
        assert (ingest.scope, ingest.folders, ingest.counts.discovered) == (
            Scope.COLLECTION,
            (),
            20,
        )


def test_the_guard_under_a_scope_counts_the_whole_collection(library, engine):
    """A folder deleted whole is 100 % of its scope but 25 % of the collection: above the 20 %
    threshold, held as a whole listing would hold it; with a lower share it goes through."""
    config, media = library
    _apply(engine, config)
    beta = media / "movies" / "Beta"
    shutil.rmtree(beta)
    plan, _result = _apply(
        engine, config, PlanOptions(only_folders=frozenset({("library", "movies", str(beta))}))
    )
    ingest = next(a for a in plan.actions if type(a).__name__ == "IngestCollection")
    assert ingest.degraded and ingest.counts.missing_suppressed == 5
    assert "5 of 20 assets" in ingest.degraded_reason
    assert _present(engine, beta / "Beta Film 0 (2000).mkv")

    fs_config(config, media, {"movies": True}, missing_threshold=0.3)
    plan, _result = _apply(
        engine, config, PlanOptions(only_folders=frozenset({("library", "movies", str(beta))}))
    )
    assert _missing(engine, beta / "Beta Film 0 (2000).mkv")


def _saved_plan(rv, config: Path, db_url: str, out: Path) -> dict:
    result = rv("plan", "-c", str(config), "--out", str(out), db=db_url)
    assert result.code == 0, result.err
    return json.loads(out.read_text())


def _tamper(engine, out: Path, doc: dict, scope: str, folders: list[str]) -> None:
    ingest = next(a for a in doc["actions"] if a["kind"] == "ingest_collection")
    ingest["scope"], ingest["folders"] = scope, folders
    with engine.connect() as conn:  # a valid digest: the tamperer holds the database's key
        out.write_text(json.dumps(sealed(doc, database_key(conn))))


@pytest.mark.parametrize(
    "scope, where, said",
    [
        ("folders", "outside", "which is not inside the collection"),
        ("folders", None, "its folder scope names no folder"),
        ("collection", "inside", "the ingest names folders but its scope is collection"),
    ],
)
def test_the_executor_refuses_a_saved_plan_whose_scope_does_not_hold(
    rv, db_url, engine, library, tmp_path, scope, where, said
):
    config, media = library
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    gone = media / "movies" / "Beta" / "Beta Film 1 (2001).mkv"
    gone.unlink()
    out = tmp_path / "plan.json"
    doc = _saved_plan(rv, config, db_url, out)
    folders = {
        "outside": [str(tmp_path / "elsewhere")],
        "inside": [str(media / "movies" / "Beta")],
        None: [],
    }[where]
    _tamper(engine, out, doc, scope, folders)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code != 0
    assert said in result.err
    assert _present(engine, gone)  # refused: nothing marked missing
    with engine.connect() as conn:
        status = conn.execute(
            select(IngestRun.c.status).order_by(IngestRun.c.started_at.desc())
        ).first()
    assert status.status == RunStatus.FAILED


def test_a_saved_plan_scoped_elsewhere_cannot_mark_other_folders_missing(
    rv, db_url, engine, library, tmp_path
):
    config, media = library
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    gone = media / "movies" / "Beta" / "Beta Film 1 (2001).mkv"
    gone.unlink()
    out = tmp_path / "plan.json"
    doc = _saved_plan(rv, config, db_url, out)  # it plans Beta's file missing
    _tamper(engine, out, doc, "folders", [str(media / "movies" / "Alpha")])
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _present(engine, gone)  # the executor listed and compared Alpha only


def test_a_scope_of_too_many_folders_is_the_whole_collection():
    from retrovue.importers.folder_scope import MAX_FOLDERS, outermost, scope_problem, scope_within

    many = [f"/m/movies/F{i}" for i in range(MAX_FOLDERS + 1)]
    assert scope_within(many, ["/m/movies"]) is None
    assert scope_within(many[:-1], ["/m/movies"]) == tuple(
        sorted(many[:-1], key=lambda p: p.split("/"))
    )
    assert "more than" in scope_problem(tuple(many), ["/m/movies"])
    # nested paths are listed once, through the outer one, whatever their spelling sorts as
    assert outermost(["/a/b/x", "/a/b c", "/a/b"]) == ("/a/b", "/a/b c")


def _stored(path: str, token: str):
    from retrovue.model.snapshots import ExistingAsset

    return "file://" + path, ExistingAsset("file://" + path, uuid.uuid4().hex, token, path, 0)


def _listed(path: str, token: str):
    from retrovue.importers.base import UpstreamAsset

    return UpstreamAsset("file://" + path, path, 1, token)


def test_a_scoped_diff_takes_one_to_one_renames_as_moves_and_nothing_ambiguous():
    from retrovue.diff.assets import diff_assets
    from retrovue.model.stored_index import StoredIndex

    existing = dict(
        [
            _stored("/m/A/x.mkv", "1:1"),  # moved to B: same name, same token
            _stored("/m/A/y.mkv", "2:1"),  # two files could be it: not a move
            _stored("/m/A/z.mkv", "3:1"),  # changed while moved: not a move
        ]
    )
    listing = [
        _listed("/m/B/x.mkv", "1:1"),
        _listed("/m/B/y.mkv", "2:1"),
        _listed("/m/C/y.mkv", "2:1"),
        _listed("/m/B/z.mkv", "9:9"),
    ]
    # a scope's stored index keeps its paths (observe.db.load_asset_index with folders)
    index = StoredIndex.of(existing.values(), keep_paths=True)
    diff = diff_assets(index, listing, scope_present=100)
    assert [(asset_id, canonical) for asset_id, _item, canonical in diff.moved] == [
        (existing["file:///m/A/x.mkv"].id, "/m/B/x.mkv")
    ]
    assert sorted(canonical for _item, canonical in diff.new) == [
        "/m/B/y.mkv",
        "/m/B/z.mkv",
        "/m/C/y.mkv",
    ]
    assert sorted(diff.missing) == sorted(existing[f"file:///m/A/{n}.mkv"].id for n in ("y", "z"))
    assert diff.counts().remapped == 1  # a move is counted with the remapped
    # a whole-collection diff takes nothing as a move (its counts stay what they were)
    assert diff_assets(index, listing, missing_threshold=1.0).moved == []
    # without the paths (a whole collection's index) nothing is taken as a move either
    unscoped = StoredIndex.of(existing.values())
    assert diff_assets(unscoped, listing, scope_present=100).moved == []
