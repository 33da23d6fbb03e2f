"""Issue 21: the per-source watch settings of retrovue.yaml, and the collection-scoped plan a
file event makes."""

from __future__ import annotations

import pytest
import yaml

from retrovue.config.validate import load_config
from retrovue.errors import ConfigError
from retrovue.importers.registry import load_registry
from retrovue.plan.builder import PlanOptions
from tests.helpers import fs_config, make_tree, plan_on


def _config(tmp_path, **source) -> str:
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv"]})
    path = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    doc = yaml.safe_load(path.read_text())
    doc["sources"][0].update(source)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_watch_settings_default_and_parse(tmp_path):
    registry = load_registry()
    (plain,) = load_config(_config(tmp_path), registry).sources
    assert (plain.watch, plain.poll_interval, plain.resync) == ("events", 60.0, 3600.0)
    path = _config(tmp_path, watch="poll", poll_interval="90s", resync="2h")
    (nfs,) = load_config(path, registry).sources
    assert (nfs.watch, nfs.poll_interval, nfs.resync) == ("poll", 90.0, 7200.0)
    (minutes,) = load_config(_config(tmp_path, resync="5m", poll_interval=2.5), registry).sources
    assert (minutes.resync, minutes.poll_interval) == (300.0, 2.5)


@pytest.mark.parametrize(
    ("key", "value"), [("watch", "inotify"), ("resync", "soon"), ("poll_interval", 0)]
)
def test_bad_watch_settings_are_diagnosed_with_their_line(tmp_path, key, value):
    path = _config(tmp_path, **{key: value})
    with pytest.raises(ConfigError) as bad:
        load_config(path, load_registry())
    (diagnostic,) = bad.value.diagnostics
    assert str(diagnostic).startswith(f"{path}:") and key in str(diagnostic)


def test_a_collection_scoped_plan_plans_only_that_collection(engine, rv, db_url, tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["A (1999).mkv"], "shows": ["S - S01E01.mkv"]})
    config = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True, "shows": True})
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    (media / "movies" / "B (2000).mkv").write_bytes(b"")
    (media / "shows" / "S - S01E02.mkv").write_bytes(b"")
    desired = load_config(str(config), load_registry())
    options = PlanOptions(
        only_sources=("Library",), only_collections=frozenset({("library", "movies")})
    )
    plan = plan_on(engine, desired, load_registry(), options)
    ingested = [a.collection.name for a in plan.actions if type(a).__name__ == "IngestCollection"]
    assert ingested == ["movies"]
    full = plan_on(engine, desired, load_registry(), PlanOptions())
    assert sorted(
        a.collection.name for a in full.actions if type(a).__name__ == "IngestCollection"
    ) == ["movies", "shows"]
