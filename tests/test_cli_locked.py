"""UOW-003: mutating imperative commands take the apply lock; a held lock refuses them at once."""

from retrovue.execute.lock import apply_lock
from tests.helpers import make_tree


def test_mutating_command_refused_while_the_lock_is_held(rv, db_url, engine, tmp_path):  # UOW-003
    base = make_tree(tmp_path / "media", {"movies": ["a.mkv"]})
    assert (
        rv(
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "Lib",
            "--base-path",
            str(base),
            "--discover",
            db=db_url,
        ).code
        == 0
    )
    with apply_lock(engine, "retrovue apply -c other.yaml"):
        refused = rv("collection", "update", "movies", "--sync-enable", "--json", db=db_url)
        dry = rv("collection", "update", "movies", "--sync-enable", "--dry-run", db=db_url)
        read = rv("collection", "list", db=db_url)
    assert refused.code == 1
    doc = refused.json()
    assert doc["code"] == "LOCKED" and "retrovue apply -c other.yaml" in doc["message"]
    assert dry.code == 0 and read.code == 0  # dry runs and reads take no lock (contracts §0.7)
    listed = rv("collection", "show", "movies", "--json", db=db_url).json()
    assert listed["sync_enabled"] is False  # nothing was written
