"""`retrovue collection list | show | update | ingest | wipe` (contracts §9–§13)."""

from __future__ import annotations

import shutil

import pytest

from retrovue.cli import console as cli_console
from tests.imperative_helpers import (  # noqa: F401
    add_fs,
    add_plex,
    air,
    count,
    enable,
    media_fixture,
    one_json,
    snapshot_tables,
)

FOOTER = "(No database changes made \u2014 dry-run mode)"


# -- list / show ------------------------------------------------------------------------------


def test_list(rv, db_url, media):  # CL B-1 / B-6 / B-7 / N-1
    add_fs(rv, db_url, media)
    doc = one_json(rv("collection", "list", "--json", db=db_url).out)
    assert doc["total"] == 3 and [c["name"] for c in doc["collections"]] == [
        "Empty",
        "Movies",
        "TV",
    ]
    assert set(doc["collections"][0]) == {
        "id",
        "external_id",
        "name",
        "source_id",
        "source_name",
        "source_type",
        "sync_enabled",
        "ingestible",
        "assets_count",
        "missing_count",
        "last_ingest_time",
        "created_at",
        "updated_at",
        "path_mappings",
    }
    human = rv("collection", "list", db=db_url).out.splitlines()
    # issue 10: an aligned table, one row per collection, under a header
    assert human[0].split() == [
        "SOURCE",
        "COLLECTION",
        "SYNC",
        "INGESTIBLE",
        "ASSETS",
        "LAST",
        "INGEST",
        "ID",
    ]
    assert [line.split()[1] for line in human[1:4]] == ["Empty", "Movies", "TV"]
    assert human[1].split()[2:6] == ["No", "Yes", "0", "Never"]
    assert len({line.index("Never") for line in human[1:4]}) == 1  # columns line up
    assert human[-1] == "Total: 3 collections"


def test_list_filtered_and_errors(rv, db_url, media):  # CL B-2 / B-3 / B-8 / D-9
    add_fs(rv, db_url, media, "A")
    add_fs(rv, db_url, media, "B", False)
    doc = one_json(rv("collection", "list", "B", "--json", db=db_url).out)
    assert doc["total"] == 0 and doc["collections"] == [] and doc["source"]["name"] == "B"
    doc = one_json(
        rv("collection", "list", "B", "--source", "A", "--json", db=db_url).out
    )  # --source wins
    assert doc["total"] == 3
    r = rv("collection", "list", "--source", "nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"


def test_empty_list(rv, db_url):  # CL B-8
    assert one_json(rv("collection", "list", "--json", db=db_url).out) == {
        "status": "ok",
        "total": 0,
        "collections": [],
    }
    assert rv("collection", "list", db=db_url).out.splitlines() == [
        "No collections found",
        "Total: 0 collections",
    ]


def test_show_explains_ingestibility(rv, db_url, media):  # CS B-4 / B-6 / D-1
    add_fs(rv, db_url, media)
    doc = one_json(rv("collection", "show", "Movies", "--json", db=db_url).out)
    assert set(doc) == {
        "status",
        "id",
        "external_id",
        "name",
        "source_id",
        "source_name",
        "source_type",
        "sync_enabled",
        "ingestible",
        "ingestible_reason",
        "path_mappings",
        "stats",
        "last_ingest_time",
        "last_run",
        "enrichers",  # issue 11
        "enrichment",  # issue 20: to enrich, claimed by workers
        "created_at",
        "updated_at",
    }
    assert doc["ingestible_reason"] is None and doc["last_run"] is None
    shutil.rmtree(media / "Movies")
    doc = one_json(rv("collection", "show", "Movies", "--json", db=db_url).out)
    assert (
        doc["ingestible"] is True and "does not exist" in doc["ingestible_reason"]
    )  # stale flag explained
    human = rv("collection", "show", "Movies", db=db_url).out.splitlines()
    assert human[0] == "Collection: Movies" and any(
        line.startswith("  Not ingestible because: ") for line in human
    )
    assert "  Last Run: none" in human and "  Last Ingest: Never" in human


def test_selector_blank_and_ambiguous(rv, db_url, media):  # CS B-1..B-3 / §0.5
    add_fs(rv, db_url, media, "A")
    add_fs(rv, db_url, media, "B")
    r = rv("collection", "show", "Movies", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert doc["code"] == "AMBIGUOUS_SELECTOR"
    assert doc["message"] == "Multiple collections match 'Movies'. Please specify the UUID."
    assert len(doc["context"]["candidates"]) == 2
    assert set(doc["context"]["candidates"][0]) == {"id", "name", "external_id"}
    assert "Collection:" not in r.err
    r = rv("collection", "show", " ", db=db_url)
    assert r.code == 1
    assert (
        r.err.splitlines()[0]
        == "Error: Invalid collection ID format. Expected UUID, external ID, or collection name."
    )


# -- update (CU) --------------------------------------------------------------------------------


def test_update_validation(rv, db_url, media):  # CU B-3 / B-4 / B-14 / B-15
    add_fs(rv, db_url, media)
    r = rv("collection", "update", "Movies", db=db_url)
    assert r.code == 1
    assert r.err == (
        "Error: Must specify at least one operation: --sync-enable, --sync-disable or --path-mapping.\n"
        # issue 11: the enricher flags are operations too
        "  or attach/detach an enricher: --add-enricher TYPE / --remove-enricher TYPE\n"
    )
    r = rv("collection", "update", "Movies", "--sync-enable", "--sync-disable", db=db_url)
    assert (
        r.err == "Error: Cannot specify both --sync-enable and --sync-disable. Use one flag only.\n"
    )
    r = rv("collection", "update", "Movies", "--path-mapping", "/tmp", db=db_url)
    assert r.code == 1 and r.err.splitlines()[0] == (
        "Error: Collection 'Movies' does not have a path mapping. Path mappings are created during source discovery."
    )


def test_sync_enable_disable(rv, db_url, media):  # CU B-5 / B-7 / B-8 / D-6 / B-17
    add_fs(rv, db_url, media)
    r = rv("collection", "update", "Movies", "--sync-enable", "--json", db=db_url)
    doc = one_json(r.out)
    assert set(doc) == {
        "status",
        "id",
        "external_id",
        "name",
        "operation",
        "sync_enabled",
        "ingestible",
        "ingestible_reason",
        "updated",
        "updated_at",
        "message",
        "path_mapping",
        "enricher",  # issue 11: --add-enricher / --remove-enricher, else null
        "dry_run",
    }
    assert (
        doc["operation"] == ["sync-enable"]
        and doc["updated"] is True
        and doc["sync_enabled"] is True
    )
    r = rv("collection", "update", "Movies", "--enable-sync", "--json", db=db_url)  # hidden alias
    again = one_json(r.out)
    assert again["updated"] is False and again["updated_at"] == doc["updated_at"]
    assert again["message"] == "Collection 'Movies' is already sync-enabled; nothing changed"
    r = rv("collection", "update", "Movies", "--sync-disable", db=db_url)
    assert r.out.splitlines() == [
        "Successfully updated collection: Movies",
        "  sync_enabled: Yes -> No",
    ]


def test_sync_enable_needs_ingestible(rv, db_url, media):  # CU B-5
    add_fs(rv, db_url, media)
    shutil.rmtree(media / "Movies")
    before = snapshot_tables(db_url)
    r = rv("collection", "update", "Movies", "--sync-enable", db=db_url)
    assert r.code == 1
    assert r.err.splitlines()[0].startswith(
        "Error: Cannot enable sync for collection 'Movies'. Collection is not ingestible. "
        "Check path mappings and prerequisites with 'retrovue collection show "
    )
    assert snapshot_tables(db_url) == before


def test_update_dry_run(rv, db_url, media):  # CU B-18
    add_fs(rv, db_url, media)
    before = snapshot_tables(db_url)
    r = rv("collection", "update", "Movies", "--sync-enable", "--dry-run", db=db_url)
    assert r.code == 0 and r.out.splitlines()[-1] == FOOTER and "~ sync: false -> true" in r.out
    assert snapshot_tables(db_url) == before


@pytest.fixture
def plex_source(rv, db_url, fake_plex):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    fake_plex.add_movie(movies, "Heat", year=1995)
    fake_plex.add_movie(movies, "Alien", year=1979)
    return add_plex(rv, db_url, fake_plex.url, fake_plex.token)


def test_plex_path_mapping_flow(
    rv, db_url, plex_source, tmp_path
):  # CU B-14 / B-15 / B-16 / N-2 / SCG G-6 / CI
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    r = rv("collection", "update", "Movies", "--sync-enable", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_INGESTIBLE"
    r = rv(
        "collection",
        "update",
        "Movies",
        "--path-mapping",
        str(tmp_path / "missing"),
        db=db_url,
    )
    assert (
        r.err.splitlines()[0]
        == f"Error: Local path '{tmp_path / 'missing'}' does not exist or is not accessible."
    )
    # mapping + sync in one call: ingestible re-evaluated in the same unit, before the sync check
    r = rv(
        "collection",
        "update",
        "Movies",
        "--path-mapping",
        str(local) + "/",
        "--sync-enable",
        "--json",
        db=db_url,
    )
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert doc["operation"] == ["path-mapping", "sync-enable"] and doc["ingestible"] is True
    assert doc["path_mapping"] == {
        "plex_path": "/data/Movies",
        "local_path": str(local),
    }  # no trailing slash
    assert count(db_url, "path_mappings") == 1  # the row is edited, never created
    r = rv("collection", "ingest", "Movies", "--json", db=db_url)
    assert r.code == 0, r.err
    assert one_json(r.out)["stats"]["assets_ingested"] == 2
    canon = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["canonical_uri"]
    assert canon.startswith(str(local) + "/")  # CI N-2: mapped to the local path
    r = rv(
        "collection",
        "update",
        "Movies",
        "--path-mapping",
        "DELETE",
        "--json",
        db=db_url,
    )
    doc = one_json(r.out)
    assert (
        doc["ingestible"] is False and doc["sync_enabled"] is True and "Warning:" in r.err
    )  # B-16
    assert count(db_url, "path_mappings", "WHERE local_path IS NULL") == 1  # DELETE keeps the row


# -- ingest (CI) --------------------------------------------------------------------------------


def test_ingest_argument_validation(rv, db_url):  # CI B-3 / B-4 / B-9 / N-10
    assert rv("collection", "ingest", "x", "--season", "1", db=db_url).err.startswith(
        "Error: --season requires --title"
    )
    r = rv("collection", "ingest", "x", "--title", "T", "--episode", "1", db=db_url)
    assert r.code == 1 and r.err.startswith("Error: --episode requires --season")
    r = rv(
        "collection",
        "ingest",
        "x",
        "--title",
        "T",
        "--season",
        "-1",
        "--json",
        db=db_url,
    )
    assert r.code == 1 and "--season" in one_json(r.out)["message"]
    assert rv("collection", "ingest", "x", "--title", " ", db=db_url).code == 1


def test_ingest_full_requires_sync(rv, db_url, media):  # CI B-11 / B-13
    add_fs(rv, db_url, media)
    r = rv("collection", "ingest", "TV", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert (
        doc["code"] == "NOT_SYNC_ENABLED"
        and doc["message"] == "Collection 'TV' is not sync-enabled"
    )
    assert doc["collection_name"] == "TV" and doc["scope"] == "collection"
    assert "--sync-enable" in r.err
    r = rv(
        "collection",
        "ingest",
        "TV",
        "--title",
        "lost",
        "--season",
        "1",
        "--json",
        db=db_url,
    )  # B-13
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert (
        doc["scope"] == "season"
        and doc["stats"]["assets_ingested"] == 2
        and doc["stats"]["assets_missing"] == 0
    )
    assert (
        count(
            db_url,
            "ingest_runs",
            "WHERE trigger = 'collection-ingest' AND scope = 'season'",
        )
        == 1
    )  # N-6


def test_ingest_human_and_rerun(rv, db_url, media):  # CI §12.3 / B-18 / B-19
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    r = rv("collection", "ingest", "Movies", db=db_url)
    assert r.out.splitlines()[0] == "Ingesting entire collection 'Movies'"
    assert "Assets ingested: 2" in r.out.splitlines()
    assert r.out.splitlines()[-1] == "Ingest complete for collection 'Movies'"
    r = rv("collection", "ingest", "Movies", "--json", db=db_url)
    doc = one_json(r.out)
    assert doc["stats"]["assets_unchanged"] == 2 and doc["stats"]["assets_ingested"] == 0
    assert doc["last_ingest_time"] is not None and doc["ingest_run_id"]
    r = rv(
        "collection",
        "ingest",
        "TV",
        "--title",
        "Lost",
        "--season",
        "2",
        "--episode",
        "1",
        db=db_url,
    )
    assert r.out.splitlines()[0] == "Ingesting episode S02E01 of 'Lost' from collection 'TV'"


def test_ingest_scope_not_found(rv, db_url, media):  # CI B-8
    add_fs(rv, db_url, media)
    before = snapshot_tables(db_url)
    r = rv("collection", "ingest", "TV", "--title", "Nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "SCOPE_NOT_FOUND"
    assert snapshot_tables(db_url) == before


def test_ingest_not_ingestible(rv, db_url, media):  # CI B-12 / step 4 / SCG G-3
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    shutil.rmtree(media / "Movies")
    r = rv("collection", "ingest", "Movies", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert (
        doc["code"] == "NOT_INGESTIBLE"
        and doc["message"] == "Collection 'Movies' is not ingestible"
    )
    assert "retrovue collection show" in r.err


def test_ingest_dry_run(rv, db_url, media):  # CI B-24 / §0.7
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    before = snapshot_tables(db_url)
    r = rv(
        "collection",
        "ingest",
        "Movies",
        "--dry-run",
        "--json",
        "--verbose-assets",
        db=db_url,
    )
    assert r.code == 0
    doc = one_json(r.out)
    assert (
        doc["dry_run"] is True
        and doc["ingest_run_id"] is None
        and doc["stats"]["assets_ingested"] == 2
    )
    assert [a["id"] for a in doc["created_assets"]] == [None, None] and "plan" in doc
    assert snapshot_tables(db_url) == before


def test_ingest_marks_missing_and_reappeared(rv, db_url, media):  # CI N-4 / B-17
    from tests.helpers import touch

    for i in range(10):
        (media / "Movies" / f"Film {i} (2000).mkv").write_bytes(b"")
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    rv("collection", "ingest", "Movies", db=db_url)
    (media / "Movies" / "Film 1 (2000).mkv").unlink()
    touch(media / "Movies" / "Film 2 (2000).mkv", b"changed")
    doc = one_json(rv("collection", "ingest", "Movies", "--json", db=db_url).out)
    assert doc["stats"]["assets_missing"] == 1 and doc["stats"]["assets_updated"] == 1
    (media / "Movies" / "Film 1 (2000).mkv").write_bytes(b"")
    doc = one_json(rv("collection", "ingest", "Movies", "--json", db=db_url).out)
    assert doc["stats"]["assets_reappeared"] == 1


# -- wipe (CW) ----------------------------------------------------------------------------------


@pytest.fixture
def ingested(rv, db_url, media):
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    assert rv("collection", "ingest", "Movies", db=db_url).code == 0
    return media


def test_wipe_requires_confirmation_without_tty(rv, db_url, ingested):  # CW N-3 / C-1
    r = rv("collection", "wipe", "Movies", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert doc["code"] == "CONFIRMATION_REQUIRED" and "--confirm" in doc["message"]
    assert count(db_url, "assets") == 2


@pytest.mark.parametrize(
    "answer, wiped",
    [
        ("yes\n", True),
        ("  yes  \n", True),
        ("y\n", False),
        ("YES\n", False),
        ("Yes\n", False),
        ("\n", False),
        ("", False),
    ],
)
def test_wipe_prompt(rv, db_url, ingested, monkeypatch, answer, wiped):  # CW N-3 / C-2 / C-3 / C-4
    monkeypatch.setattr(cli_console, "stdin_is_tty", lambda: True)
    r = rv("collection", "wipe", "Movies", db=db_url, input=answer)
    assert r.code == 0
    assert "Are you sure you want to wipe collection 'Movies'" in r.err
    assert "This action cannot be undone." in r.err and "Type 'yes' to confirm:" in r.err
    if wiped:
        assert r.out.splitlines() == [
            "Successfully wiped collection: Movies",
            "  Assets deleted: 2",
        ]
        assert count(db_url, "assets") == 0
    else:
        assert r.out == "Operation cancelled.\n" and count(db_url, "assets") == 2


def test_wipe_cancel_json(rv, db_url, ingested, monkeypatch):  # C-4 JSON
    monkeypatch.setattr(cli_console, "stdin_is_tty", lambda: True)
    r = rv("collection", "wipe", "Movies", "--json", db=db_url, input="no\n")
    assert r.code == 0 and one_json(r.out) == {
        "status": "cancelled",
        "message": "Operation cancelled.",
    }


def test_wipe_confirm_keeps_settings(rv, db_url, ingested):  # CW N-2 / N-6 / JSON
    r = rv("collection", "wipe", "Movies", "--confirm", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert set(doc) == {
        "status",
        "collection_id",
        "collection_name",
        "assets_deleted",
        "path_mappings_kept",
        "dry_run",
    }
    assert doc["assets_deleted"] == 2
    show = one_json(rv("collection", "show", "Movies", "--json", db=db_url).out)
    assert (
        show["sync_enabled"] is True
        and show["last_ingest_time"] is None
        and show["last_run"] is not None
    )
    r = rv("collection", "wipe", "Movies", "--force", "--json", db=db_url)  # N-6: again is valid
    assert r.code == 0 and one_json(r.out)["assets_deleted"] == 0


def test_wipe_dry_run(rv, db_url, ingested):  # CW N-5 / C-9 / C-10
    before = snapshot_tables(db_url)
    r = rv("collection", "wipe", "Movies", "--dry-run", "--json", db=db_url)
    doc = one_json(r.out)
    assert (
        r.code == 0
        and doc["confirmation_required"] is True
        and doc["impact_summary"] == {"assets": 2}
    )
    assert "plan" in doc and doc["dry_run"] is True
    assert snapshot_tables(db_url) == before


def test_wipe_production_safety(rv, db_url, ingested, tmp_path):  # CW N-4 / PS-011 / PS-030
    asset_id = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["id"]
    air(db_url, asset_id)
    r = rv("collection", "wipe", "Movies", "--force", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert doc["code"] == "PRODUCTION_SAFETY_FAILED" and "1 aired asset(s)" in doc["message"]
    assert count(db_url, "assets") == 2


def test_dry_run_plans_follow_the_plan_schema(
    rv, db_url, media
):  # §0.7: "plan" valid against plan.schema.json
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads(
        (Path(__file__).parents[1] / "src/retrovue/schemas/plan.schema.json").read_text()
    )
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    runs = [
        (
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "X",
            "--base-path",
            str(media),
            "--discover",
        ),
        ("source", "discover", "Library"),
        ("source", "update", "Library", "--name", "Y"),
        ("source", "ingest", "Library"),
        ("collection", "update", "TV", "--sync-enable"),
        ("collection", "ingest", "Movies"),
        ("collection", "wipe", "Movies"),
        ("source", "delete", "Library"),
    ]
    for argv in runs:
        r = rv(*argv, "--dry-run", "--json", db=db_url)
        assert r.code == 0, (argv, r.err)
        jsonschema.validate(one_json(r.out)["plan"], schema)
