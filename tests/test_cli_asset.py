"""`retrovue asset list | show` (contracts §14–§15)."""

from __future__ import annotations

from tests.imperative_helpers import add_fs, enable, media_fixture, one_json  # noqa: F401


def _ingest(rv, db_url, media):
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    enable(rv, db_url, "TV")
    assert rv("source", "ingest", "Library", db=db_url).code == 0


def test_list_json_and_order(rv, db_url, media):  # AL N-1 / N-2 / N-3 / JSON keys
    _ingest(rv, db_url, media)
    doc = one_json(rv("asset", "list", "--json", db=db_url).out)
    assert doc["total"] == len(doc["assets"]) == 5 and doc["truncated"] is False
    assert doc["filters"] == {
        "collection": None,
        "state": None,
        "approved": None,
        "missing": None,
        "limit": None,
    }
    assert set(doc["assets"][0]) == {
        "id",
        "collection",
        "source_uri",
        "canonical_uri",
        "kind",
        "title",
        "series_title",
        "season_number",
        "episode_number",
        "year",
        "duration_ms",
        "size",
        "state",
        "approved_for_broadcast",
        "missing_since",
        "discovered_at",
    }
    names = [a["collection"]["name"] for a in doc["assets"]]
    assert names == sorted(names, key=str.casefold)
    movies = [a["canonical_uri"] for a in doc["assets"] if a["collection"]["name"] == "Movies"]
    assert movies == sorted(movies)


def test_filters_and_limit(rv, db_url, media):  # AL N-1 / N-4
    _ingest(rv, db_url, media)
    doc = one_json(
        rv("asset", "list", "--collection", "TV", "--limit", "2", "--json", db=db_url).out
    )
    assert doc["total"] == 2 and doc["truncated"] is True and doc["filters"]["limit"] == 2
    assert doc["filters"]["collection"] is not None
    doc = one_json(rv("asset", "list", "--state", "ready", "--json", db=db_url).out)
    assert doc["total"] == 0 and doc["assets"] == []
    assert one_json(rv("asset", "list", "--missing", "--json", db=db_url).out)["total"] == 0
    assert (
        one_json(rv("asset", "list", "--present", "--not-approved", "--json", db=db_url).out)[
            "total"
        ]
        == 5
    )
    human = rv("asset", "list", "--limit", "1", db=db_url).out.splitlines()
    assert human[-2] == "Total: 1 asset" and human[-1] == "(limited to 1; more assets match)"
    # issue 10: an aligned table with the source and collection of each asset
    assert human[0].split() == ["SOURCE", "COLLECTION", "STATE", "APPROVED", "MISSING", "URI", "ID"]
    assert human[1].split()[2:5] == ["new", "No", "-"] and len(human) == 4
    assert rv("asset", "list", "--state", "ready", db=db_url).out.splitlines() == [
        "No assets found",
        "Total: 0 assets",
    ]


def test_source_filter_and_column(rv, db_url, media):
    """issue 10: asset list --source keeps one source's assets; the table names each source."""
    _ingest(rv, db_url, media)
    add_fs(rv, db_url, media, "Other")
    doc = one_json(rv("asset", "list", "--source", "Library", "--json", db=db_url).out)
    assert doc["total"] == 5
    assert one_json(rv("asset", "list", "--source", "Other", "--json", db=db_url).out)["total"] == 0
    human = rv("asset", "list", "--source", "library", db=db_url).out.splitlines()
    assert [line.split()[0] for line in human[1:6]] == ["Library"] * 5
    assert human[-1] == "Total: 5 assets"
    r = rv("asset", "list", "--source", "nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"


def test_usage_errors(rv, db_url):  # AL N-1: bad --state or --limit is a usage error (exit 1)
    for argv in (("--state", "bogus"), ("--limit", "0")):
        r = rv("asset", "list", *argv, "--json", db=db_url)
        assert r.code == 1 and one_json(r.out)["code"] == "USAGE_ERROR"


def test_show_by_each_selector(rv, db_url, media):  # AS N-1 / N-2
    _ingest(rv, db_url, media)
    first = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]
    for selector in (first["id"], first["source_uri"], first["canonical_uri"]):
        doc = one_json(rv("asset", "show", selector, "--json", db=db_url).out)
        assert doc["id"] == first["id"]
    assert list(doc) == [
        "status",
        "id",
        "collection",
        "source_uri",
        "canonical_uri",
        "kind",
        "title",
        "series_title",
        "season_number",
        "episode_number",
        "year",
        "duration_ms",
        "size",
        # issue 11: what the enrichers found
        "container",
        "video_codec",
        "audio_codec",
        "width",
        "height",
        "bit_rate",
        "loudness_lufs",
        "change_token",
        "state",
        "approved_for_broadcast",
        "missing_since",
        "enrichers",  # issue 11
        "metadata",
        "discovered_at",
        "created_at",
        "updated_at",
    ]
    assert set(doc["collection"]["source"]) == {"id", "name", "type"}
    human = rv("asset", "show", first["id"], db=db_url).out.splitlines()
    assert human[0] == f"Asset: {first['id']}"


def test_show_not_found_and_ambiguous(rv, db_url, media):  # AS N-1
    r = rv("asset", "show", "file:///nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out) == {
        "status": "error",
        "code": "NOT_FOUND",
        "message": "Asset 'file:///nope' not found",
    }
    add_fs(rv, db_url, media, "A")
    add_fs(rv, db_url, media, "B")
    for doc in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]:
        if doc["name"] == "Movies":
            enable(rv, db_url, doc["id"])
            assert rv("collection", "ingest", doc["id"], db=db_url).code == 0
    uri = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["source_uri"]
    r = rv("asset", "show", uri, db=db_url)
    assert (
        r.code == 1
        and r.err.splitlines()[0]
        == f"Error: Multiple assets match '{uri}'. Please specify the UUID."
    )
    assert len(r.err.splitlines()) == 3
