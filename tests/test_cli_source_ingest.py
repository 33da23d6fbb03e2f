"""`retrovue source ingest` (contracts §7) and the shared engine rules it relies on (§12.2)."""

from __future__ import annotations

import shutil

from tests.imperative_helpers import (  # noqa: F401
    add_fs,
    count,
    enable,
    media_fixture,
    one_json,
    snapshot_tables,
)

REFUSAL = (
    "Per-title/season/episode ingest is only supported at the collection level. "
    "Use: retrovue collection ingest <collection_id> [--title ... --season ... --episode ...]"
)


def test_refuses_narrowing_flags(rv, db_url, media):  # SI B-3 / B-4
    add_fs(rv, db_url, media)
    before = snapshot_tables(db_url)
    for flag in ("--title", "--season", "--episode"):
        r = rv("source", "ingest", "Library", flag, "1", db=db_url)
        assert r.code == 1 and r.out == "" and r.err == f"Error: {REFUSAL}\n"
        r = rv("source", "ingest", "Library", flag, "x", "--json", db=db_url)
        assert r.code == 1 and one_json(r.out)["message"] == REFUSAL
    assert snapshot_tables(db_url) == before


def test_no_enabled_collections(rv, db_url, media):  # SI N-2
    add_fs(rv, db_url, media)
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 1
    assert one_json(r.out) == {
        "status": "error",
        "code": "NO_ELIGIBLE_COLLECTIONS",
        "message": "No enabled collections",
    }
    assert "Skipped 'Movies': sync disabled" in r.err
    assert count(db_url, "ingest_runs") == 0


def test_ingests_eligible_and_skips_others(
    rv, db_url, media
):  # SI B-2 / B-5 / B-11 / D-4 / D-9 / B-7
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    enable(rv, db_url, "TV")
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert set(doc) == {
        "status",
        "source",
        "collections_processed",
        "collections_succeeded",
        "collections_failed",
        "collections_skipped",
        "total_created_assets",
        "total_skipped_assets",
        "total_duplicates",
        "stats",
        "last_ingest_time",
        "collection_results",
        "errors",
        "dry_run",
    }
    assert doc["status"] == "ok" and doc["collections_processed"] == 2
    assert [c["collection_name"] for c in doc["collection_results"]] == [
        "Movies",
        "TV",
    ]  # B-11 order
    assert doc["collections_skipped"] == [
        {
            "id": doc["collections_skipped"][0]["id"],
            "name": "Empty",
            "reason": "sync disabled",
        }
    ]
    assert doc["total_created_assets"] == 5 and doc["stats"]["assets_ingested"] == 5
    assert doc["last_ingest_time"] is not None
    assert (
        count(db_url, "ingest_runs", "WHERE trigger = 'source-ingest' AND status = 'ok'") == 2
    )  # D-4
    assert (
        count(db_url, "assets", "WHERE state = 'new' AND approved_for_broadcast = false") == 5
    )  # D-9
    result = doc["collection_results"][0]
    assert set(result) >= {
        "status",
        "scope",
        "title",
        "season",
        "episode",
        "collection_id",
        "collection_name",
        "source_id",
        "source_name",
        "stats",
        "skipped_reasons",
        "degraded",
        "degraded_reason",
        "missing_suppressed",
        "last_ingest_time",
        "ingest_run_id",
        "dry_run",
    }


def test_human_output(rv, db_url, media):  # SI human output
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    r = rv("source", "ingest", "Library", db=db_url)
    lines = r.out.splitlines()
    assert lines[0].startswith("Ingesting source 'Library' (filesystem, filesystem-")
    assert lines[1] == "Eligible collections: 1 of 3"
    assert "  Skipped 'TV': sync disabled" in lines
    assert "Collection 'Movies': ok +2 ~0 -0 =0, 0 remapped, 0 duplicates, 0 unmapped" in lines
    assert lines[-2] == "Source ingest complete: 1 collections processed (1 success, 0 failed)"
    assert lines[-1] == "Success"
    r = rv("source", "ingest", "Library", db=db_url)  # B-18: a re-run writes no asset row
    assert "Collection 'Movies': ok +0 ~0 -0 =2" in r.out


def test_partial_failure_exits_2(rv, db_url, media):  # SI D-3 / B-9 / D-1 / D-2 / D-12 / SCG G-3
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    enable(rv, db_url, "TV")
    shutil.rmtree(media / "TV")  # the re-check fails for TV only
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 2
    doc = one_json(r.out)
    assert (
        doc["status"] == "partial"
        and doc["collections_succeeded"] == 1
        and doc["collections_failed"] == 1
    )
    error = doc["errors"][0]
    assert error["collection_name"] == "TV" and error["code"] == "NOT_INGESTIBLE"
    assert error["message"].startswith("Collection 'TV' is not ingestible")
    assert (
        count(db_url, "ingest_runs", "WHERE status = 'failed'") == 1
    )  # D-4: failed runs recorded too
    assert count(db_url, "assets") == 2  # Movies committed, TV rolled back
    r = rv("source", "ingest", "Library", db=db_url)
    assert r.out.splitlines()[-1] == "Partial Success"


def test_all_failed_exits_1(rv, db_url, media):  # SI D-3: ALL_COLLECTIONS_FAILED
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    shutil.rmtree(media / "Movies")
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert doc["status"] == "error" and doc["code"] == "ALL_COLLECTIONS_FAILED"
    assert "Error: All collections failed" in r.err
    r = rv("source", "ingest", "Library", db=db_url)
    assert "Success" not in r.out.splitlines()[-1]


def test_all_upstream_failures_exit_3(rv, db_url, media, monkeypatch):  # SI D-3: exit 3
    from retrovue.errors import ImporterUnreachableError
    from retrovue.importers.filesystem import FilesystemImporter

    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")

    def gone(self, external_id, **_):
        raise ImporterUnreachableError("NAS offline")
        yield  # pragma: no cover

    monkeypatch.setattr(FilesystemImporter, "fetch_assets_for_collection", gone)
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 3 and one_json(r.out)["code"] == "UPSTREAM_UNREACHABLE"
    assert count(db_url, "assets") == 0


def test_unreachable_before_any_collection(rv, db_url, tmp_path, media):  # SI N-1
    base = tmp_path / "nas"
    shutil.copytree(media, base)
    add_fs(rv, db_url, base)
    enable(rv, db_url, "Movies")
    shutil.rmtree(base)
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    assert r.code == 3 and one_json(r.out)["code"] == "UPSTREAM_UNREACHABLE"
    assert count(db_url, "ingest_runs") == 0


def test_dry_run_writes_nothing(rv, db_url, media):  # SI B-6 / §0.7
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    before = snapshot_tables(db_url)
    r = rv("source", "ingest", "Library", "--dry-run", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert doc["dry_run"] is True and doc["stats"]["assets_ingested"] == 2 and "plan" in doc
    assert doc["collection_results"][0]["ingest_run_id"] is None
    r = rv("source", "ingest", "Library", "--dry-run", db=db_url)
    assert r.out.splitlines()[-1] == "(No database changes made \u2014 dry-run mode)"
    assert snapshot_tables(db_url) == before


def test_mass_missing_guard(rv, db_url, media):  # SI N-3 / CI N-5
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    rv("source", "ingest", "Library", db=db_url)
    for f in (media / "Movies").iterdir():
        f.unlink()
    r = rv("source", "ingest", "Library", "--json", db=db_url)
    result = one_json(r.out)["collection_results"][0]
    assert (
        result["degraded"] is True
        and result["missing_suppressed"] == 2
        and result["stats"]["assets_missing"] == 0
    )
    assert "Warning:" in r.err
    r = rv("source", "ingest", "Library", "--allow-mass-missing", "--json", db=db_url)
    assert one_json(r.out)["stats"]["assets_missing"] == 2
    assert (
        count(db_url, "assets", "WHERE missing_since IS NOT NULL") == 2
    )  # N-4: marked, never deleted
