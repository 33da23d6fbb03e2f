"""`retrovue source list-types | add | list | show | update | discover` (contracts §1–§6)."""

from __future__ import annotations

import json
import os
import uuid

from retrovue.redact import REDACTED
from tests.imperative_helpers import (  # noqa: F401
    add_fs,
    add_plex,
    count,
    media_fixture,
    one_json,
    snapshot_tables,
    sqlite_dump,
)

DRY_FOOTER = "(No database changes made \u2014 dry-run mode)"


# -- list-types (SLT) ------------------------------------------------------------------------------


def test_list_types_json(rv, db_url):  # SLT B-1 / B-2 / B-3 / B-6 / D-6 / D-7
    r = rv("source", "list-types", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert doc["total"] == len(doc["source_types"])
    types = [t["type"] for t in doc["source_types"]]
    assert types == sorted(types) and {"filesystem", "plex"} <= set(types)
    plex = next(t for t in doc["source_types"] if t["type"] == "plex")
    assert set(plex) == {
        "type",
        "display_name",
        "importer_file",
        "available",
        "interface_compliant",
        "status",
        "error",
        "parameters",
    }
    assert plex["interface_compliant"] is True and plex["status"] == "ok"
    required = {p["name"]: p for p in plex["parameters"]["required"]}
    assert required["token"]["sensitive"] is True and required["base_url"]["flag"] == "--base-url"


def test_list_types_human(rv, db_url):  # SLT B-1
    r = rv("source", "list-types", db=db_url)
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0] == "Available source types:"
    assert "  filesystem - Filesystem folders" in lines
    assert lines[-1].startswith("Total: ") and lines[-1].endswith(" source types available")


def test_read_only_commands_refuse_dry_run(rv, db_url):  # §0.1: --dry-run on a read-only command
    for argv in (
        ("source", "list"),
        ("source", "list-types"),
        ("collection", "list"),
        ("asset", "list"),
    ):
        r = rv(*argv, "--dry-run", "--json", db=db_url)
        assert r.code == 1
        assert one_json(r.out)["code"] == "USAGE_ERROR"


# -- add (SA) ---------------------------------------------------------------------------------


def test_add_filesystem_creates_one_row(rv, db_url, media):  # SA D-1 / B-3 / D-2 / B-4
    doc = add_fs(rv, db_url, media, discover=False)
    assert set(doc) == {
        "status",
        "id",
        "external_id",
        "name",
        "type",
        "config",
        "importer_name",
        "collections_discovered",
        "collections",
        "dry_run",
    }
    assert doc["status"] == "ok" and doc["dry_run"] is False
    assert uuid.UUID(doc["id"]) and doc["id"] == doc["id"].lower()
    assert (
        doc["external_id"].startswith("filesystem-")
        and len(doc["external_id"]) == len("filesystem-") + 8
    )
    assert doc["config"]["base_path"] == str(media)
    assert doc["collections_discovered"] == 0 and doc["collections"] == []  # SA B-9
    assert count(db_url, "sources") == 1 and count(db_url, "collections") == 0


def test_add_human_output(rv, db_url, media):  # SA human output
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "Lib",
        "--base-path",
        str(media),
        "--discover",
        db=db_url,
    )
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "Successfully created filesystem source: Lib"
    assert lines[1] == "  Name: Lib" and lines[4] == "  Type: filesystem"
    assert "  Collections discovered: 3" in lines
    assert "    \u2022 Movies (ID: Movies) - Disabled by default" in lines


def test_add_same_name_warns(rv, db_url, media):  # SA B-3: names are not unique
    add_fs(rv, db_url, media, discover=False)
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "LIBRARY",
        "--base-path",
        str(media),
        db=db_url,
    )
    assert r.code == 0 and "Warning:" in r.err and "ambiguous" in r.err
    assert count(db_url, "sources") == 2


def test_add_missing_type(rv, db_url):  # SA B-10 / B-1
    r = rv("source", "add", "--name", "x", db=db_url)
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines()[0] == "Error: --type is required"
    assert "filesystem" in r.err and "plex" in r.err


def test_add_unknown_type(rv, db_url):  # SA B-10
    r = rv("source", "add", "--type", "nope", "--name", "x", "--json", db=db_url)
    assert r.code == 1
    assert one_json(r.out) == {
        "status": "error",
        "code": "UNKNOWN_SOURCE_TYPE",
        "message": "Unknown source type 'nope'. Available types: emby, filesystem, jellyfin, plex",
    }


def test_add_reports_every_missing_parameter(rv, db_url):  # SA B-2 / B-5
    r = rv("source", "add", "--type", "plex", "--name", "P", db=db_url)
    assert r.code == 1
    assert r.err.splitlines() == [
        "Error: --base-url is required for plex sources",
        "Error: --token is required for plex sources",
    ]
    assert count(db_url, "sources") == 0


def test_add_foreign_parameter_and_bad_url(rv, db_url, tmp_path):  # SA B-11 / B-12
    r = rv(
        "source",
        "add",
        "--type",
        "plex",
        "--name",
        "P",
        "--base-path",
        str(tmp_path),
        "--base-url",
        "ftp:x",
        "--token",
        "t0k3n",
        db=db_url,
    )
    assert r.code == 1
    assert (
        "Error: Invalid configuration parameter 'base_path' for source type 'plex'"
        in r.err.splitlines()
    )
    assert "Error: Invalid URL format for base_url parameter" in r.err.splitlines()


def test_add_missing_path(rv, db_url, tmp_path):  # SA B-12 / B-5
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "F",
        "--base-path",
        str(tmp_path / "nope"),
        "--json",
        db=db_url,
    )
    assert r.code == 1
    assert one_json(r.out)["message"] == f"Path does not exist: {tmp_path / 'nope'}"
    assert count(db_url, "sources") == 0


def test_add_blank_name(rv, db_url, media):  # SA B-2: blank name invalid
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "  ",
        "--base-path",
        str(media),
        db=db_url,
    )
    assert r.code == 1 and count(db_url, "sources") == 0


def test_add_help_lists_type_flags(rv, db_url):  # SA: --help with --type lists param_spec flags
    r = rv("source", "add", "--type", "plex", "--help")
    assert r.code == 0
    assert "--base-url" in r.out and "--token" in r.out and "--verify-ssl" in r.out
    assert "--base-path" not in r.out
    r = rv("source", "add", "--type", "filesystem", "--help")
    assert "--base-path" in r.out and "--extensions" in r.out and "--token" not in r.out


def test_add_discover_in_one_unit(rv, db_url, media):  # SA D-3 / D-4 / SCG G-1 / G-4 / D-2
    doc = add_fs(rv, db_url, media)
    assert doc["collections_discovered"] == 3
    assert [c["name"] for c in doc["collections"]] == ["Empty", "Movies", "TV"]
    assert all(c["sync_enabled"] is False for c in doc["collections"])  # SA D-4
    assert all(c["ingestible"] is True for c in doc["collections"])  # SD D-2 (readable folder)
    assert count(db_url, "path_mappings") == 0  # SCG G-6: filesystem has no mapping rows


def test_add_discover_failure_persists_nothing(rv, db_url, media, monkeypatch):  # SA B-5a / D-6
    from retrovue.errors import ImporterUnreachableError
    from retrovue.importers.filesystem import FilesystemImporter

    def boom(self):
        raise ImporterUnreachableError("NAS went away")

    monkeypatch.setattr(FilesystemImporter, "list_collections", boom)
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "F",
        "--base-path",
        str(media),
        "--discover",
        "--json",
        db=db_url,
    )
    assert r.code == 3
    doc = one_json(r.out)
    assert (
        doc["status"] == "error"
        and doc["message"] == "Failed to discover collections from source 'F'"
    )
    assert "NAS went away" in r.err
    assert count(db_url, "sources") == 0 and count(db_url, "collections") == 0


def test_add_dry_run_writes_nothing(rv, db_url, media):  # SA B-6 / §0.7
    before = snapshot_tables(db_url)
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "F",
        "--base-path",
        str(media),
        "--discover",
        "--dry-run",
        db=db_url,
    )
    assert r.code == 0, r.err
    assert r.out.rstrip("\n").splitlines()[-1] == DRY_FOOTER
    assert 'source "F" will be created' in r.out and 'collection "Movies" discovered' in r.out
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "F",
        "--base-path",
        str(media),
        "--discover",
        "--dry-run",
        "--json",
        db=db_url,
    )
    doc = one_json(r.out)
    assert doc["dry_run"] is True and doc["id"] is None and doc["plan"]["actions"]
    assert [c["id"] for c in doc["collections"]] == [None, None, None]
    assert snapshot_tables(db_url) == before


def test_add_dry_run_validates_like_real_run(rv, db_url, tmp_path):  # SA B-6 (§0.7)
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "F",
        "--base-path",
        str(tmp_path / "x"),
        "--dry-run",
        db=db_url,
    )
    assert r.code == 1 and r.err.startswith("Error: Path does not exist")


def test_add_test_db_leaves_production_untouched(
    rv, tmp_path, media
):  # SA B-6a / B-6b / B-6c / UOW-050
    prod = tmp_path / "prod.db"
    test = tmp_path / "test.db"
    env = {"RETROVUE_TEST_DATABASE_URL": f"sqlite:///{test}"}
    add_fs(rv, f"sqlite:///{prod}", media, "Prod", False)
    dump = sqlite_dump(prod)
    r = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "T",
        "--base-path",
        str(media),
        "--test-db",
        "--json",
        db=f"sqlite:///{prod}",
        env=env,
    )
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert set(doc) >= {
        "id",
        "external_id",
        "dry_run",
    }  # same shape as production (B-6c)
    assert sqlite_dump(prod) == dump
    assert count(f"sqlite:///{test}", "sources") == 1


def test_test_db_equal_to_production_is_refused(rv, tmp_path, media):  # UOW-050 / §0.8
    url = f"sqlite:///{tmp_path / 'same.db'}"
    r = rv(
        "source",
        "list",
        "--test-db",
        "--json",
        db=url,
        env={"RETROVUE_TEST_DATABASE_URL": url},
    )
    assert r.code == 1 and one_json(r.out)["code"] == "TEST_DB_IS_PRODUCTION"


# -- list (SL) ----------------------------------------------------------------------------------


def test_list_empty_is_exact(rv, db_url):  # SL B-6 / B-4
    r = rv("source", "list", "--json", db=db_url)
    assert r.code == 0 and one_json(r.out) == {
        "status": "ok",
        "total": 0,
        "sources": [],
    }
    r = rv("source", "list", db=db_url)
    assert r.out.splitlines() == [
        "No sources configured",
        "Total: 0 sources configured",
    ]


def test_list_sorted_and_counts(rv, db_url, media):  # SL B-1 / B-5 / D-3 / D-4 / B-4
    add_fs(rv, db_url, media, "beta")
    add_fs(rv, db_url, media, "Alpha", False)
    rv("collection", "update", "Movies", "--sync-enable", db=db_url)
    doc = one_json(rv("source", "list", "--json", db=db_url).out)
    assert [s["name"] for s in doc["sources"]] == ["Alpha", "beta"]
    assert doc["total"] == 2
    beta = doc["sources"][1]
    assert set(beta) == {
        "id",
        "external_id",
        "name",
        "type",
        "available",
        "enabled_collections",
        "ingestible_collections",
        "created_at",
        "updated_at",
    }
    assert beta["enabled_collections"] == 1 and beta["ingestible_collections"] == 3
    assert beta["created_at"].endswith("+00:00")
    human = rv("source", "list", db=db_url).out.splitlines()
    assert human[0] == "Configured sources:" and human[-1] == "Total: 2 sources configured"
    # issue 10: an aligned table, one row per source
    assert human[1].split() == [
        "NAME",
        "TYPE",
        "AVAILABLE",
        "ENABLED",
        "INGESTIBLE",
        "UPDATED",
        "ID",
    ]
    assert [line.split()[:5] for line in human[2:4]] == [
        ["Alpha", "filesystem", "Yes", "0", "0"],
        ["beta", "filesystem", "Yes", "1", "3"],
    ]
    assert human[2].index("filesystem") == human[3].index("filesystem")


def test_list_type_filter(rv, db_url, media):  # SL B-2 / B-3
    add_fs(rv, db_url, media, "A", False)
    r = rv("source", "list", "--type", "plex", db=db_url)
    assert r.out.splitlines() == [
        "No plex sources configured",
        "Total: 0 plex sources configured",
    ]
    r = rv("source", "list", "--type", "filesystem", db=db_url)
    assert (
        r.out.splitlines()[0] == "Filesystem sources:"
        and r.out.splitlines()[-1] == "Total: 1 filesystem source configured"
    )
    r = rv("source", "list", "--type", "bogus", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "UNKNOWN_SOURCE_TYPE"


def test_list_is_byte_identical(rv, db_url, media):  # §0.2 determinism
    add_fs(rv, db_url, media)
    assert rv("source", "list", db=db_url).out == rv("source", "list", db=db_url).out


# -- show (SS) ----------------------------------------------------------------------------------


def test_show(rv, db_url, media):  # SS N-1 / N-2 / JSON keys
    add_fs(rv, db_url, media)
    r = rv("source", "show", "library", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert set(doc) == {
        "status",
        "id",
        "external_id",
        "name",
        "type",
        "available",
        "importer_name",
        "config",
        "enabled_collections",
        "ingestible_collections",
        "collections",
        "enrichers",  # issue 11: attached to the source
        "created_at",
        "updated_at",
    }
    assert set(doc["collections"][0]) == {
        "id",
        "external_id",
        "name",
        "sync_enabled",
        "ingestible",
        "assets_count",
        "last_ingest_time",
        "enrichers",  # issue 11: attached to the collection itself
    }
    human = rv("source", "show", "Library", db=db_url).out.splitlines()
    assert human[0] == "Source: Library" and "  Available: Yes" in human
    assert "    \u2022 Movies (ID: Movies) sync=No ingestible=Yes assets=0" in human


def test_show_not_found(rv, db_url):  # SS N-1 / §0.5
    r = rv("source", "show", "ghost", db=db_url)
    assert (
        r.code == 1 and r.out == "" and r.err.splitlines()[0] == "Error: Source 'ghost' not found"
    )


def test_show_redacts_plex_token(rv, db_url, fake_plex):  # SS N-3 / §0.11
    doc = add_plex(rv, db_url, fake_plex.url, fake_plex.token, discover=False)
    assert fake_plex.token not in json.dumps(doc) and doc["config"]["token"] == REDACTED
    r = rv("source", "show", "P", db=db_url)
    assert fake_plex.token not in r.out and REDACTED in r.out


# -- update (SU) --------------------------------------------------------------------------------


def test_update_name_and_path(rv, db_url, media, tmp_path):  # SU-020 / SU-051 / SU-030 / N-2
    add_fs(rv, db_url, media)
    other = tmp_path / "other"
    other.mkdir()
    r = rv(
        "source",
        "update",
        "Library",
        "--name",
        "Lib2",
        "--base-path",
        str(other),
        "--json",
        db=db_url,
    )
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert doc["name"] == "Lib2" and doc["updated_parameters"] == ["name", "base_path"]
    assert doc["config"]["base_path"] == str(other)
    assert "Warning:" in r.err  # SU N-2
    assert count(db_url, "collections") == 3  # SCG G-2: a source update never rewrites collections


def test_update_no_change_keeps_updated_at(rv, db_url, media):  # SU-051
    created = add_fs(rv, db_url, media)
    before = one_json(rv("source", "show", created["id"], "--json", db=db_url).out)["updated_at"]
    r = rv("source", "update", created["id"], "--name", "Library", "--json", db=db_url)
    assert r.code == 0 and one_json(r.out)["updated_parameters"] == []
    assert one_json(r.out)["updated_at"] == before


def test_update_refusals(rv, db_url, media):  # SU-020 / SU-021 / SU-030 / SU-010
    add_fs(rv, db_url, media)
    r = rv("source", "update", "Library", db=db_url)
    assert r.code == 1
    r = rv("source", "update", "Library", "--external-id", "x", db=db_url)
    assert r.code == 1 and r.err.startswith("Error: Cannot update immutable field 'external_id'")
    r = rv("source", "update", "Library", "--base-url", "http://x", db=db_url)
    assert (
        r.code == 1
        and "Invalid configuration parameter 'base_url' for source type 'filesystem'" in r.err
    )
    r = rv("source", "update", "nope", "--name", "x", db=db_url)
    assert r.code == 1 and r.err.startswith("Error: Source 'nope' not found")


def test_update_dry_run(rv, db_url, media):  # SU-040
    add_fs(rv, db_url, media)
    before = snapshot_tables(db_url)
    r = rv("source", "update", "Library", "--name", "New", "--dry-run", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert (
        doc["current_name"] == "Library"
        and doc["proposed_name"] == "New"
        and doc["dry_run"] is True
    )
    assert set(doc) == {
        "status",
        "dry_run",
        "id",
        "external_id",
        "current_name",
        "proposed_name",
        "type",
        "current_config",
        "proposed_config",
        "updated_parameters",
        "plan",
    }
    assert snapshot_tables(db_url) == before


def test_update_concurrent_modification(rv, db_url, media, monkeypatch):  # SU-050
    add_fs(rv, db_url, media)
    from retrovue.app import source_update as source_module

    real = source_module._commit_if_unmodified

    def bumped(ctx, plan, s, read):
        from datetime import UTC, datetime

        return real(ctx, plan, s, datetime(2000, 1, 1, tzinfo=UTC))

    monkeypatch.setattr(source_module, "_commit_if_unmodified", bumped)
    r = rv("source", "update", "Library", "--name", "X", "--json", db=db_url)
    assert r.code == 1
    assert one_json(r.out) == {
        "status": "error",
        "code": "CONCURRENT_MODIFICATION",
        "message": "Source was modified concurrently. Please retry.",
    }


# -- discover (SD) ------------------------------------------------------------------------------


def test_discover_adds_renames_and_keeps_gone(
    rv, db_url, media
):  # SD B-6 / D-6 / D-7 / N-1 / D-3 / B-3
    add_fs(rv, db_url, media)
    rv("collection", "update", "Movies", "--sync-enable", db=db_url)
    (media / "Docs").mkdir()
    os.rename(
        media / "Empty", media / "Gone"
    )  # filesystem: external_id == name, so a new one + a gone one
    r = rv("source", "discover", "Library", "--json", db=db_url)
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert set(doc) == {
        "status",
        "source",
        "collections_added",
        "collections_updated",
        "collections_unchanged",
        "collections",
        "collections_gone",
        "dry_run",
    }
    status = {c["name"]: c["status"] for c in doc["collections"]}
    assert status == {
        "Docs": "added",
        "Gone": "added",
        "Movies": "unchanged",
        "TV": "unchanged",
    }
    assert [g["name"] for g in doc["collections_gone"]] == ["Empty"]
    movies = next(c for c in doc["collections"] if c["name"] == "Movies")
    assert movies["sync_enabled"] is True  # D-3: discovery never touches existing flags
    assert count(db_url, "collections") == 5  # N-1: never deletes


def test_discover_human_and_idempotent(rv, db_url, media):  # SD B-6 human
    add_fs(rv, db_url, media, discover=False)
    r = rv("source", "discover", "Library", db=db_url)
    lines = r.out.splitlines()
    assert lines[0] == "Successfully added 3 collections from 'Library':"
    assert (
        lines[-1]
        == "Use 'retrovue collection update <name> --sync-enable' to enable collections for sync"
    )
    r = rv("source", "discover", "Library", db=db_url)
    assert r.out.splitlines()[0] == "Successfully added 0 collections from 'Library':"
    assert "  \u2022 Movies (ID: Movies) - Already exists, skipped" in r.out.splitlines()
    assert not r.out.rstrip().endswith("for sync")
    assert count(db_url, "collections") == 3


def test_discover_nothing_offered(rv, db_url, tmp_path):  # SD B-5
    (tmp_path / "empty").mkdir()
    add_fs(rv, db_url, tmp_path / "empty", discover=False)
    r = rv("source", "discover", "Library", db=db_url)
    assert r.code == 0 and r.out == "No collections found for source 'Library'\n"


def test_discover_dry_run(rv, db_url, media):  # SD B-2
    add_fs(rv, db_url, media, discover=False)
    before = snapshot_tables(db_url)
    r = rv("source", "discover", "Library", "--dry-run", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 0 and doc["dry_run"] is True and doc["collections_added"] == 3
    assert snapshot_tables(db_url) == before


def test_discover_unreachable_exits_3(rv, db_url, media, tmp_path):  # SD N-2 / §0.12
    base = tmp_path / "nas"
    base.mkdir()
    add_fs(rv, db_url, base, discover=False)
    base.rmdir()
    r = rv("source", "discover", "Library", "--json", db=db_url)
    assert r.code == 3 and one_json(r.out)["code"] == "UPSTREAM_UNREACHABLE"


def test_discover_unavailable_importer(rv, db_url, media, engine):  # SD B-8 / §0.12 availability
    add_fs(rv, db_url, media, discover=False)
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE sources SET type = 'ghost'"))
    r = rv("source", "discover", "Library", db=db_url)
    assert r.code == 1 and r.err.splitlines()[0] == "Error: Source type 'ghost' is not available"
    r = rv("source", "list", "--json", db=db_url)  # still listed (§0.12)
    assert one_json(r.out)["sources"][0]["available"] is False


def test_plex_discover_creates_null_mappings(
    rv, db_url, fake_plex
):  # SCG G-6 / SD D-4 / SA D-5 / SD D-2
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    fake_plex.add_movie(movies, "Heat", year=1995)
    fake_plex.add_section("3", "Music", "artist", ["/data/Music"])
    doc = add_plex(rv, db_url, fake_plex.url, fake_plex.token)
    assert [c["name"] for c in doc["collections"]] == ["Movies"]  # SD B-10: other sections skipped
    assert doc["collections"][0]["ingestible"] is False  # no local_path yet
    assert (
        count(
            db_url,
            "path_mappings",
            "WHERE local_path IS NULL AND plex_path = '/data/Movies'",
        )
        == 1
    )
    r = rv("source", "discover", "P", "--json", db=db_url)  # D-4: existing rows never duplicated
    assert r.code == 0 and count(db_url, "path_mappings") == 1


def test_add_dry_run_shows_the_external_id_the_real_command_stores(rv, db_url, media):
    """Issue 19, item 14: the dry run showed a random id, the real command stored another.  Both
    derive it as the declarative path does; a second source of the same name gets -2."""
    argv = ("source", "add", "--type", "filesystem", "--name", "Den", "--base-path", str(media))
    previewed = rv(*argv, "--dry-run", "--json", db=db_url).json()["plan"]["actions"][0]
    added = rv(*argv, "--json", db=db_url).json()
    assert previewed["external_id"] == added["external_id"]
    again = rv(*argv, "--dry-run", "--json", db=db_url).json()["plan"]["actions"][0]
    assert again["external_id"] == added["external_id"] + "-2"
    assert rv(*argv, "--json", db=db_url).json()["external_id"] == added["external_id"] + "-2"
