"""Upstream names are hostile: one file or folder whose name is not valid UTF-8 (old Samba and
NFS shares) is counted and named, and stops nothing else (issue 9, item 4)."""

from __future__ import annotations

import json
import os

from sqlalchemy import select

from retrovue.database.tables import Asset, Collection
from retrovue.importers.filesystem import NOT_UTF8, FilesystemImporter
from tests.helpers import fs_config, make_tree


def _library(tmp_path):
    base = make_tree(tmp_path / "media", {"movies": ["good.mkv", "fine.mp4"], "shows": ["a.mkv"]})
    # raw bytes that are not UTF-8, as an SMB share with a Latin-1 name hands them over
    with open(os.fsencode(base / "movies") + b"/caf\xe9.mkv", "wb") as fh:
        fh.write(b"x")
    os.mkdir(os.fsencode(base) + b"/Fran\xe7ais")
    with open(os.fsencode(base) + b"/Fran\xe7ais/x.mkv", "wb") as fh:
        fh.write(b"x")
    os.mkdir(os.fsencode(base / "shows") + b"/S\xe9rie")
    with open(os.fsencode(base / "shows") + b"/S\xe9rie/ep.mkv", "wb") as fh:
        fh.write(b"x")
    return base, fs_config(tmp_path / "r.yaml", base, {"movies": True, "shows": True})


def test_importer_names_the_file_and_keeps_its_bytes_in_the_uri(tmp_path):
    base, _ = _library(tmp_path)
    imp = FilesystemImporter({"base_path": str(base)})
    assert [c.name for c in imp.list_collections()] == ["movies", "shows"]
    assert imp.skipped_collections() == [("Fran\\xe7ais", "Fran\\xe7ais", NOT_UTF8)]
    items = list(imp.fetch_assets_for_collection("movies"))
    bad = [i for i in items if i.problem]
    assert [i.problem for i in bad] == [NOT_UTF8]
    assert bad[0].source_uri.endswith("/movies/caf%E9.mkv")  # the raw byte, percent-encoded
    assert bad[0].path.endswith("caf\\xe9.mkv")  # printable
    assert sorted(os.path.basename(i.path) for i in items if not i.problem) == [
        "fine.mp4",
        "good.mkv",
    ]


def test_plan_and_apply_ingest_the_rest_and_replan_stably(rv, db_url, engine, tmp_path):
    _, config = _library(tmp_path)
    plan = rv("plan", "-c", str(config), "--json", db=db_url)
    assert plan.code == 0, plan.err
    doc = json.loads(plan.out)
    ingests = {
        a["collection"]["name"]: a for a in doc["actions"] if a["kind"] == "ingest_collection"
    }
    assert ingests["movies"]["counts"]["new"] == 2
    assert ingests["shows"]["counts"]["new"] == 1
    reasons = [s["reason"] for a in ingests.values() for s in a["skipped_reasons"]]
    assert reasons == [NOT_UTF8, NOT_UTF8]
    assert [s["name"] for s in doc["skipped_collections"]] == ["Fran\\xe7ais"]

    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    assert "skipped: file or folder name is not valid UTF-8 (1, e.g. " in applied.out
    with engine.connect() as conn:
        stored = conn.execute(
            select(Collection.c.name, Asset.c.canonical_uri).join(
                Collection, Collection.c.id == Asset.c.collection_id
            )
        ).all()
    assert sorted(os.path.basename(uri) for _, uri in stored) == ["a.mkv", "fine.mp4", "good.mkv"]

    again = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert again.code == 0, again.out


def test_control_characters_in_names_are_escaped_in_the_plan(rv, db_url, tmp_path):
    """A folder name cannot clear the screen, set the window title, or forge a summary line
    inside the plan under review (issue 9, item 7)."""
    forged = "ok\n\nPlan: 0 sources to create"
    base = make_tree(tmp_path / "media", {forged: ["a.mkv"], "clear\x1b[2J": ["b.mkv"]})
    config = fs_config(tmp_path / "r.yaml", base, {})
    plan = rv("plan", "-c", str(config), db=db_url)
    assert plan.code == 0, plan.err
    assert "\x1b" not in plan.out
    assert '+ collection "ok\\n\\nPlan: 0 sources to create" discovered' in plan.out
    summaries = [line for line in plan.out.splitlines() if line.startswith("Plan: ")]
    assert len(summaries) == 1 and summaries[0].startswith("Plan: 1 source to create")
    assert '+ collection "clear\\x1b[2J" discovered' in plan.out


def test_bidi_controls_in_names_are_escaped_in_plan_and_asset_views(rv, db_url, tmp_path):
    """A right-to-left override cannot make ``clip<RLO>exe.mkv`` read as ``clipvkm.exe`` in the
    plan under review or in the asset views (issue 17)."""
    folder, file = "Kids\u202eeivom", "clip\u202eexe.mkv"
    base = make_tree(tmp_path / "media", {folder: [file]})
    config = fs_config(tmp_path / "r.yaml", base, {folder: True})
    plan = rv("plan", "-c", str(config), "--detail", db=db_url)
    assert plan.code == 0, plan.err
    assert "\u202e" not in plan.out
    assert "Kids\\u202eeivom" in plan.out and "clip\\u202eexe.mkv" in plan.out
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0

    listed = rv("asset", "list", db=db_url)
    assert listed.code == 0, listed.err
    assert "\u202e" not in listed.out and "clip\\u202eexe.mkv" in listed.out
    uri = (base / folder / file).as_uri()
    shown = rv("asset", "show", uri, db=db_url)
    assert shown.code == 0, shown.err
    assert "\u202e" not in shown.out and "clip\\u202eexe.mkv" in shown.out


def test_stored_names_in_an_error_hint_are_escaped(rv, db_url, tmp_path):
    """An ambiguous selector's hint lists the stored names it could mean; a hostile one must
    not reach stderr raw (found while fixing issue 17's completion)."""
    name = "clear\x1b[2J\u202e"
    for source in ("One", "Two"):
        base = make_tree(tmp_path / source, {name: ["a.mkv"]})
        config = fs_config(tmp_path / f"{source}.yaml", base, {name: True}, name=source)
        assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    shown = rv("collection", "show", name, db=db_url)
    assert shown.code == 1
    assert "One)" in shown.err and "Two)" in shown.err  # the hint names both candidates
    assert "\x1b" not in shown.err and "\u202e" not in shown.err
    assert "clear\\x1b[2J\\u202e" in shown.err


def test_collection_ingest_counts_the_skipped_file_as_skipped(rv, db_url, tmp_path):
    """Issue 19, item 19: "Assets skipped: N" printed the unchanged count and left out the file
    really skipped (here: a name that is not UTF-8)."""
    _base, config = _library(tmp_path)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    ingested = rv("collection", "ingest", "movies", db=db_url)
    assert ingested.code == 0, ingested.err
    assert "Assets unchanged: 2" in ingested.out
    assert "Assets skipped: 1 (unmapped: 0, other reasons: 1)" in ingested.out
    stats = rv("collection", "ingest", "movies", "--json", db=db_url).json()["stats"]
    assert (stats["assets_skipped"], stats["assets_unusable"], stats["assets_unchanged"]) == (
        1,
        1,
        2,
    )
