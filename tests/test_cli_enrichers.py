"""Enrichers from the command line (issue 11): `enricher list-types`, `source attach-enricher |
detach-enricher`, `collection update --add-enricher | --remove-enricher`, `collection enrich`, and
what `source show`, `collection show`, `asset show|list` and apply's results say about them."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import create_engine, insert, text

from tests.imperative_helpers import add_fs, count, enable, one_json, snapshot_tables
from tests.media import write_av, write_text, write_zero_bytes

FOOTER = "(No database changes made \u2014 dry-run mode)"


def _tables(url: str) -> dict:
    """Every catalogue row plus the enrichment tables, for "dry-run writes nothing"."""
    rows = snapshot_tables(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table in ("enricher_attachments", "asset_enrichments"):
                rows[table] = sorted(
                    tuple(str(v) for v in row)
                    for row in conn.execute(text(f"SELECT * FROM {table}"))
                )
    finally:
        engine.dispose()
    return rows


@pytest.fixture(name="library")
def library_fixture(tmp_path):
    """Shows: two good files, a zero-byte one and a text file named .mp4; Movies: one good."""
    base = tmp_path / "media"
    (base / "Shows").mkdir(parents=True)
    (base / "Movies").mkdir()
    write_av(base / "Shows" / "a.mkv")
    write_av(base / "Shows" / "b.mp4", seconds=0.5)
    write_zero_bytes(base / "Shows" / "empty.mkv")
    write_text(base / "Shows" / "text.mp4")
    write_av(base / "Movies" / "m.mkv")
    return base


def _ingested(rv, db, base, *collections) -> None:
    add_fs(rv, db, base)
    for name in collections:
        enable(rv, db, name)
        r = rv("collection", "ingest", name, db=db)
        assert r.code == 0, r.err


# -- enricher list-types ---------------------------------------------------------------------------


def test_list_types_text_and_json(rv):
    """issue 11: a table of type, version, provider, availability, opt-in and parameters."""
    r = rv("enricher", "list-types")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["TYPE", "VERSION", "PROVIDER", "AVAILABLE", "OPT-IN", "PARAMETERS"]
    ffprobe = next(line for line in lines if line.startswith("ffprobe "))
    assert ffprobe.split()[1:5] == ["2", "built-in", "Yes", "No"]
    assert "probe_size=1000000" in ffprobe
    loudness = next(line for line in lines if line.startswith("loudness "))
    assert loudness.split()[4] == "Yes"  # opt-in: it reads the whole file
    assert lines[-1] == "Total: 2 enricher types, 2 available"
    doc = one_json(rv("enricher", "list-types", "--json").out)
    assert doc["status"] == "ok" and doc["total"] == len(doc["enricher_types"]) == 2
    assert [t["type"] for t in doc["enricher_types"]] == ["ffprobe", "loudness"]
    first = doc["enricher_types"][0]
    assert first["available"] is True and first["error"] is None and first["provider"] == "built-in"
    assert {p["name"] for p in first["parameters"]} == {"probe_size", "analyze_duration"}


def test_list_types_rejects_dry_run(rv):
    """issue 11: read-only, like every list-types (contracts §0.1)."""
    r = rv("enricher", "list-types", "--dry-run", "--json")
    assert r.code == 1 and one_json(r.out)["code"] == "USAGE_ERROR"


# -- source attach-enricher / detach-enricher ---------------------------------------------------------


def test_attach_and_detach_on_a_source(rv, db_url, tmp_path):
    """issue 11: attach (dry run writes nothing), attach again is a no-op, another priority
    changes it, detach, and detaching what is not attached is an error."""
    (tmp_path / "m" / "Shows").mkdir(parents=True)
    add_fs(rv, db_url, tmp_path / "m")
    before = _tables(db_url)
    r = rv("source", "attach-enricher", "Library", "ffprobe", "--dry-run", db=db_url)
    assert r.code == 0, r.err
    assert '~ enrichers: [] -> ["ffprobe"]' in r.out
    assert "  enricher ffprobe: attached (priority 0)" in r.out and r.out.endswith(FOOTER + "\n")
    doc = one_json(
        rv("source", "attach-enricher", "Library", "ffprobe", "--dry-run", "--json", db=db_url).out
    )
    assert doc["dry_run"] is True and doc["updated"] is True and doc["plan"]["actions"]
    assert _tables(db_url) == before

    r = rv("source", "attach-enricher", "Library", "ffprobe", db=db_url)
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "Updated enrichers of source 'Library'",
        "  enricher ffprobe: attached (priority 0)",
        "  Enrichers: ffprobe (priority 0)",
    ]
    assert count(db_url, "enricher_attachments") == 1
    r = rv("source", "attach-enricher", "Library", "ffprobe", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 0 and doc["updated"] is False
    assert doc["message"] == (
        "Enricher 'ffprobe' is already attached to source 'Library' (priority 0); nothing changed"
    )
    r = rv("source", "attach-enricher", "Library", "loudness", "--priority", "10", db=db_url)
    assert r.code == 0, r.err
    r = rv("source", "attach-enricher", "Library", "ffprobe", "--priority", "20", db=db_url)
    assert "  enricher ffprobe: priority 0 -> 20" in r.out
    assert "  Enrichers: loudness (priority 10), ffprobe (priority 20)" in r.out

    shown = one_json(rv("source", "show", "Library", "--json", db=db_url).out)
    assert shown["enrichers"] == [
        {"type": "loudness", "priority": 10, "params": {}},
        {"type": "ffprobe", "priority": 20, "params": {}},
    ]
    human = rv("source", "show", "Library", db=db_url).out.splitlines()
    at = human.index("  Enrichers:")
    assert human[at + 1 : at + 3] == [
        "    \u2022 loudness (priority 10)",
        "    \u2022 ffprobe (priority 20)",
    ]

    before = _tables(db_url)
    r = rv("source", "detach-enricher", "Library", "loudness", "--dry-run", db=db_url)
    assert r.code == 0 and r.out.endswith(FOOTER + "\n")
    assert _tables(db_url) == before
    r = rv("source", "detach-enricher", "Library", "loudness", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 0 and doc["operation"] == "detach" and doc["updated"] is True
    assert doc["enrichers"] == [{"type": "ffprobe", "priority": 20, "params": {}}]
    r = rv("source", "detach-enricher", "Library", "loudness", db=db_url)
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines() == [
        "Error: Enricher 'loudness' is not attached to source 'Library'",
        "  attached to source 'Library': ffprobe",
    ]


def test_unknown_or_bad_enricher_types_are_refused(rv, db_url, tmp_path):
    """issue 11: an unknown type is refused naming the available ones; nothing written."""
    (tmp_path / "m" / "Shows").mkdir(parents=True)
    add_fs(rv, db_url, tmp_path / "m")
    before = _tables(db_url)
    r = rv("source", "attach-enricher", "Library", "scenes", db=db_url)
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines() == [
        "Error: Unknown enricher type 'scenes'",
        "  available types: ffprobe, loudness",
    ]
    r = rv("source", "attach-enricher", "Library", "scenes", "--dry-run", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "UNKNOWN_ENRICHER_TYPE"
    r = rv("collection", "update", "Shows", "--add-enricher", "scenes", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "UNKNOWN_ENRICHER_TYPE"
    r = rv("source", "attach-enricher", "Ghost", "ffprobe", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"
    r = rv("source", "attach-enricher", "Library", "ffprobe", "--priority", "x", db=db_url)
    assert r.code == 1 and "--priority" in r.err
    assert _tables(db_url) == before


# -- collection update --add-enricher / --remove-enricher ------------------------------------------------


def test_collection_add_and_remove_enricher(rv, db_url, tmp_path):
    """issue 11: a collection adds to or overrides its source's enrichers; `collection show`
    lists the effective ones with where each comes from."""
    (tmp_path / "m" / "Shows").mkdir(parents=True)
    add_fs(rv, db_url, tmp_path / "m")
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0
    before = _tables(db_url)
    r = rv("collection", "update", "Shows", "--add-enricher", "loudness", "--priority", "5",
           "--dry-run", "--json", db=db_url)  # fmt: skip
    doc = one_json(r.out)
    assert r.code == 0 and doc["dry_run"] is True and doc["operation"] == ["add-enricher"]
    assert doc["enricher"]["after"] == [{"type": "loudness", "priority": 5, "params": {}}]
    assert _tables(db_url) == before

    r = rv("collection", "update", "Shows", "--add-enricher", "loudness", "--priority", "5",
           "--sync-enable", db=db_url)  # fmt: skip
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "Successfully updated collection: Shows",
        "  sync_enabled: No -> Yes",
        "  enricher loudness: attached (priority 5)",
    ]
    r = rv(
        "collection", "update", "Shows", "--add-enricher", "ffprobe", "--priority", "9", db=db_url
    )
    assert r.code == 0, r.err
    shown = one_json(rv("collection", "show", "Shows", "--json", db=db_url).out)
    assert shown["enrichers"] == [
        {"type": "loudness", "priority": 5, "params": {}, "from": "collection"},
        {"type": "ffprobe", "priority": 9, "params": {}, "from": "collection (overrides source)"},
    ]
    human = rv("collection", "show", "Shows", db=db_url).out.splitlines()
    at = human.index("  Enrichers:")
    assert human[at + 1 : at + 3] == [
        "    \u2022 loudness (priority 5) from collection",
        "    \u2022 ffprobe (priority 9) from collection (overrides source)",
    ]
    again = rv("collection", "update", "Shows", "--add-enricher", "loudness", "--priority", "5",
               "--json", db=db_url)  # fmt: skip
    doc = one_json(again.out)
    assert again.code == 0 and doc["updated"] is False
    assert "already attached to collection 'Shows' (priority 5)" in doc["message"]

    r = rv("collection", "update", "Shows", "--remove-enricher", "ffprobe", db=db_url)
    assert r.code == 0 and "  enricher ffprobe: detached" in r.out
    shown = one_json(rv("collection", "show", "Shows", "--json", db=db_url).out)
    assert [(e["type"], e["from"]) for e in shown["enrichers"]] == [
        ("ffprobe", "source"),
        ("loudness", "collection"),
    ]
    # the source's attachment is not the collection's to remove
    r = rv("collection", "update", "Shows", "--remove-enricher", "ffprobe", db=db_url)
    assert r.code == 1
    assert (
        r.err.splitlines()[0] == "Error: Enricher 'ffprobe' is not attached to collection 'Shows'"
    )
    assert "attached to its source 'Library'" in r.err
    for argv, message in (
        (["--priority", "3"], "--priority requires --add-enricher"),
        (["--add-enricher", "ffprobe", "--remove-enricher", "loudness"], "Cannot specify both"),
    ):
        r = rv("collection", "update", "Shows", *argv, "--json", db=db_url)
        assert r.code == 1 and message in one_json(r.out)["message"]


# -- collection enrich -----------------------------------------------------------------------------


def test_collection_enrich_lifecycle(rv, db_url, library):
    """issue 11: the good files are enriched (ready, duration set) while a zero-byte file and a
    text file named .mp4 fail, each with its own reason (exit 2); a re-run enriches nothing;
    --retry-failed retries the failed ones only; --force enriches every asset again."""
    _ingested(rv, db_url, library, "Shows")
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0

    before = _tables(db_url)
    r = rv("collection", "enrich", "Shows", "--dry-run", db=db_url)
    assert r.code == 0, r.err
    assert "Would enrich in collection 'Shows':" in r.out
    assert "  ffprobe (version 2): 4 assets" in r.out and r.out.endswith(FOOTER + "\n")
    doc = one_json(rv("collection", "enrich", "Shows", "--dry-run", "--json", db=db_url).out)
    assert doc["dry_run"] is True and doc["work"] == [
        {"type": "ffprobe", "version": "2", "assets": 4}
    ]
    assert doc["enrichments"] == [] and doc["plan"]["actions"]
    assert _tables(db_url) == before

    r = rv("collection", "enrich", "Shows", db=db_url)
    assert r.code == 2, r.err
    lines = r.out.splitlines()
    assert lines[0] == 'collection "Library"/"Shows": enriched 2 with ffprobe, 2 failed'
    empty, bad = str(library / "Shows" / "empty.mkv"), str(library / "Shows" / "text.mp4")
    assert lines[1] == f"  ! {empty}: NOT_MEDIA: empty file (0 bytes)"
    assert lines[2].startswith(f"  ! {bad}: NOT_MEDIA: ")
    assert lines[-1] == "Enrichment finished with errors for collection 'Shows'"

    listed = one_json(rv("asset", "list", "--collection", "Shows", "--json", db=db_url).out)
    state = {a["canonical_uri"].rsplit("/", 1)[1]: a for a in listed["assets"]}
    assert {n: a["state"] for n, a in state.items()} == {
        "a.mkv": "ready",
        "b.mp4": "ready",
        "empty.mkv": "new",
        "text.mp4": "new",
    }
    assert (
        900 <= state["a.mkv"]["duration_ms"] <= 1100 and state["empty.mkv"]["duration_ms"] is None
    )
    ready = rv("asset", "list", "--state", "ready", db=db_url).out
    assert ready.splitlines()[-1] == "Total: 2 assets" and "a.mkv" in ready
    assert rv("asset", "list", "--state", "enriching", db=db_url).out.startswith("No assets found")

    shown = one_json(rv("asset", "show", state["a.mkv"]["id"], "--json", db=db_url).out)
    assert shown["container"] == "matroska,webm" and shown["video_codec"] == "h264"
    assert (shown["width"], shown["height"], shown["audio_codec"]) == (64, 48, "aac")
    assert shown["enrichers"][0]["type"] == "ffprobe" and shown["enrichers"][0]["ok"] is True
    assert shown["enrichers"][0]["change_token"] == shown["change_token"]
    human = rv("asset", "show", state["empty.mkv"]["id"], db=db_url).out.splitlines()
    at = human.index("  Enrichers:")
    assert human[at + 1].startswith("    ffprobe: version 2, change token ")
    assert human[at + 1].endswith(": NOT_MEDIA: empty file (0 bytes)")
    human = rv("asset", "show", state["a.mkv"]["id"], db=db_url).out.splitlines()
    assert "  Container: matroska,webm" in human and "  Width: 64" in human

    r = rv("collection", "enrich", "Shows", db=db_url)  # nothing changed: nothing probed
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "Nothing to enrich in collection 'Shows'",
        "  2 assets failed earlier with ffprobe; --retry-failed tries them again",
    ]

    r = rv("collection", "enrich", "Shows", "--retry-failed", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 2 and doc["status"] == "partial"
    (outcome,) = doc["enrichments"]
    assert outcome["counts"] == [{"type": "ffprobe", "enriched": 0, "failed": 2, "from_listing": 0}]
    assert sorted(f["path"] for f in outcome["failures"]) == [empty, bad]
    assert {f["code"] for f in outcome["failures"]} == {"NOT_MEDIA"}
    assert set(outcome["failures"][0]) == {"asset_id", "path", "type", "code", "message"}
    assert outcome["error"] is None and outcome["interrupted"] is False

    r = rv("collection", "enrich", "Shows", "--force", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 2
    assert doc["enrichments"][0]["counts"][0] | {"type": None} == {
        "type": None,
        "enriched": 2,
        "failed": 2,
        "from_listing": 0,
    }


def test_collection_enrich_all_ok_and_nothing_attached(rv, db_url, library):
    """issue 11: exit 0 when every asset is enriched; a collection without enrichers says so
    and exits 0 (nothing to do)."""
    _ingested(rv, db_url, library, "Movies")
    r = rv("collection", "enrich", "Movies", db=db_url)
    assert r.code == 0
    assert (
        r.out.splitlines()[0] == "Collection 'Movies' has no enrichers attached; nothing to enrich"
    )
    doc = one_json(rv("collection", "enrich", "Movies", "--json", db=db_url).out)
    assert doc["status"] == "ok" and doc["enrichers"] == [] and doc["enrichments"] == []
    assert rv("collection", "update", "Movies", "--add-enricher", "ffprobe", db=db_url).code == 0
    r = rv("collection", "enrich", "Movies", db=db_url)
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        'collection "Library"/"Movies": enriched 1 with ffprobe',
        "Enrichment complete for collection 'Movies'",
    ]
    assert one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["state"] == "ready"


def _attach_stored(url: str, collection_id: str, type_id: str) -> None:
    """An attachment of a type no loaded enricher provides (its plugin was uninstalled)."""
    from retrovue.database.tables import EnricherAttachment, utcnow

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            now = utcnow()
            conn.execute(
                insert(EnricherAttachment).values(
                    id=uuid.uuid4(),
                    collection_id=uuid.UUID(collection_id),
                    enricher_type=type_id,
                    priority=0,
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        engine.dispose()


def test_collection_enrich_with_an_unavailable_enricher(rv, db_url, library):
    """issue 11: an attached type no loaded enricher provides: exit 1 with nothing written when
    it is the only one; exit 2 when the others enriched; it can still be detached."""
    _ingested(rv, db_url, library, "Movies")
    movies = one_json(rv("collection", "show", "Movies", "--json", db=db_url).out)["id"]
    _attach_stored(db_url, movies, "scenes")
    before = _tables(db_url)
    r = rv("collection", "enrich", "Movies", "--json", db=db_url)
    doc = one_json(r.out)
    assert r.code == 1 and doc["code"] == "ENRICHER_UNAVAILABLE"
    assert doc["message"] == "Enricher type 'scenes' is not available"
    assert doc["collection_name"] == "Movies"
    assert _tables(db_url) == before
    r = rv("collection", "enrich", "Movies", db=db_url)
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("Error: Enricher type 'scenes' is not available\n")

    assert rv("collection", "update", "Movies", "--add-enricher", "ffprobe", db=db_url).code == 0
    r = rv("collection", "enrich", "Movies", db=db_url)
    assert r.code == 2, r.err
    assert 'Warning: collection "Library"/"Movies": enricher \'scenes\' cannot run' in r.err
    assert r.out.splitlines()[0] == 'collection "Library"/"Movies": enriched 1 with ffprobe'
    # it never ran, so the asset is not ready: every attached enricher must succeed
    assert one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["state"] == "new"
    r = rv("collection", "update", "Movies", "--remove-enricher", "scenes", db=db_url)
    assert r.code == 0, r.err


# -- the ingest commands enrich, as apply does (issue 20) -------------------------------------------


def _states(rv, db_url) -> dict[str, str]:
    listed = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"]
    return {a["canonical_uri"].rsplit("/", 1)[1]: a["state"] for a in listed}


def test_collection_ingest_enriches_as_apply_does(rv, db_url, library):
    """issue 20: `collection ingest` did not run the attached enrichers, so its new assets stayed
    `new` until `collection enrich`.  Now it enriches them after the ingest and prints the lines
    apply prints, after the contract's lines; --no-enrich skips it; --help says so."""
    add_fs(rv, db_url, library)
    enable(rv, db_url, "Shows")
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0
    r = rv("collection", "ingest", "Shows", db=db_url)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    done = lines.index("Ingest complete for collection 'Shows'")
    assert lines[1:3] == ["Assets discovered: 4", "Assets ingested: 4"]
    assert lines[done + 1] == 'collection "Library"/"Shows": enriched 2 with ffprobe, 2 failed'
    assert sorted(line.split(": ")[1] for line in lines[done + 2 :]) == ["NOT_MEDIA", "NOT_MEDIA"]
    assert _states(rv, db_url) == {
        "a.mkv": "ready",
        "b.mp4": "ready",
        "empty.mkv": "new",
        "text.mp4": "new",
    }
    write_av(library / "Shows" / "c.mkv")
    doc = one_json(rv("collection", "ingest", "Shows", "--json", db=db_url).out)
    assert doc["stats"]["assets_ingested"] == 1
    assert doc["enrichment"]["counts"] == [
        {"type": "ffprobe", "enriched": 1, "failed": 0, "from_listing": 0}
    ]
    write_av(library / "Shows" / "d.mkv")
    skipped = rv("collection", "ingest", "Shows", "--no-enrich", db=db_url)
    assert skipped.code == 0 and skipped.out.splitlines()[-1].startswith("Ingest complete")
    assert _states(rv, db_url)["d.mkv"] == "new"
    assert "--no-enrich" in rv("collection", "ingest", "--help").out
    assert "enrichers" in rv("collection", "ingest", "--help").out


def test_source_ingest_enriches_each_collection_after_its_ingest(rv, db_url, library):
    """issue 20: `source ingest` left its new assets `new`.  Now each collection's attached
    enrichers run after its ingest, their lines under its `Collection` line, and the contract's
    closing lines stay last; --no-enrich skips them; --help says so."""
    add_fs(rv, db_url, library)
    enable(rv, db_url, "Shows")
    enable(rv, db_url, "Movies")
    assert rv("source", "attach-enricher", "Library", "ffprobe", db=db_url).code == 0
    r = rv("source", "ingest", "Library", db=db_url)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    movies = next(i for i, line in enumerate(lines) if line.startswith("Collection 'Movies': ok"))
    assert lines[movies + 1] == 'collection "Library"/"Movies": enriched 1 with ffprobe'
    assert lines[-2:] == [
        "Source ingest complete: 2 collections processed (2 success, 0 failed)",
        "Success",
    ]
    assert 'collection "Library"/"Shows": enriched 2 with ffprobe, 2 failed' in lines
    assert _states(rv, db_url)["m.mkv"] == "ready"
    write_av(library / "Movies" / "n.mkv")
    doc = one_json(rv("source", "ingest", "Library", "--json", db=db_url).out)
    enrichments = {c["collection_name"]: c["enrichment"] for c in doc["collection_results"]}
    assert enrichments["Shows"] is None  # nothing new, and its failures are not retried
    assert enrichments["Movies"]["counts"][0]["enriched"] == 1
    write_av(library / "Movies" / "o.mkv")
    assert rv("source", "ingest", "Library", "--no-enrich", db=db_url).code == 0
    assert _states(rv, db_url)["o.mkv"] == "new"
    assert "--no-enrich" in rv("source", "ingest", "--help").out


# -- rendering shared with apply ---------------------------------------------------------------------


def _outcome(failures: int, path: str = "/m/x.mkv"):
    from retrovue.model.actions import CollectionAddress, SourceAddress
    from retrovue.model.enrichment import EnrichCounts, EnrichFailure
    from retrovue.model.results import EnrichmentOutcome

    address = CollectionAddress(
        SourceAddress("Library", uuid.uuid4()), "Shows", "Shows", uuid.uuid4()
    )
    return EnrichmentOutcome(
        address,
        counts=(EnrichCounts("ffprobe", 1202, failures, 3),),
        assets_enriched=1202,
        assets_failed=failures,
        failures=tuple(
            EnrichFailure(str(uuid.uuid4()), path, "ffprobe", "NOT_MEDIA", "empty file (0 bytes)")
            for _ in range(failures)
        ),
    )


def test_apply_results_show_enrichment_per_collection():
    """issue 11: apply's results: a line per collection, up to 10 failed assets, then how many
    more and where to see them; the JSON document carries every failure kept."""
    from retrovue.model.results import ExecutionResult
    from retrovue.render.results import render_results, results_to_json

    outcome = _outcome(12)
    text_out = render_results(ExecutionResult(enrichments=[outcome])).splitlines()
    head = text_out.index(
        'collection "Library"/"Shows": enriched 1,202 with ffprobe (3 from the listing), 12 failed'
    )
    assert text_out[head + 1] == "  ! /m/x.mkv: NOT_MEDIA: empty file (0 bytes)"
    assert text_out[head + 11] == (
        f"  \u2026 and 2 more (retrovue asset list --collection {outcome.collection.id} --state new)"
    )
    assert text_out[-1].startswith("Apply finished with errors.")
    assert text_out[-1].endswith("; enrichment: 1,202 assets enriched, 12 failed.")
    doc = results_to_json(ExecutionResult(enrichments=[outcome]))
    (item,) = doc["enrichments"]
    assert item["collection"] == 'collection "Library"/"Shows"'
    assert item["counts"] == [
        {"type": "ffprobe", "enriched": 1202, "failed": 12, "from_listing": 3}
    ]
    assert len(item["failures"]) == 12 and item["error"] is None and item["interrupted"] is False
    assert results_to_json(ExecutionResult())["enrichments"] == []


def test_failure_lines_escape_control_characters():
    """issue 11: a path or message from a file name cannot forge lines or colour the terminal."""
    from retrovue.model.results import ExecutionResult
    from retrovue.render.results import render_results

    out = render_results(ExecutionResult(enrichments=[_outcome(1, "/m/\x1b[31mred\nfake.mkv")]))
    assert "\x1b" not in out and "  ! /m/\\x1b[31mred\\nfake.mkv: NOT_MEDIA" in out


def test_progress_shows_the_enrichment_phase():
    """issue 11: the enrichment phase counts assets, with a rate and an ETA, and ends in a
    summary line of its own."""
    from retrovue.render.progress import PhaseCounter, ProgressLine

    phase = PhaseCounter("enriching (ffprobe)", total=300, count=100, started=0.0, noun="asset")
    assert phase.describe("c: enrich", now=10.0) == (
        "c: enrich: enriching (ffprobe) 100/300 assets · 10 assets/s · ETA 0:20"
    )
    stream = io.StringIO()
    line = ProgressLine('collection "L"/"S": enrich', stream)
    line.start_phase("enriching (ffprobe)", 2)
    line()
    line()
    line.done()
    line.start_phase("enriching (loudness)", 2)
    line()
    line.done()
    assert stream.getvalue().endswith(
        '  collection "L"/"S": enrich: 2 assets through ffprobe, 1 through loudness\n'
    )
    idle = io.StringIO()
    ProgressLine("nothing", idle).done()  # an enrichment with nothing to do leaves no line
    assert idle.getvalue() == ""


def test_enricher_types_complete(rv):
    """issue 11: TYPE arguments complete the registered enricher types."""
    from tests.test_completion import _complete

    assert _complete(["source", "attach-enricher", "Library"], "ff", {}) == ["ffprobe"]
    assert _complete(["collection", "update", "Shows", "--add-enricher"], "", {}) == [
        "ffprobe",
        "loudness",
    ]
