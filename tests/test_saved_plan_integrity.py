"""A saved plan is tamper-evident, and the executor re-checks every rule that protects data
whatever a plan says (issue 9, items 1 and 13).

Each edit the issue reproduced is tried twice: as a plain edit (the digest refuses it, nothing
changes) and re-digested with the database's key, as only someone holding the database could
(the second layer: the executor and ``plan_from_json`` still keep the data safe).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from retrovue.database.tables import Asset, Collection, Source
from retrovue.execute.executor import Executor
from retrovue.importers.registry import load_registry
from retrovue.model.actions import FieldChange, Plan, PruneSource, SourceAddress, UpdateSource
from retrovue.observe.keys import database_key
from retrovue.plan.saved import sealed
from tests.helpers import fs_config, make_tree
from tests.imperative_helpers import add_fs, enable, media_fixture, snapshot_tables  # noqa: F401

MOVIES = [f"Film {i:02d} ({1950 + i}).mkv" for i in range(11)]


@pytest.fixture
def library(tmp_path) -> Path:
    return make_tree(tmp_path / "library", {"movies": MOVIES})


@pytest.fixture
def cfg(tmp_path, library) -> Path:
    return fs_config(tmp_path / "retrovue.yaml", library, {"movies": True})


@pytest.fixture
def imported(rv, db_url, media) -> str:
    """A source made with `source add`, ingested: never the file's to delete."""
    add_fs(rv, db_url, media, "Imported")
    movies = next(
        c
        for c in json.loads(rv("collection", "list", "--json", db=db_url).out)["collections"]
        if c["name"] == "Movies"
    )
    enable(rv, db_url, movies["id"])
    assert rv("source", "ingest", "Imported", db=db_url).code == 0
    return "Imported"


def _plan_out(rv, cfg, db_url, tmp_path, *extra) -> Path:
    out = tmp_path / "plan.json"
    result = rv("plan", "-c", str(cfg), "--out", str(out), *extra, db=db_url)
    assert result.code == 0, result.err
    return out


def _source_id(engine, name: str) -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(select(Source.c.id).where(Source.c.name == name)).scalar_one()


def _count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _prune_action(engine, name: str) -> dict:
    return {
        "kind": "prune_source",
        "change": True,
        "address": f'source "{name}"',
        "source": {"name": name, "id": str(_source_id(engine, name))},
        "external_id": f"filesystem-{name.lower()}",
        "type": "filesystem",
        "collections": 3,
        "assets": 2,
        "prune": True,
        "protected_assets": 0,
    }


def _ingest(doc: dict) -> dict:
    return next(a for a in doc["actions"] if a["kind"] == "ingest_collection")


def _reseal(engine, out: Path, doc: dict) -> None:
    """Write the edited document with a valid digest (needs the database's key)."""
    with engine.connect() as conn:
        out.write_text(json.dumps(sealed(doc, database_key(conn))))


def _edit_prune(engine, doc):
    doc["actions"].append(_prune_action(engine, "Imported"))


def _edit_threshold(_engine, doc):
    _ingest(doc)["missing_threshold"] = 1.0


def _edit_base_path(_engine, doc):
    create = next(a for a in doc["actions"] if a["kind"] == "create_source")
    create["config"]["base_path"] = "/etc"


# --- the digest ------------------------------------------------------------------------------


def test_saved_plan_carries_a_keyed_digest_and_never_the_key(rv, db_url, engine, cfg, tmp_path):
    """issue 9, item 1: the digest is an HMAC with the database's key, which no output shows."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    assert doc["digest"].startswith("hmac-sha256:")
    with engine.connect() as conn:
        key = database_key(conn)
    assert len(key) == 32
    assert key.hex() not in out.read_text()
    applied = rv("apply", str(out), "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    assert key.hex() not in applied.out + applied.err


@pytest.mark.parametrize(
    "edit",
    [_edit_prune, _edit_threshold, _edit_base_path],
    ids=["prune-imperative-source", "missing-threshold", "create-source-config"],
)
def test_an_edited_saved_plan_is_refused_and_nothing_changes(
    rv, db_url, engine, cfg, tmp_path, imported, edit
):
    """issue 9, item 1: each edit the issue reproduced is refused with exit 1, naming the file,
    before anything is written."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    edit(engine, doc)
    out.write_text(json.dumps(doc, indent=2))
    before = snapshot_tables(db_url)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert f"the saved plan {out} was modified after it was made" in result.err
    assert snapshot_tables(db_url) == before
    assert _count(engine, Source, Source.c.name == "Imported") == 1


def test_a_plan_without_a_digest_is_refused(rv, db_url, engine, cfg, tmp_path):
    """issue 9, item 1: removing the digest does not turn the check off."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    del doc["digest"]
    out.write_text(json.dumps(doc))
    result = rv("apply", str(out), "--auto-approve", "--json", db=db_url)
    assert result.code == 1
    assert result.json()["code"] == "PLAN_MODIFIED"
    assert "it has no digest" in result.json()["message"]
    assert _count(engine, Source) == 0


def test_the_digest_is_checked_before_staleness(rv, db_url, engine, cfg, tmp_path):
    """issue 9, item 1: an edited file is not looked at further, whatever else moved."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0  # now stale too
    doc = json.loads(out.read_text())
    _edit_threshold(engine, doc)
    out.write_text(json.dumps(doc))
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert "was modified after it was made" in result.err and "stale" not in result.err


def test_a_plan_made_on_another_database_is_refused(rv, db_url, cfg, tmp_path):
    """issue 9, item 1: each database has its own key; another database's plan does not pass."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert rv("db", "upgrade", db=other).code == 0
    out = _plan_out(rv, cfg, other, tmp_path)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1 and "was modified after it was made" in result.err


def test_saving_a_plan_needs_an_existing_database(rv, cfg, tmp_path):
    """issue 9, item 1: no database, no key: `plan --out` says so and creates nothing."""
    missing = tmp_path / "nowhere" / "retrovue.db"
    out = tmp_path / "plan.json"
    result = rv("plan", "-c", str(cfg), "--out", str(out), db=f"sqlite:///{missing}")
    assert result.code == 1
    assert "retrovue db upgrade" in result.err
    assert not out.exists() and not missing.exists()


# --- defence in depth: a plan with a valid digest still cannot break the rules ----------------


def test_prune_of_an_imperative_source_is_refused_by_the_executor(
    rv, db_url, engine, cfg, tmp_path, imported
):
    """issue 9, item 1: prune deletes only config-created sources, whatever the plan says."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    _edit_prune(engine, doc)
    _reseal(engine, out, doc)
    assets = _count(engine, Asset)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code in (1, 2)
    assert "was not created from the config (origin 'cli'): prune never deletes it" in result.out
    assert _count(engine, Source, Source.c.name == "Imported") == 1
    assert _count(engine, Asset) >= assets


def test_every_path_through_the_executor_keeps_imperative_sources(engine, db_url, rv, imported):
    """issue 9, item 1: the origin check is in the executor's handler, not in saved plans."""
    sid = _source_id(engine, "Imported")
    prune = PruneSource(SourceAddress("Imported", sid), "x", "filesystem", prune=True)
    result = Executor(engine, load_registry()).execute(Plan((prune,)))
    (outcome,) = result.sources
    assert not outcome.ok and "prune never deletes it" in outcome.message
    assert _count(engine, Source, Source.c.id == sid) == 1


def test_an_update_cannot_set_a_source_origin(engine, db_url, rv, imported):
    """issue 9, item 1: an origin set to "config" would make an imperative source prunable."""
    sid = _source_id(engine, "Imported")
    change = UpdateSource(SourceAddress("Imported", sid), (FieldChange("origin", "cli", "config"),))
    (outcome,) = Executor(engine, load_registry()).execute(Plan((change,))).sources
    assert not outcome.ok and "'origin' is not a field an update sets" in outcome.message
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.origin).where(Source.c.id == sid)).scalar_one() == "cli"


def test_the_missing_threshold_comes_from_the_config(rv, db_url, engine, cfg, tmp_path, library):
    """issue 9, item 1: 8 of 11 assets gone is past the 0.2 guard; a file saying 1.0 does not
    lift it (the issue saw 8 assets marked missing)."""
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    for name in MOVIES[:8]:
        (library / "movies" / name).unlink()
    (library / "movies" / "New (2001).mkv").write_bytes(b"")  # so the ingest has work to do
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    assert _ingest(doc)["degraded"] is True
    _edit_threshold(engine, doc)
    _reseal(engine, out, doc)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _count(engine, Asset, Asset.c.missing_since.is_not(None)) == 0
    assert _count(engine, Asset) == 12


def test_a_new_source_is_stored_as_the_config_has_it(rv, db_url, engine, cfg, tmp_path, library):
    """issue 9, item 1: an edited create_source.config.base_path is not what gets stored."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    _edit_base_path(engine, doc)
    _reseal(engine, out, doc)
    assert rv("apply", str(out), "--auto-approve", db=db_url).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.config)).scalar_one() == {"base_path": str(library)}


def test_an_update_writes_what_the_config_says(rv, db_url, engine, cfg, tmp_path, library):
    """issue 9, item 1: an edited update_source value is replaced by the config's."""
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:  # drift, so the plan holds an update of base_path
        conn.execute(update(Source).values(config={"base_path": "/somewhere/else"}))
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    update_action = next(a for a in doc["actions"] if a["kind"] == "update_source")
    update_action["changes"][0]["after"] = "/etc"
    _reseal(engine, out, doc)
    assert rv("apply", str(out), "--auto-approve", db=db_url).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.config)).scalar_one() == {"base_path": str(library)}


def test_a_saved_update_cannot_set_a_source_origin(rv, db_url, engine, cfg, tmp_path, library):
    """issue 9, items 1 and 13: only name, type and config are the config's to change."""
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:
        conn.execute(update(Source).values(config={"base_path": "/somewhere/else"}))
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    update_action = next(a for a in doc["actions"] if a["kind"] == "update_source")
    update_action["changes"].append(
        {"field": "origin", "before": "config", "after": "cli", "sensitive": False}
    )
    _reseal(engine, out, doc)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert f"saved plan {out} changes the 'origin' of source \"Library\"" in result.err
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.origin)).scalar_one() == "config"


def test_a_source_the_config_does_not_declare_is_refused(rv, db_url, engine, cfg, tmp_path):
    """issue 9, items 1 and 13: a change to an undeclared source is refused, naming the file."""
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    create = next(a for a in doc["actions"] if a["kind"] == "create_source")
    create["source"]["name"] = "Intruder"
    _reseal(engine, out, doc)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert f'saved plan {out} changes source "Intruder", which' in result.err
    assert _count(engine, Source) == 0 and _count(engine, Collection) == 0


# --- malformed files ---------------------------------------------------------------------------


def _set(path: tuple, value):
    def edit(doc):
        target = doc
        for part in path[:-1]:
            target = _ingest(doc) if part == "ingest" else target[part]
        target[path[-1]] = value

    return edit


def _drop(path: tuple):
    def edit(doc):
        target = doc
        for part in path[:-1]:
            target = _ingest(doc) if part == "ingest" else target[part]
        del target[path[-1]]

    return edit


MALFORMED = {
    "no config_hash": _drop(("config_hash",)),
    "no observed": _drop(("observed",)),
    "actions a number": _set(("actions",), 5),
    "actions text": _set(("actions",), "abc"),
    "config_file a list": _set(("config_file",), ["x"]),
    "plan_id a number": _set(("plan_id",), 7),
    "secret fingerprints a list": _set(("secret_fingerprints",), ["x"]),
    "options text": _set(("options",), "all"),
    "observed a list": _set(("observed",), []),
    "observed sources a list": _set(("observed", "sources"), []),
    "format_version null": _set(("format_version",), None),
    "unknown kind": _set(("actions", 0, "kind"), "teleport_source"),
    "kind a number": _set(("actions", 0, "kind"), 5),
    "no kind": _drop(("actions", 0, "kind")),
    "action a string": _set(("actions", 0), "create everything"),
    "counts text": _set(("ingest", "counts"), "lots"),
    "a count text": _set(("ingest", "counts", "new"), "x"),
    "a count true": _set(("ingest", "counts", "new"), True),
    "threshold text": _set(("ingest", "missing_threshold"), "high"),
    "collection null": _set(("ingest", "collection"), None),
    "no collection": _drop(("ingest", "collection")),
    "collection id a number": _set(("ingest", "collection", "id"), 5),
    "collection id not a uuid": _set(("ingest", "collection", "id"), "not-a-uuid"),
    "unknown scope": _set(("ingest", "scope"), "galaxy"),
    "degraded text": _set(("ingest", "degraded"), "yes"),
}


@pytest.mark.parametrize("edit", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_saved_plan_is_one_clear_error(rv, db_url, engine, cfg, tmp_path, edit):
    """issue 9, item 13: missing keys, wrong types and unknown kinds give one `Error:` line
    naming the file, never a KeyError/AttributeError, and nothing is written.  Re-digested, so
    that reading the file, not the digest, has to catch each."""
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    (tmp_path / "library" / "movies" / "New (2001).mkv").write_bytes(b"")
    out = _plan_out(rv, cfg, db_url, tmp_path)
    doc = json.loads(out.read_text())
    edit(doc)
    _reseal(engine, out, doc)
    before = snapshot_tables(db_url)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(out) in errors[0], result.err
    for crash in ("KeyError", "AttributeError", "TypeError", "unexpected error", "Traceback"):
        assert crash not in result.err
    assert snapshot_tables(db_url) == before


def test_a_top_level_list_is_not_a_plan(rv, db_url, tmp_path):
    """issue 9, item 13."""
    out = tmp_path / "plan.json"
    out.write_text("[]")
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1 and f"{out} is not a retrovue plan file" in result.err


@pytest.mark.parametrize(
    ("body", "says", "column"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 100 levels", 33 + 100),  # "{" is level 1
        ("9" * 5000, "holds a number too long to read", 34),
    ],
    ids=["deep nesting", "5000-digit number"],
)
def test_a_plan_json_past_the_readers_limits_is_a_located_error(
    rv, db_url, tmp_path, body, says, column
):
    """Issue 17, item 9: these ended in `unexpected error: RecursionError/ValueError`."""
    out = tmp_path / "plan.json"
    out.write_text('{"format_version": "1.5.0", "x": ' + body + "}")
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert f"is not a plan: it {says} (line 1, column {column})" in result.err
    assert "unexpected" not in result.err
