"""Issue 10, "wrong results": what plan, apply, validate and collection ingest said was not what
was (or would be) done.  Each test names its item."""

from __future__ import annotations

import json
import os
import re
import uuid

import yaml
from sqlalchemy import select, update

from retrovue.config.model import CollectionDecl, SourceDecl
from retrovue.database.tables import Source
from retrovue.diff.sources import derived_external_id, diff_source
from retrovue.importers.base import PathMappingSpec
from retrovue.model.actions import (
    AddCollection,
    CollectionAddress,
    IngestCollection,
    Plan,
    SetIngestible,
    SetPathMappings,
    SourceAddress,
)
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.upstream import UpstreamCollection
from retrovue.plan.saved import _config_file
from retrovue.plan.summary import summarize
from retrovue.render.markdown import render_markdown
from retrovue.render.text import render_text, summary_line
from tests.helpers import fs_config, make_tree, touch

DASHED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# --- a saved plan applies from any directory ------------------------------------------------


def test_saved_plan_applies_from_another_working_directory(rv, db_url, tmp_path, monkeypatch):
    """issue 10: the saved plan stores the config path absolute, so CI can apply plan.json from
    another working directory (it stored `retrovue.yaml` as given and failed there)."""
    repo = tmp_path / "repo"
    media = make_tree(repo / "media", {"movies": ["Heat (1995).mkv"]})
    fs_config(repo / "retrovue.yaml", media, {"movies": True})
    monkeypatch.chdir(repo)
    made = rv("plan", "-c", "retrovue.yaml", "--out", "plan.json", db=db_url)
    assert made.code == 0, made.err
    assert json.loads((repo / "plan.json").read_text())["config_file"] == str(
        repo / "retrovue.yaml"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    applied = rv("apply", str(repo / "plan.json"), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err


def test_saved_plan_names_the_missing_config_path(rv, db_url, tmp_path):
    """issue 10: a config that is not where the plan says is named in the error, absolute."""
    media = make_tree(tmp_path / "media", {"movies": []})
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    assert rv("plan", "-c", str(cfg), "--out", str(tmp_path / "plan.json"), db=db_url).code == 0
    cfg.unlink()
    result = rv("apply", str(tmp_path / "plan.json"), "--auto-approve", db=db_url)
    assert result.code == 1
    assert f"config file not found: {cfg}" in result.err


def test_relative_config_path_is_relative_to_the_plan_file(tmp_path):
    """issue 10: a relative config path (an older plan) resolves against the plan's directory,
    not the working directory of the apply."""
    plan_file = tmp_path / "ci" / "plan.json"
    assert _config_file(str(plan_file), "retrovue.yaml") == str(tmp_path / "ci" / "retrovue.yaml")
    assert _config_file(str(plan_file), "../conf/r.yaml") == str(tmp_path / "conf" / "r.yaml")
    assert _config_file(str(plan_file), "/etc/r.yaml") == "/etc/r.yaml"


# --- the external_id the plan shows is the one apply stores -----------------------------------


def test_planned_external_id_is_the_one_apply_creates(rv, db_url, engine, tmp_path):
    """issue 10: each plan invented a new random external_id, so the reviewed plan differed
    from what apply created; it is derived from the type and the declared name now."""
    media = make_tree(tmp_path / "media", {"movies": []})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}))
    first, second = (rv("plan", "-c", cfg, "--json", db=db_url).json() for _ in range(2))
    planned = [a["external_id"] for a in first["actions"] if a["kind"] == "create_source"]
    assert planned == [a["external_id"] for a in second["actions"] if a["kind"] == "create_source"]
    shown = rv("plan", "-c", cfg, db=db_url).out
    assert f'+ external_id = "{planned[0]}"' in shown
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.external_id)).scalars().all() == planned


def test_derived_external_id_skips_taken_ones(rv, db_url, engine, tmp_path):
    """issue 10: collision rule: when the derived id is taken (here by a source created under
    the same name and renamed since), -2, -3, … is appended."""
    media = make_tree(tmp_path / "media", {"movies": []})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}))
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:
        conn.execute(update(Source).values(name="Old Library"))
    base = derived_external_id("filesystem", "Library")
    doc = rv("plan", "-c", cfg, "--json", db=db_url).json()
    (create,) = [a for a in doc["actions"] if a["kind"] == "create_source"]
    assert create["external_id"] == f"{base}-2"
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    with engine.connect() as conn:
        ids = set(conn.execute(select(Source.c.external_id)).scalars())
    assert ids == {base, f"{base}-2"}


def test_derived_external_id_rule():
    """issue 10: `<type>-<8 hex>` of the case-folded name; the first free suffix wins."""
    base = derived_external_id("plex", "Living Room")
    assert re.fullmatch(r"plex-[0-9a-f]{8}", base)
    assert derived_external_id("plex", "LIVING ROOM") == base
    assert derived_external_id("plex", "Living Room", {base, f"{base}-2"}) == f"{base}-3"


# --- counts --------------------------------------------------------------------------------------


def _ingest(counts: IngestCounts, degraded: bool = False) -> IngestCollection:
    address = CollectionAddress(
        SourceAddress("Home NAS", uuid.UUID(int=1)), "c", "c", uuid.UUID(int=2)
    )
    return IngestCollection(address, counts, degraded=degraded, degraded_reason="guard held")


def test_a_file_back_with_new_content_counts_once():
    """issue 10: a reappeared file with new content was "2 to change" (reappeared was added to
    changed); it is one change, and the summary says it is back from missing."""
    plan = Plan((_ingest(IngestCounts(discovered=1, changed=1, reappeared=1)),))
    summary = summarize(plan)
    assert (summary.assets_changed, summary.assets_reappeared) == (1, 1)
    assert "1 to change, 0 to mark missing, 1 back from missing." in summary_line(plan)


def test_a_reappearing_file_counts_once_through_the_cli(rv, db_url, tmp_path):
    """issue 10: the same, end to end: missing, then back with other content."""
    media = make_tree(tmp_path / "media", {"c": [f"f{i}.mkv" for i in range(10)]})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"c": True}))
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    (media / "c" / "f1.mkv").unlink()
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    touch(media / "c" / "f1.mkv", b"new content")
    plan = rv("plan", "-c", cfg, "--json", db=db_url).json()
    assert (plan["summary"]["assets_changed"], plan["summary"]["assets_reappeared"]) == (1, 1)
    text = rv("plan", "-c", cfg, db=db_url).out
    assert "assets: 0 to create, 1 to change, 0 to mark missing, 1 back from missing." in text


def test_verbose_assets_lists_what_the_run_wrote_on_every_backend(rv, db_url, tmp_path):
    """issue 10: `collection ingest --verbose-assets --json` listed no created assets on SQLite
    (the bulk insert spells timestamps another way), and marked-missing rows counted as updated;
    ids are dashed UUIDs, in a dry run too."""
    media = make_tree(tmp_path / "media", {"c": [f"f{i}.mkv" for i in range(10)]})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"c": True}))
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    touch(media / "c" / "f0.mkv", b"changed")
    (media / "c" / "f1.mkv").unlink()
    touch(media / "c" / "new.mkv", b"new")
    preview = rv("collection", "ingest", "c", "--verbose-assets", "--json", "--dry-run", db=db_url)
    (changed,) = preview.json()["updated_assets"]
    assert DASHED.match(changed["id"]) and changed["change"] == "content"
    result = rv("collection", "ingest", "c", "--verbose-assets", "--json", db=db_url)
    assert result.code == 0, result.err
    doc = result.json()
    (created,) = doc["created_assets"]
    assert created["source_uri"].endswith("/new.mkv") and DASHED.match(created["id"])
    (updated,) = doc["updated_assets"]
    assert updated["source_uri"].endswith("/f0.mkv") and updated["change"] == "content"
    assert updated["id"] == changed["id"]
    assert doc["stats"]["assets_missing"] == 1  # marked, but neither created nor updated


# --- plan noise and drift ------------------------------------------------------------------------


def test_new_plex_collection_shows_its_mappings_as_they_will_be(rv, db_url, tmp_path, fake_plex):
    """issue 10: a discovered collection with a declared mapping printed three mapping lines
    (unset added, unset removed, declared added); the plan shows the end state only."""
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    fake_plex.add_section("1", "Movies", "movie", ["/data/Movies", "/data/More"])
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Plex",
                "type": "plex",
                "config": {"base_url": fake_plex.url, "token": "${PLEX_TOKEN}"},
                "collections": [
                    {
                        "name": "Movies",
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    cfg = tmp_path / "retrovue.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    env = {"PLEX_TOKEN": fake_plex.token}
    out = rv("plan", "-c", str(cfg), db=db_url, env=env).out
    mapping_lines = [line.strip() for line in out.splitlines() if "+ path mapping" in line]
    assert "- path mapping" not in out
    assert mapping_lines == [
        f"+ path mapping /data/Movies -> {local}",
        "+ path mapping /data/More -> (unset)",
    ]
    markdown = rv("plan", "-c", str(cfg), "--format", "markdown", db=db_url, env=env).out
    assert "/data/Movies -> (unset)" not in markdown


def test_end_state_of_a_hand_built_discovery():
    """issue 10: the same for a plan holding the internal steps (an older saved plan)."""
    address = CollectionAddress(SourceAddress("Plex"), "1", "Movies")
    unset = (PathMappingSpec("/data/Movies", None),)
    mapped = (PathMappingSpec("/data/Movies", "/mnt/Movies"),)
    plan = Plan(
        (
            AddCollection(address, ("/data/Movies",), unset),
            SetPathMappings(address, unset, mapped),
            SetIngestible(address, False, True, None),
        )
    )
    for rendered in (render_text(plan), render_markdown(plan)):
        assert rendered.count("path mapping") == 1
        assert "/data/Movies -> /mnt/Movies" in rendered


def test_a_note_is_not_committed_as_a_change(rv, db_url, tmp_path):
    """issue 10: apply reported `source …: changes committed` for a source whose only action was
    a note (a collection gone upstream) while another collection ingested."""
    media = make_tree(tmp_path / "media", {"movies": ["a.mkv"], "shows": []})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"movies": True}, name="Home NAS"))
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    os.rmdir(media / "shows")
    touch(media / "movies" / "b.mkv")
    applied = rv("apply", "-c", cfg, "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    assert "changes committed" not in applied.out
    assert 'collection "Home NAS"/"movies": ingested +1' in applied.out
    assert "Sources: 0 committed, 0 failed" in applied.out


def test_config_values_print_as_json(rv, db_url, tmp_path):
    """issue 10: config values printed as Python reprs (`['mkv', 'mp4']`)."""
    media = make_tree(tmp_path / "media", {"movies": []})
    cfg = tmp_path / "retrovue.yaml"
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Library",
                "type": "filesystem",
                "config": {"base_path": str(media), "extensions": ["mkv", "mp4"]},
            }
        ],
    }
    cfg.write_text(yaml.safe_dump(doc))
    created = rv("plan", "-c", str(cfg), db=db_url).out
    assert '+ config.extensions = ["mkv", "mp4"]' in created
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    doc["sources"][0]["config"]["extensions"] = ["mkv"]
    cfg.write_text(yaml.safe_dump(doc))
    updated = rv("plan", "-c", str(cfg), db=db_url).out
    assert '~ config.extensions: ["mkv", "mp4"] -> ["mkv"]' in updated


# --- validate reports every problem in one pass --------------------------------------------------


def test_validate_reports_semantic_problems_next_to_schema_errors(rv, tmp_path):
    """issue 10: with an unknown key elsewhere, duplicate source names went unreported."""
    path = tmp_path / "retrovue.yaml"
    path.write_text(
        "version: 1\n"
        "colour: blue\n"
        "sources:\n"
        "  - {name: Lib, type: filesystem, config: {base_path: /a}}\n"
        "  - {name: lib, type: filesystem, config: {base_path: /b}}\n"
    )
    result = rv("validate", "-c", str(path), "--json")
    messages = [d["message"] for d in result.json()["diagnostics"]]
    assert any("colour" in m for m in messages)
    assert any(m.startswith("duplicate source name 'lib'") for m in messages)


def test_semantic_checks_survive_data_the_schema_refused(rv, tmp_path):
    """issue 10: the semantic pass runs on partially invalid data without tripping over it."""
    path = tmp_path / "retrovue.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  - just a string\n"
        "  - {name: 7, type: plex, config: {}, collections: [3, {sync: true}]}\n"
        "  - name: P\n"
        "    type: plex\n"
        "    config: {base_url: 'http://p', token: t}\n"
        "    collections:\n"
        "      - name: M\n"
        "        path_mappings: [{plex_path: /a}, {plex_path: /b, local_path: relative}, 5]\n"
        "      - name: m\n"
        "  - {name: P, type: filesystem, config: {base_path: /x}, collections: {}}\n"
    )
    result = rv("validate", "-c", str(path), "--json")
    assert result.code == 1 and "Traceback" not in result.err
    messages = [d["message"] for d in result.json()["diagnostics"]]
    assert "local_path 'relative' is not an absolute path" in messages
    assert any(m.startswith("collection declared twice") for m in messages)
    assert any(m.startswith("duplicate source name 'P'") for m in messages)


# --- degraded collections and warnings are counted ---------------------------------------------


def test_degraded_collection_is_in_the_summary_line_and_json(rv, db_url, tmp_path):
    """issue 10: a held mass-missing guard left the plan saying a bare "No changes."; it is not
    a change (--detailed-exitcode exits 0), but the summary line and JSON count it."""
    media = make_tree(tmp_path / "media", {"c": [f"f{i}.mkv" for i in range(10)]})
    cfg = str(fs_config(tmp_path / "retrovue.yaml", media, {"c": True}))
    assert rv("apply", "-c", cfg, "--auto-approve", db=db_url).code == 0
    for i in range(5):
        (media / "c" / f"f{i}.mkv").unlink()
    planned = rv("plan", "-c", cfg, "--detailed-exitcode", db=db_url)
    assert planned.code == 0
    assert _last_line(planned.out) == "No changes. 1 collection degraded."
    summary = rv("plan", "-c", cfg, "--json", db=db_url).json()["summary"]
    assert (summary["collections_degraded"], summary["warnings"]) == (1, 0)
    markdown = rv("plan", "-c", cfg, "--format", "markdown", db=db_url).out
    assert "**No changes. 1 collection degraded.**" in markdown
    assert "1 degraded" in markdown  # on the collapsed source block too


def test_warnings_and_degraded_next_to_changes():
    """issue 10: the counts follow the change counts when there are changes too."""
    plan = Plan(
        (
            _ingest(IngestCounts(discovered=3, new=1, unchanged=2), degraded=True),
            _ingest(IngestCounts(discovered=2, new=2)),
        )
    )
    assert summary_line(plan).endswith("0 to mark missing. 1 collection degraded.")


def test_declared_external_id_of_a_stored_collection_gone_upstream_is_not_an_error():
    """issue 10: listed by the external_id the database holds (as export writes it), a
    collection the upstream dropped is reported as gone, not refused as a typo."""
    stored = DbSource(
        uuid.UUID(int=1),
        "filesystem-1",
        "Library",
        "filesystem",
        {"base_path": "/media"},
        "config",
        (
            DbCollection(
                uuid.UUID(int=2), uuid.UUID(int=1), "TV", "TV", True, True, None, ("/media/TV",), ()
            ),
        ),
    )
    decl = SourceDecl(
        "Library",
        "filesystem",
        None,
        {"base_path": "/media"},
        (CollectionDecl("TV", "TV", True, None), CollectionDecl(None, "Nope", True, None)),
    )
    up = [UpstreamCollection("Movies", "Movies", ("/media/Movies",), "folder")]
    actions, _, problems = diff_source(decl, stored, up, lambda *_: (True, None), False)
    assert [p.collection for p in problems] == ["external_id Nope"]  # a typo still is one
    assert [type(a).__name__ for a in actions] == [
        "AddCollection",
        "SetIngestible",
        "CollectionGoneUpstream",
    ]


def test_stored_unset_mapping_rows_are_not_declarations():
    """issue 10: export leaves unset mapping rows out, so a declaration that does not cover one
    (its location has left the section) keeps it instead of planning its removal."""
    rows = (PathMappingSpec("/data/Movies", "/mnt/Movies"), PathMappingSpec("/data/Old", None))
    stored = DbSource(
        uuid.UUID(int=1),
        "plex-1",
        "Plex",
        "plex",
        {},
        "config",
        (
            DbCollection(
                uuid.UUID(int=2), uuid.UUID(int=1), "1", "Movies", True, True, None, (), rows
            ),
        ),
    )
    decl = SourceDecl("Plex", "plex", None, {}, (CollectionDecl("Movies", "1", True, rows[:1]),))
    up = [UpstreamCollection("1", "Movies", ("/data/Movies",), "movie")]
    actions, states, problems = diff_source(decl, stored, up, lambda *_: (True, None), True)
    assert (actions, problems) == ([], [])
    assert set(states[0].path_mappings) == set(rows)
