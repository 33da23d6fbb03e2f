"""Issue 11: declarative enrichers.

``enrichers:`` on a source (all its collections) and on a collection (adds or overrides by type),
validated like importers; ``plan`` shows attachment drift and how many assets each collection
would enrich; ``apply`` enriches after the ingest; nothing unchanged is probed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import text

from retrovue.config.validate import load_config
from retrovue.errors import ConfigError
from retrovue.importers.registry import load_registry
from tests.media import write_av, write_text, write_zero_bytes

REPO = Path(__file__).resolve().parents[1]
PLAN_SCHEMA = json.loads((REPO / "src/retrovue/schemas/plan.schema.json").read_text())
ABSENT = object()


def _media(tmp_path: Path, n: int = 3) -> Path:
    base = tmp_path / "media"
    (base / "shows").mkdir(parents=True)
    for i in range(n):
        write_av(base / "shows" / f"Show - S01E{i + 1:02d}.mp4", seconds=0.2)
    return base


def _config(tmp_path: Path, base: Path, source=ABSENT, collection=ABSENT) -> str:
    coll: dict = {"name": "shows", "sync": True}
    if collection is not ABSENT:
        coll["enrichers"] = collection
    src: dict = {"name": "Library", "type": "filesystem", "config": {"base_path": str(base)}}
    if source is not ABSENT:
        src["enrichers"] = source
    src["collections"] = [coll]
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [src]}, sort_keys=False))
    return str(path)


def _apply(rv, cfg, db_url):
    return rv("apply", "-c", cfg, "--auto-approve", db=db_url)


def _enriched_at(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select a.canonical_uri, e.enricher_type, e.enriched_at from asset_enrichments e "
                "join assets a on a.id = e.asset_id"
            )
        ).all()
    return {(uri, kind): at for uri, kind, at in rows}


def _states(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("select canonical_uri, state, duration_ms from assets")).all()
    return {os.path.basename(uri): (state, duration) for uri, state, duration in rows}


# -- config -----------------------------------------------------------------------------------


def _diagnostics(tmp_path, body: str):
    path = tmp_path / "retrovue.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  - name: Lib\n"
        "    type: filesystem\n"
        "    config: {base_path: /tmp}\n" + body
    )
    with pytest.raises(ConfigError) as info:
        load_config(str(path), load_registry(include_plugins=False), {})
    return str(path), [(d.line, d.column, d.message) for d in info.value.diagnostics]


def test_config_errors_name_file_line_and_column_all_in_one_pass(tmp_path):
    """issue 11: declarative: unknown type, bad params, a type listed twice and a non-integer
    priority are each reported with file:line:column, all together."""
    path, found = _diagnostics(
        tmp_path,
        "    enrichers:\n"
        "      - ffprobe\n"
        "      - ffprob\n"
        "      - ffprobe\n"
        "    collections:\n"
        "      - name: shows\n"
        "        enrichers:\n"
        "          - {type: loudness, priority: high}\n"
        "          - {type: ffprobe, params: {probe_size: big, colour: red}}\n"
        "          - type: loudness\n"
        "            priority: 1.5\n",
    )
    messages = {(line, column): message for line, column, message in found}
    assert "unknown enricher type 'ffprob'" in messages[(8, 9)]
    assert "ffprobe, loudness" in messages[(8, 9)]  # the known ones are named
    assert "listed twice" in messages[(9, 9)]
    assert "'high' is not of type 'integer'" in messages[(13, 40)]
    assert "unknown parameter 'colour'" in messages[(14, 37)]  # at params
    assert "parameter 'probe_size' must be a number" in messages[(14, 37)]
    assert "'loudness' is listed twice" in messages[(15, 19)]  # per list: not the source's
    assert "1.5 is not of type 'integer'" in messages[(16, 23)]
    assert len(found) == 6


def test_validate_prints_enricher_errors_with_location(rv, tmp_path):
    """issue 11: declarative: `retrovue validate` names file:line:column of an enricher error."""
    path = tmp_path / "retrovue.yaml"
    path.write_text(
        "version: 1\nsources:\n  - name: Lib\n    type: filesystem\n"
        "    config: {base_path: /tmp}\n    enrichers: [ffprobe, nope]\n"
    )
    result = rv("validate", "-c", str(path))
    assert result.code == 1
    assert f"{path}:6:26" in result.err + result.out
    assert "unknown enricher type 'nope'" in result.err + result.out


def test_absent_key_is_unmanaged_and_empty_list_is_managed(tmp_path):
    """issue 11: declarative: no ``enrichers:`` is None (left alone); ``[]`` is () (detach all);
    a bare type and a mapping give the same spec when the mapping holds the defaults."""
    base = tmp_path / "media"
    (base / "shows").mkdir(parents=True)
    registry = load_registry(include_plugins=False)
    desired = load_config(_config(tmp_path, base), registry, {})
    assert desired.sources[0].enrichers is None
    assert desired.sources[0].collections[0].enrichers is None
    desired = load_config(
        _config(tmp_path, base, source=[], collection=[{"type": "ffprobe"}]), registry, {}
    )
    assert desired.sources[0].enrichers == ()
    (spec,) = desired.sources[0].collections[0].enrichers
    assert (spec.type, spec.priority, spec.params) == ("ffprobe", 0, {})


def test_a_file_without_enrichers_never_loads_the_enricher_registry(tmp_path):
    """issue 11: declarative: the registry is loaded only for a file that lists enrichers."""
    base = tmp_path / "media"
    (base / "shows").mkdir(parents=True)

    def refuse():
        raise AssertionError("the enricher registry was loaded")

    load_config(_config(tmp_path, base), load_registry(include_plugins=False), {}, refuse)


# -- plan and apply ---------------------------------------------------------------------------


def test_plan_shows_attachment_drift_and_work_then_apply_enriches_once(
    rv, db_url, engine, tmp_path
):
    """issue 11: declarative: attaching ffprobe to an ingested collection plans the attachment
    and the enrichment (text and JSON), apply makes the assets ready, and a second plan has
    nothing to do: nothing is probed again."""
    base = _media(tmp_path)
    assert _apply(rv, _config(tmp_path, base), db_url).code == 0
    assert {s for s, _ in _states(engine).values()} == {"new"}

    cfg = _config(tmp_path, base, source=["ffprobe"])
    planned = rv("plan", "-c", cfg, "--detailed-exitcode", db=db_url)
    assert planned.code == 2, planned.out + planned.err
    assert '~ enrichers: [] -> ["ffprobe"]' in planned.out
    assert "~ enrich: 3 with ffprobe" in planned.out
    assert planned.out.strip().splitlines()[-1].endswith("; enrich: 3 assets.")

    document = rv("plan", "-c", cfg, "--format", "json", db=db_url).json()
    jsonschema.validate(document, PLAN_SCHEMA)
    kinds = {a["kind"]: a for a in document["actions"]}
    assert kinds["set_enrichers"]["address"] == 'source "Library"'
    assert kinds["set_enrichers"]["collection"] is None
    assert [s["type"] for s in kinds["set_enrichers"]["after"]] == ["ffprobe"]
    enrich = kinds["enrich_collection"]
    assert enrich["change"] is True and enrich["address"] == 'collection "Library"/"shows"'
    assert [(w["type"], w["assets"]) for w in enrich["work"]] == [("ffprobe", 3)]
    assert document["summary"]["assets_enrich"] == 3

    assert _apply(rv, cfg, db_url).code == 0
    states = _states(engine)
    assert {s for s, _ in states.values()} == {"ready"}
    assert all(duration and duration > 0 for _, duration in states.values())
    first = _enriched_at(engine)
    assert len(first) == 3

    again = rv("plan", "-c", cfg, "--detailed-exitcode", db=db_url)
    assert again.code == 0 and again.out.strip() == "No changes.", again.out
    assert _apply(rv, cfg, db_url).code == 0
    assert _enriched_at(engine) == first  # nothing probed again


def test_new_source_plans_enrichment_of_what_it_will_ingest(rv, db_url, tmp_path):
    """issue 11: declarative: a new source and its newly discovered collection carry their
    enrichers (collection-level adds to the source's) and the plan counts the new assets;
    markdown shows the same lines."""
    base = _media(tmp_path, 2)
    cfg = _config(tmp_path, base, ["ffprobe"], [{"type": "loudness", "priority": 5}])
    planned = rv("plan", "-c", cfg, db=db_url)
    assert planned.code == 0, planned.err
    assert '+ enrichers = ["ffprobe"]' in planned.out
    assert '+ enrichers = ["loudness (priority 5)"]' in planned.out
    assert "~ enrich: 2 with ffprobe, 2 with loudness" in planned.out
    markdown = rv("plan", "-c", cfg, "--format", "markdown", db=db_url)
    assert "~         enrich: 2 with ffprobe, 2 with loudness" in markdown.out
    assert "enrich: 2 assets" in markdown.out


def test_changed_file_is_enriched_again(rv, db_url, engine, tmp_path):
    """issue 11: declarative: a rewritten file (new size and mtime) is enriched again, and only
    it."""
    base = _media(tmp_path)
    cfg = _config(tmp_path, base, source=["ffprobe"])
    assert _apply(rv, cfg, db_url).code == 0
    before = _enriched_at(engine)
    target = base / "shows" / "Show - S01E02.mp4"
    write_av(target, seconds=0.6)
    os.utime(target, ns=(2_000_000_000_000_000_000, 2_000_000_000_000_000_000))

    planned = rv("plan", "-c", cfg, db=db_url)
    assert "~ enrich: 1 with ffprobe" in planned.out, planned.out
    assert _apply(rv, cfg, db_url).code == 0
    after = _enriched_at(engine)
    changed = [key for key in after if after[key] != before[key]]
    assert [os.path.basename(uri) for uri, _ in changed] == ["Show - S01E02.mp4"]
    assert _states(engine)["Show - S01E02.mp4"][0] == "ready"
    assert rv("plan", "-c", cfg, db=db_url).out.strip() == "No changes."


def test_absent_key_leaves_attachments_and_empty_list_detaches(rv, db_url, engine, tmp_path):
    """issue 11: declarative: removing ``enrichers:`` from the file leaves the stored
    attachments alone; ``enrichers: []`` detaches them."""
    base = _media(tmp_path, 1)
    assert _apply(rv, _config(tmp_path, base, ["ffprobe"], ["loudness"]), db_url).code == 0

    unmanaged = rv("plan", "-c", _config(tmp_path, base), db=db_url)
    assert unmanaged.out.strip() == "No changes.", unmanaged.out

    cfg = _config(tmp_path, base, [], [])
    planned = rv("plan", "-c", cfg, db=db_url)
    assert '~ enrichers: ["ffprobe"] -> []' in planned.out
    assert '~ enrichers: ["loudness"] -> []' in planned.out
    assert _apply(rv, cfg, db_url).code == 0
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from enricher_attachments")).scalar_one() == 0
    assert rv("plan", "-c", cfg, db=db_url).out.strip() == "No changes."


def test_collection_overrides_the_source_by_type(rv, db_url, tmp_path):
    """issue 11: declarative: a collection's entry of the source's type overrides it; the run
    order is ascending priority, then type."""
    base = _media(tmp_path, 1)
    cfg = _config(
        tmp_path,
        base,
        ["loudness", "ffprobe"],
        [{"type": "loudness", "priority": -1, "params": {"true_peak": False}}],
    )
    planned = rv("plan", "-c", cfg, db=db_url)
    assert '+ enrichers = ["ffprobe", "loudness"]' in planned.out
    assert '+ enrichers = ["loudness (priority -1, true_peak=false)"]' in planned.out
    assert "~ enrich: 1 with loudness, 1 with ffprobe" in planned.out


def test_corrupt_file_fails_alone_and_apply_is_partial(rv, db_url, engine, tmp_path):
    """issue 11: declarative: a zero-byte file and a text file named .mp4 fail with a reason;
    the others become ready; apply exits 2 (partial)."""
    base = _media(tmp_path, 2)
    write_zero_bytes(base / "shows" / "empty.mp4")
    write_text(base / "shows" / "notes.mp4")
    result = _apply(rv, _config(tmp_path, base, source=["ffprobe"]), db_url)
    assert result.code == 2, result.out + result.err
    states = _states(engine)
    assert states["Show - S01E01.mp4"][0] == states["Show - S01E02.mp4"][0] == "ready"
    assert states["empty.mp4"][0] == states["notes.mp4"][0] == "new"
    with engine.connect() as conn:
        codes = conn.execute(
            text("select error_code from asset_enrichments where error_code is not null")
        ).all()
    assert len(codes) == 2


def test_plan_and_apply_count_assets_not_enricher_runs(rv, db_url, tmp_path):
    """issue 20: the plan said `enrich: 6 assets` and apply reported `8 assets enriched, 4
    failed` for the same 6 files: it counted enricher runs (ffprobe and loudness each ran on
    every file).  Now both count assets (enriched when all its enrichers succeeded, failed when
    any failed); the per-type runs stay on the collection's line and in `counts`."""
    base = _media(tmp_path, 4)
    write_zero_bytes(base / "shows" / "empty.mp4")
    write_text(base / "shows" / "notes.mp4")
    cfg = _config(tmp_path, base, source=["ffprobe", {"type": "loudness", "priority": 10}])
    planned = rv("plan", "-c", cfg, db=db_url)
    assert planned.out.strip().splitlines()[-1].endswith("; enrich: 6 assets."), planned.out
    applied = rv("apply", "-c", cfg, "--auto-approve", "--json", db=db_url)
    assert applied.code == 2, applied.out + applied.err
    (enrichment,) = applied.json()["results"]["enrichments"]
    assert (enrichment["assets_enriched"], enrichment["assets_failed"]) == (4, 2)
    assert [(c["type"], c["enriched"], c["failed"]) for c in enrichment["counts"]] == [
        ("ffprobe", 4, 2),
        ("loudness", 4, 2),
    ]
    write_av(base / "shows" / "late.mp4", seconds=0.2)
    write_text(base / "shows" / "late.txt.mp4")
    applied = _apply(rv, cfg, db_url)
    assert applied.code == 2, applied.out + applied.err
    assert applied.out.rstrip().endswith("; enrichment: 1 asset enriched, 1 failed."), applied.out


def test_each_failed_asset_is_printed_once(rv, db_url, tmp_path):
    """issue 20: each failure printed twice at the default level, a log warning on stderr (which
    also broke the live progress line) and the result line.  Now it is the result line only; the
    log line is at info (-v)."""
    base = _media(tmp_path, 1)
    write_zero_bytes(base / "shows" / "empty.mp4")
    cfg = _config(tmp_path, base, source=["ffprobe"])
    applied = rv("apply", "-c", cfg, "--auto-approve", db=db_url, env={"RETROVUE_LOG_LEVEL": ""})
    assert applied.code == 2, applied.out + applied.err
    assert (applied.out + applied.err).count("empty.mp4") == 1, applied.err
    assert "empty.mp4: NOT_MEDIA: empty file (0 bytes)" in applied.out
    write_zero_bytes(base / "shows" / "void.mp4")
    verbose = rv("apply", "-c", cfg, "--auto-approve", "-v", db=db_url)
    assert "asset not enriched" in verbose.err and "void.mp4" in verbose.err


def test_enrichers_add_a_constant_number_of_statements_per_collection_to_a_plan(engine, tmp_path):
    """issue 11: declarative: a plan stays O(1) SQL statements per collection: one enricher
    adds two counts (which prove when nothing is pending) and, when something is, the select of
    what is, whatever the number of assets."""
    from sqlalchemy import event

    from retrovue.execute.executor import Executor
    from retrovue.plan.builder import PlanOptions
    from tests.helpers import make_tree, plan_on

    registry = load_registry()
    small = make_tree(tmp_path / "small", {"c": [f"f{i:05}.mkv" for i in range(10)]})
    large = make_tree(tmp_path / "large", {"c": [f"f{i:05}.mkv" for i in range(3000)]})

    def desired(enrichers):
        sources = []
        for name, base in (("Small", small), ("Large", large)):
            source = {"name": name, "type": "filesystem", "config": {"base_path": str(base)}}
            if enrichers is not None:
                source["enrichers"] = enrichers
            sources.append({**source, "collections": [{"name": "c", "sync": True}]})
        config = tmp_path / "r.yaml"
        config.write_text(json.dumps({"version": 1, "sources": sources}))
        return load_config(str(config), registry, {})

    Executor(engine, registry).execute(plan_on(engine, desired(None), registry))

    def statements(source: str, enrichers) -> int:
        count = 0

        def counter(*_args, **_kwargs):
            nonlocal count
            count += 1

        wanted = desired(enrichers)
        event.listen(engine, "before_cursor_execute", counter)
        plan = plan_on(engine, wanted, registry, PlanOptions(only_sources=(source,)))
        event.remove(engine, "before_cursor_execute", counter)
        assert plan.has_changes == (enrichers is not None)
        return count

    without = statements("Small", None)
    assert statements("Small", ["ffprobe"]) == statements("Large", ["ffprobe"]) == without + 3
