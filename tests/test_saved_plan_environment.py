"""Issue 17, item 2: a saved plan records every ``${VAR}`` its config reads, and `apply PLAN`
refuses as stale, naming the variable, when one resolves differently now.  What runs must be what
was reviewed: a threshold lifted or a base path moved through the environment is a new plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from retrovue.database.tables import Asset, Source
from tests.helpers import make_tree

MOVIES = ["Heat (1995).mkv", "Alien (1979).mkv", "Ran (1985).mkv"]


def _config(path: Path, base_path: str, threshold: str | float) -> Path:
    doc = {
        "version": 1,
        "missing_threshold": threshold,
        "sources": [
            {
                "name": "Library",
                "type": "filesystem",
                "config": {"base_path": base_path},
                "collections": [{"name": "movies", "sync": True}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def library(tmp_path) -> Path:
    return make_tree(tmp_path / "media", {"movies": MOVIES})


def _count(engine, where=None) -> int:
    query = select(func.count()).select_from(Asset)
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _degraded_plan(rv, db_url, tmp_path, library) -> tuple[Path, Path]:
    """Three assets stored, two of them gone: past the default 0.2 guard, so the plan says
    nothing will be marked missing."""
    cfg = _config(tmp_path / "retrovue.yaml", str(library), "${THR:-0.2}")
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    for name in MOVIES[:2]:
        (library / "movies" / name).unlink()
    out = tmp_path / "plan.json"
    made = rv("plan", "-c", str(cfg), "--out", str(out), db=db_url)
    assert made.code == 0, made.err
    assert "degraded" in made.out
    return cfg, out


def test_a_variable_set_at_apply_makes_the_plan_stale(rv, db_url, engine, tmp_path, library):
    """The issue's case: THR=1 at apply marked 2 of 3 assets missing behind a reviewed plan
    that said nothing would be."""
    _, out = _degraded_plan(rv, db_url, tmp_path, library)
    result = rv("apply", str(out), "--auto-approve", db=db_url, env={"THR": "1"})
    assert result.code == 1
    assert "stale" in result.err and "environment variable THR" in result.err
    assert "is set now" in result.err
    assert _count(engine, Asset.c.missing_since.is_not(None)) == 0


def test_a_changed_value_names_the_variable(rv, db_url, engine, tmp_path, library):
    cfg = _config(tmp_path / "retrovue.yaml", "${MEDIA_ROOT}", 0.2)
    out = tmp_path / "plan.json"
    made = rv(
        "plan", "-c", str(cfg), "--out", str(out), db=db_url, env={"MEDIA_ROOT": str(library)}
    )
    assert made.code == 0, made.err
    elsewhere = make_tree(tmp_path / "elsewhere", {"movies": ["Other (2000).mkv"]})
    result = rv("apply", str(out), "--auto-approve", db=db_url, env={"MEDIA_ROOT": str(elsewhere)})
    assert result.code == 1
    assert "environment variable MEDIA_ROOT has another value" in result.err
    assert str(elsewhere) not in result.err  # a digest shows the change, never the value
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Source)).scalar_one() == 0


def test_a_variable_unset_at_apply_makes_the_plan_stale(rv, db_url, engine, tmp_path, library):
    cfg = _config(tmp_path / "retrovue.yaml", str(library), "${THR:-0.2}")
    out = tmp_path / "plan.json"
    assert rv("plan", "-c", str(cfg), "--out", str(out), db=db_url, env={"THR": "0.5"}).code == 0
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 1
    assert "environment variable THR is not set now" in result.err
    assert _count(engine) == 0


def test_the_same_values_apply(rv, db_url, engine, tmp_path, library):
    _, out = _degraded_plan(rv, db_url, tmp_path, library)
    result = rv("apply", str(out), "--auto-approve", db=db_url)
    assert result.code == 0, result.err
    assert _count(engine, Asset.c.missing_since.is_not(None)) == 0


def test_the_plan_file_holds_digests_not_values(rv, db_url, tmp_path, library):
    cfg = _config(tmp_path / "retrovue.yaml", "${MEDIA_ROOT}", "${THR:-0.2}")
    out = tmp_path / "plan.json"
    env = {"MEDIA_ROOT": str(library)}
    assert rv("plan", "-c", str(cfg), "--out", str(out), db=db_url, env=env).code == 0
    recorded = json.loads(out.read_text())["environment"]
    assert set(recorded) == {"MEDIA_ROOT", "THR"}
    assert recorded["THR"] is None and recorded["MEDIA_ROOT"].startswith("hmac-sha256:")
    assert str(library) not in json.dumps(recorded)
