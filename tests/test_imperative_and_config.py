"""How imperative changes and retrovue.yaml meet: what `plan` shows afterwards (README)."""

import yaml

from tests.helpers import fs_config, make_tree


def test_config_adopts_an_imperatively_added_source_and_reverts_drift(rv, db_url, tmp_path):
    base = make_tree(tmp_path / "media", {"movies": ["a (1999).mkv"], "shows": ["s - S01E01.mkv"]})
    added = rv(
        "source",
        "add",
        "--type",
        "filesystem",
        "--name",
        "Library",
        "--base-path",
        str(base),
        "--discover",
        db=db_url,
    )
    assert added.code == 0, added.err
    assert rv("collection", "update", "shows", "--sync-enable", db=db_url).code == 0

    # a config naming the same source adopts it (no create); unlisted collections keep their state
    config = fs_config(tmp_path / "r.yaml", base, {"movies": True})
    plan = rv("plan", "-c", str(config), db=db_url)
    assert "will be created" not in plan.out
    assert "~ sync: false -> true" in plan.out  # movies, as declared
    assert (
        'collection "shows"' in plan.out and "+1 ~0 -0 =0" in plan.out
    )  # enabled imperatively: ingested

    # declaring sync: false for shows reverts the imperative change
    doc = yaml.safe_load(config.read_text())
    doc["sources"][0]["collections"].append({"name": "shows", "sync": False})
    config.write_text(yaml.safe_dump(doc))
    reverted = rv("plan", "-c", str(config), db=db_url)
    assert "~ sync: true -> false" in reverted.out
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    assert rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url).code == 0
