"""Shell completion of source and collection names from the database (click's completion)."""

import os
import subprocess
import sys
from pathlib import Path

from click.shell_completion import ShellComplete

from tests.helpers import fs_config, make_tree

RETROVUE = str(Path(sys.executable).parent / "retrovue")


def _store_library(rv, tmp_path, db: str) -> None:
    root = make_tree(tmp_path / "m", {"Movies": ["a.mkv"], "Music": [], "TV": []})
    config = fs_config(tmp_path / "r.yaml", root, {"Movies": True}, name="Library")
    assert rv("apply", "-c", str(config), "--auto-approve", db=db).code == 0


def _complete(args: list[str], incomplete: str, env: dict) -> list[str]:
    from retrovue.cli.main import cli

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        completer = ShellComplete(cli, {}, "retrovue", "_RETROVUE_COMPLETE")
        return [item.value for item in completer.get_completions(args, incomplete)]
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_source_and_collection_names_complete_from_the_database(rv, tmp_path, db_url):
    """issue 10: SOURCE and COLLECTION arguments complete the stored names, on both backends."""
    _store_library(rv, tmp_path, db_url)
    env = {"RETROVUE_DATABASE_URL": db_url}
    assert _complete(["source", "show"], "", env) == ["Library"]
    assert _complete(["source", "show"], "li", env) == ["Library"]
    assert _complete(["source", "show"], "x", env) == []
    assert _complete(["collection", "show"], "M", env) == ["Movies", "Music"]
    assert _complete(["collection", "ingest"], "Library/T", env) == ["Library/TV"]
    assert _complete(["collection", "list"], "", env) == ["Library"]
    # --db typed on the line picks the database, as it does for the command
    other = {"RETROVUE_DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere.db"}
    assert _complete(["source", "show", "--db", db_url], "", other) == ["Library"]


def test_completion_creates_no_database(tmp_path):
    """issue 10: completing against a database that does not exist completes nothing and
    creates nothing."""
    missing = tmp_path / "nothing-here.db"
    env = {"RETROVUE_DATABASE_URL": f"sqlite:///{missing}"}
    assert _complete(["source", "show"], "", env) == []
    assert _complete(["collection", "show"], "", env) == []
    assert not missing.exists()


def test_bash_completion_through_the_installed_command(rv, tmp_path):
    """issue 10: the shell's hook (_RETROVUE_COMPLETE=bash_complete) answers with stored names."""
    db = f"sqlite:///{tmp_path}/db.sqlite"
    _store_library(rv, tmp_path, db)
    env = {
        **os.environ,
        "RETROVUE_DATABASE_URL": db,
        "_RETROVUE_COMPLETE": "bash_complete",
        "COMP_WORDS": "retrovue collection wipe Mo",
        "COMP_CWORD": "3",
    }
    proc = subprocess.run([RETROVUE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["plain,Movies"]
    source = subprocess.run(
        [RETROVUE],
        env={**env, "_RETROVUE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "_RETROVUE_COMPLETE=bash_complete" in source.stdout
