"""`retrovue plan` / `apply` end to end on SQLite and PostgreSQL (issue 2, DESIGN §4–§7)."""

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import event, select, text, update

from retrovue.database.tables import Asset, Collection, IngestRun, Source
from tests.helpers import fs_config, make_tree

REPO = Path(__file__).resolve().parents[1]
PLAN_SCHEMA = json.loads((REPO / "src/retrovue/schemas/plan.schema.json").read_text())


@pytest.fixture
def library(tmp_path):
    base = make_tree(
        tmp_path / "media",
        {
            "commercials": ["cola.mp4", "bumper.mkv", "notes.txt"],
            "shows": [
                "Space Patrol/Season 01/Space Patrol - S01E01 - Pilot.mkv",
                "Space Patrol/Season 01/Space Patrol - S01E02.mkv",
            ],
            "movies": ["Night of the Robots (1962).avi"],
        },
    )
    config = fs_config(tmp_path / "retrovue.yaml", base, {"commercials": True, "shows": True})
    return base, str(config)


def assets(engine, collection=None):
    query = select(Asset).order_by(Asset.c.source_uri)
    if collection:
        query = query.join(Collection, Collection.c.id == Asset.c.collection_id).where(
            Collection.c.name == collection
        )
    with engine.connect() as conn:
        return conn.execute(query).mappings().all()


def test_plan_writes_nothing_and_shows_counts(rv, db_url, engine, library):
    _, config = library
    result = rv("plan", "-c", config, db=db_url)
    assert result.code == 0, result.err
    assert '+ source "Library" will be created' in result.out
    assert '+ collection "commercials" discovered' in result.out
    assert "~ assets: +2 ~0 -0 =0, 0 duplicates" in result.out
    assert result.out.rstrip().endswith(
        "Plan: 1 source to create, 0 to update; 3 collections to discover, 0 to change; "
        "assets: 4 to create, 0 to change, 0 to mark missing."
    )
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from sources")).scalar() == 0


def test_detailed_exitcode(rv, db_url, library):
    _, config = library
    assert rv("plan", "-c", config, "--detailed-exitcode", db=db_url).code == 2
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    again = rv("plan", "-c", config, "--detailed-exitcode", db=db_url)
    assert (again.code, again.out) == (0, "No changes.\n")


def test_plan_json_follows_the_schema(rv, db_url, library):
    _, config = library
    result = rv("plan", "-c", config, "--json", db=db_url)
    assert result.code == 0
    doc = json.loads(result.out)  # exactly one document
    jsonschema.validate(doc, PLAN_SCHEMA)
    assert doc["format_version"].startswith("1.")
    ingest = [a for a in doc["actions"] if a["kind"] == "ingest_collection"]
    assert {a["collection"]["name"]: a["counts"]["new"] for a in ingest} == {
        "commercials": 2,
        "shows": 2,
    }


def test_apply_ingests_and_records_runs(rv, db_url, engine, library):
    base, config = library
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert "Apply complete!" in result.out
    rows = assets(engine)
    assert len(rows) == 4
    assert all(
        r.state == "new" and r.approved_for_broadcast is False for r in rows
    )  # never ready, never approved
    episode = next(r for r in rows if r.episode_number == 1)
    assert (episode.series_title, episode.season_number, episode.kind) == (
        "Space Patrol",
        1,
        "episode",
    )
    assert episode.canonical_uri == str(
        base / "shows/Space Patrol/Season 01/Space Patrol - S01E01 - Pilot.mkv"
    )
    with engine.connect() as conn:
        runs = conn.execute(
            select(IngestRun.c.trigger, IngestRun.c.status, IngestRun.c.counts)
        ).all()
        colls = {c.name: c for c in conn.execute(select(Collection))}
        source = conn.execute(select(Source)).one()
    assert sorted((r.trigger, r.status, r.counts["new"]) for r in runs) == [
        ("apply", "ok", 2),
        ("apply", "ok", 2),
    ]
    assert colls["commercials"].sync_enabled and colls["commercials"].last_ingest_at is not None
    assert (
        not colls["movies"].sync_enabled and colls["movies"].last_ingest_at is None
    )  # new ones start disabled
    assert source.origin == "config" and source.external_id.startswith("filesystem-")


def test_changed_file_resets_state_and_approval_missing_is_marked_and_cleared(
    rv, db_url, engine, tmp_path
):
    base = make_tree(tmp_path / "media", {"c": [f"f{i}.mkv" for i in range(10)]})
    config = fs_config(tmp_path / "retrovue.yaml", base, {"c": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    with engine.begin() as conn:  # the playout side approved everything
        conn.execute(update(Asset).values(state="ready", approved_for_broadcast=True))
    (base / "c" / "f0.mkv").write_bytes(b"changed content")
    (base / "c" / "f1.mkv").unlink()
    plan = rv("plan", "-c", str(config), db=db_url)
    assert "~ assets: +0 ~1 -1 =8, 0 duplicates" in plan.out
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    rows = {os.path.basename(r.canonical_uri): r for r in assets(engine)}
    assert (rows["f0.mkv"].state, rows["f0.mkv"].approved_for_broadcast) == ("new", False)
    assert rows["f1.mkv"].missing_since is not None  # marked, never deleted
    assert (rows["f2.mkv"].state, rows["f2.mkv"].approved_for_broadcast) == (
        "ready",
        True,
    )  # untouched
    (base / "c" / "f1.mkv").write_bytes(b"")
    replan = rv("plan", "-c", str(config), db=db_url)
    assert "1 reappeared" in replan.out
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    assert all(r.missing_since is None for r in assets(engine))


def test_mass_missing_guard_and_override(rv, db_url, engine, tmp_path):
    base = make_tree(tmp_path / "media", {"c": [f"f{i}.mkv" for i in range(10)]})
    config = str(fs_config(tmp_path / "retrovue.yaml", base, {"c": True}))
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    for i in range(5):
        (base / "c" / f"f{i}.mkv").unlink()
    plan = rv("plan", "-c", config, db=db_url)
    assert "degraded: 5 of 10 assets (50%) would go missing" in plan.out
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert applied.code == 0
    assert all(
        r.missing_since is None for r in assets(engine)
    )  # an offline NAS never empties a catalogue
    forced = rv("apply", "-c", config, "--auto-approve", "--allow-mass-missing", db=db_url)
    assert forced.code == 0
    assert sum(r.missing_since is not None for r in assets(engine)) == 5


def test_duplicates_are_counted_not_created(rv, db_url, engine, tmp_path):
    base = make_tree(tmp_path / "media", {"c": ["a.mkv"]})
    os.link(base / "c" / "a.mkv", base / "c" / "b.mkv")  # distinct files: not duplicates
    config = str(fs_config(tmp_path / "retrovue.yaml", base, {"c": True}))
    assert "+2 ~0 -0 =0, 0 duplicates" in rv("plan", "-c", config, db=db_url).out


def test_unreachable_source_is_shown_and_the_rest_planned(rv, db_url, engine, tmp_path, library):
    base, _ = library
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Gone",
                "type": "filesystem",
                "config": {"base_path": str(tmp_path / "offline-nas")},
            },
            {
                "name": "Here",
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "shows", "sync": True}],
            },
        ],
    }
    config = tmp_path / "two.yaml"
    config.write_text(json.dumps(doc))
    plan = rv("plan", "-c", str(config), db=db_url)
    assert plan.code == 3
    assert '! source "Gone": unreachable:' in plan.out and "offline-nas" in plan.out
    assert '+ source "Here" will be created' in plan.out
    applied = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert applied.code == 2  # partial: Here committed, Gone could not be done
    # issue 9, item 13: the summary names what failed at plan time, and counts it
    assert '\nsource "Gone": NOT PLANNED (unreachable): ' in applied.out
    assert "Apply finished with errors." in applied.out and ", 1 failed." in applied.out
    assert len(assets(engine)) == 2
    with engine.connect() as conn:
        assert conn.execute(select(Source.c.name)).scalars().all() == ["Here"]


def test_only_unreachable_source_exits_3_and_changes_nothing(rv, db_url, engine, tmp_path):
    config = str(fs_config(tmp_path / "r.yaml", tmp_path / "missing", {}))
    assert rv("plan", "-c", config, db=db_url).code == 3
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 3
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from sources")).scalar() == 0


def test_declared_collection_not_upstream_is_an_error(rv, db_url, engine, library):
    base, _ = library
    config = str(fs_config(Path(base).parent / "typo.yaml", base, {"comercials": True}))
    result = rv("apply", "-c", config, "--auto-approve", db=db_url)
    assert result.code == 1
    assert "declared collection 'comercials' is not offered upstream" in result.err
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from sources")).scalar() == 0


def test_source_targeting(rv, db_url, tmp_path, library):
    base, _ = library
    other = make_tree(tmp_path / "other", {"x": ["a.mkv"]})
    doc = {
        "version": 1,
        "sources": [
            {"name": "A", "type": "filesystem", "config": {"base_path": str(base)}},
            {"name": "B", "type": "filesystem", "config": {"base_path": str(other)}},
        ],
    }
    config = tmp_path / "ab.yaml"
    config.write_text(json.dumps(doc))
    result = rv("plan", "-c", str(config), "--source", "b", db=db_url)
    assert '"B"' in result.out and 'source "A"' not in result.out
    unknown = rv("plan", "-c", str(config), "--source", "C", db=db_url)
    assert unknown.code == 1 and "--source 'C' is not declared" in unknown.err


def test_collection_vanishing_between_plan_and_apply_fails_alone(db_url, engine, tmp_path):
    """Apply re-enumerates each collection in its own transaction: the vanished one fails and
    rolls back, the others commit (exit 2)."""
    from retrovue.app.declarative import Applied
    from retrovue.cli.exit_codes import exit_code
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import plan_on

    base = make_tree(tmp_path / "media", {"a": ["1.mkv"], "b": ["2.mkv"]})
    registry = load_registry()
    desired = load_config(
        str(fs_config(tmp_path / "r.yaml", base, {"a": True, "b": True})), registry, {}
    )
    plan = plan_on(engine, desired, registry)
    shutil.rmtree(base / "b")
    result = Executor(engine, registry).execute(plan)
    statuses = {i.collection.name: i.status for i in result.ingests}
    assert statuses == {"a": "ok", "b": "failed"}
    assert exit_code(Applied(plan, result).outcome) == 2
    with engine.connect() as conn:
        runs = conn.execute(select(IngestRun.c.status, IngestRun.c.error)).all()
    assert sorted(r.status for r in runs) == ["failed", "ok"]
    assert [os.path.basename(r.canonical_uri) for r in assets(engine)] == ["1.mkv"]


def test_interrupt_rolls_back_only_the_collection_in_progress(db_url, engine, tmp_path):
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import plan_on

    base = make_tree(tmp_path / "media", {"a": ["1.mkv"], "b": ["2.mkv", "3.mkv"], "c": ["4.mkv"]})
    registry = load_registry()
    desired = load_config(
        str(fs_config(tmp_path / "r.yaml", base, {"a": True, "b": True, "c": True})), registry, {}
    )
    plan = plan_on(engine, desired, registry)

    class CtrlC:
        def __init__(self, label):
            self.label, self.n = label, 0

        def __call__(self):
            self.n += 1
            if "b" in self.label and self.n == 2:
                raise KeyboardInterrupt

        def done(self):
            pass

    result = Executor(engine, registry, progress=CtrlC).execute(plan)
    assert result.interrupted
    assert [(i.collection.name, i.status) for i in result.ingests] == [
        ("a", "ok"),
        ("b", "interrupted"),
    ]
    assert [os.path.basename(r.canonical_uri) for r in assets(engine)] == ["1.mkv"]
    with engine.connect() as conn:
        assert sorted(conn.execute(select(IngestRun.c.status)).scalars()) == ["interrupted", "ok"]
    # issue 9, item 13: the summary lists what the run never reached
    from retrovue.render.results import render_results, results_to_json

    text = render_results(result, plan)
    assert 'collection "Library"/"c": NOT ATTEMPTED: the run stopped before it' in text
    assert text.rstrip().endswith("0 failed, 1 not attempted.")
    assert results_to_json(result, plan)["not_attempted"] == ['collection "Library"/"c"']


def test_apply_refuses_without_tty_and_without_auto_approve(rv, db_url, engine, library):
    _, config = library
    result = rv("apply", "-c", config, db=db_url)
    assert result.code == 1
    assert "stdin is not a terminal" in result.err and "--auto-approve" in result.err
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from sources")).scalar() == 0


def test_plan_issues_constant_statements_per_collection(engine, tmp_path):
    """DESIGN §10: O(1) SQL statements per collection in plan, whatever the number of assets."""
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from retrovue.plan.builder import PlanOptions
    from tests.helpers import plan_on

    registry = load_registry()
    small = make_tree(tmp_path / "small", {"c": [f"f{i:05}.mkv" for i in range(10)]})
    large = make_tree(tmp_path / "large", {"c": [f"f{i:05}.mkv" for i in range(3000)]})
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "c", "sync": True}],
            }
            for name, base in (("Small", small), ("Large", large))
        ],
    }
    config = tmp_path / "r.yaml"
    config.write_text(json.dumps(doc))
    desired = load_config(str(config), registry, {})
    Executor(engine, registry).execute(plan_on(engine, desired, registry))
    for base in (small, large):
        (base / "c" / "f00000.mkv").write_bytes(b"changed")

    def statements(source: str) -> int:
        count = 0

        def counter(*_args, **_kwargs):
            nonlocal count
            count += 1

        event.listen(engine, "before_cursor_execute", counter)
        plan = plan_on(engine, desired, registry, PlanOptions(only_sources=(source,)))
        event.remove(engine, "before_cursor_execute", counter)
        assert plan.has_changes  # the diff really ran
        return count

    assert statements("Small") == statements("Large") <= 10


def test_unreachable_database_is_a_clear_error(rv, library):
    _, config = library
    result = rv("plan", "-c", config, db="postgresql+psycopg://nobody:secretpw@127.0.0.1:1/none")
    assert result.code == 1
    assert result.err.startswith("Error: Database operation failed: cannot connect to")
    assert "secretpw" not in result.err and "Traceback" not in result.err


def test_unicode_and_long_names_are_ingested(rv, db_url, engine, tmp_path):
    names = [
        "Amélie (2001).mkv",
        "日本語 タイトル.mp4",
        "with  spaces  .mkv",
        ("Ü" * 60) + ("y" * 120) + ".mkv",
    ]
    base = make_tree(tmp_path / "media", {"c": names})
    config = str(fs_config(tmp_path / "r.yaml", base, {"c": True}))
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    assert sorted(os.path.basename(r.canonical_uri) for r in assets(engine)) == sorted(names)
    assert rv("plan", "-c", config, "--detailed-exitcode", db=db_url).code == 0


def test_the_guard_says_what_it_did_with_and_without_the_override(rv, db_url, engine, tmp_path):
    """Issue 19, item 13: with --allow-mass-missing the plan still said "nothing will be marked
    missing without --allow-mass-missing" and apply "nothing marked missing" while both assets
    were marked missing; a held guard's --detail did not name the files it kept."""
    base = make_tree(tmp_path / "media", {"c": ["a.mkv", "b.mkv", "c.mkv"]})
    config = str(fs_config(tmp_path / "retrovue.yaml", base, {"c": True}))
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    for name in ("a.mkv", "b.mkv"):
        (base / "c" / name).unlink()

    held = rv("plan", "-c", config, "--detail", db=db_url)
    assert "nothing will be marked missing without --allow-mass-missing" in held.out
    assert "would go missing, held by the guard (2):" in held.out
    assert str(base / "c" / "a.mkv") in held.out and str(base / "c" / "b.mkv") in held.out

    overridden = rv("plan", "-c", config, "--allow-mass-missing", db=db_url)
    assert "2 will be marked missing anyway (--allow-mass-missing)" in overridden.out
    assert "without --allow-mass-missing" not in overridden.out

    applied = rv("apply", "-c", config, "--auto-approve", "--allow-mass-missing", db=db_url)
    assert applied.code == 0
    assert "2 marked missing anyway (--allow-mass-missing)" in applied.out
    assert "nothing marked missing" not in applied.out
    assert sum(r.missing_since is not None for r in assets(engine)) == 2
