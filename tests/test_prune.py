"""Prune: config-created sources removed from the file are deleted only when asked, never when
an asset aired (production safety), and imperatively created sources are never touched."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import yaml
from sqlalchemy import func, select, update

from retrovue.database.tables import AsRunLog, Asset, Collection, PlaylogEvent, Source
from tests.helpers import make_tree


def _config(path, sources: dict, **top):
    doc = {
        "version": 1,
        **top,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base)},
                "collections": [{"name": "movies", "sync": True}],
            }
            for name, base in sources.items()
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _setup(rv, db_url, tmp_path):
    """Two config-created sources, A and B, each with one ingested collection."""
    a = make_tree(tmp_path / "a", {"movies": ["Heat (1995).mkv"]})
    b = make_tree(tmp_path / "b", {"movies": ["Alien (1979).mkv", "Big (1988).mkv"]})
    both = _config(tmp_path / "both.yaml", {"A": a, "B": b})
    assert rv("apply", "-c", str(both), "--auto-approve", db=db_url).code == 0
    return _config(tmp_path / "retrovue.yaml", {"A": a})  # B removed from the file


def _names(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Source.c.name)).scalars())


def _assets(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Asset)).scalar_one()


def test_created_sources_are_marked_config(rv, db_url, engine, tmp_path):
    _setup(rv, db_url, tmp_path)
    with engine.connect() as conn:
        assert set(conn.execute(select(Source.c.origin)).scalars()) == {"config"}


def test_removed_source_is_only_reported_without_prune(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    plan = rv("plan", "-c", str(cfg), "--detailed-exitcode", db=db_url)
    assert plan.code == 0, plan.out  # reporting is not a change
    assert (
        'source "B" is no longer in the config; kept (1 collection, 2 assets; use --prune to delete it)'
        in plan.out
    )
    assert "No changes." in plan.out
    applied = rv("apply", "-c", str(cfg), "--auto-approve", db=db_url)
    assert applied.code == 0
    assert _names(engine) == {"A", "B"}


def test_prune_flag_shows_then_deletes_with_cascade(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    plan = rv("plan", "-c", str(cfg), "--prune", "--detailed-exitcode", db=db_url)
    assert plan.code == 2
    assert (
        'source "B" will be deleted (no longer in the config; 1 collection, 2 assets)' in plan.out
    )
    assert "Plan: 0 sources to create, 0 to update, 1 to delete;" in plan.out
    doc = json.loads(rv("plan", "-c", str(cfg), "--prune", "--json", db=db_url).out)
    (prune,) = [a for a in doc["actions"] if a["kind"] == "prune_source"]
    assert (
        prune["change"]
        and prune["prune"]
        and prune["assets"] == 2
        and prune["protected_assets"] == 0
    )
    applied = rv("apply", "-c", str(cfg), "--prune", "--auto-approve", db=db_url)
    assert applied.code == 0, applied.err
    assert _names(engine) == {"A"}
    assert _assets(engine) == 1  # B's collection and assets went with it
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Collection)).scalar_one() == 1


def test_prune_true_in_the_file(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    data = yaml.safe_load(cfg.read_text())
    cfg.write_text(
        yaml.safe_dump({"version": 1, "prune": True, "sources": data["sources"]}, sort_keys=False)
    )
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    assert _names(engine) == {"A"}


def test_source_with_aired_assets_is_kept_and_reported(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    with engine.begin() as conn:
        source_b = conn.execute(select(Source.c.id).where(Source.c.name == "B")).scalar_one()
        assets = (
            conn.execute(
                select(Asset.c.id)
                .join(Collection, Asset.c.collection_id == Collection.c.id)
                .where(Collection.c.source_id == source_b)
            )
            .scalars()
            .all()
        )
        conn.execute(PlaylogEvent.insert().values(id=uuid.uuid4(), asset_id=assets[0], channel="1"))
        conn.execute(AsRunLog.insert().values(id=uuid.uuid4(), asset_id=assets[1], channel="1"))
    plan = rv("plan", "-c", str(cfg), "--prune", "--detailed-exitcode", db=db_url)
    assert plan.code == 0
    assert (
        'source "B" is no longer in the config but is kept: 2 assets referenced by playlog_events/as_run_log'
        in plan.out
    )
    applied = rv("apply", "-c", str(cfg), "--prune", "--auto-approve", db=db_url)
    assert applied.code == 0
    assert _names(engine) == {"A", "B"} and _assets(engine) == 3


def test_asset_airing_between_plan_and_apply_still_keeps_the_source(rv, db_url, engine, tmp_path):
    """The executor re-checks production safety inside the delete's transaction."""
    cfg = _setup(rv, db_url, tmp_path)
    out = tmp_path / "plan.json"
    assert rv("plan", "-c", str(cfg), "--prune", "--out", str(out), db=db_url).code == 0
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from retrovue.plan.saved import plan_from_json

    registry = load_registry()
    plan = plan_from_json(json.loads(out.read_text()), load_config(str(cfg), registry))
    with engine.begin() as conn:
        asset = conn.execute(
            select(Asset.c.id)
            .join(Collection, Asset.c.collection_id == Collection.c.id)
            .join(Source, Collection.c.source_id == Source.c.id)
            .where(Source.c.name == "B")
            .limit(1)
        ).scalar_one()
        conn.execute(PlaylogEvent.insert().values(id=uuid.uuid4(), asset_id=asset))
    result = Executor(engine, registry).execute(plan)
    (outcome,) = result.sources
    assert not outcome.ok and "production safety" in outcome.message
    assert _names(engine) == {"A", "B"}


def test_imperatively_created_sources_are_never_pruned(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(Source).where(Source.c.name == "B").values(origin="cli"))
    plan = rv("plan", "-c", str(cfg), "--prune", "--detailed-exitcode", db=db_url)
    assert plan.code == 0 and '"B"' not in plan.out
    assert rv("apply", "-c", str(cfg), "--prune", "--auto-approve", db=db_url).code == 0
    assert _names(engine) == {"A", "B"}


def test_prune_is_off_for_a_plan_narrowed_by_source(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    plan = rv("plan", "-c", str(cfg), "--prune", "--source", "A", db=db_url)
    assert plan.code == 0 and '"B"' not in plan.out


def test_saved_prune_plan_deletes_on_apply(rv, db_url, engine, tmp_path):
    cfg = _setup(rv, db_url, tmp_path)
    out = tmp_path / "plan.json"
    assert rv("plan", "-c", str(cfg), "--prune", "--out", str(out), db=db_url).code == 0
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "src/retrovue/schemas/plan.schema.json").read_text()
    )
    jsonschema.validate(json.loads(out.read_text()), schema)
    assert "prune_source" in out.read_text()
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _names(engine) == {"A"}
