"""Shell completion of source and collection names from the database (click's completion)."""

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import yaml
from click.shell_completion import ShellComplete

from retrovue.app.completion import collection_selectors
from retrovue.app.selectors import resolve_collection
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource
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


#: upstream folder names, hostile and ordinary (issue 17; issue 19 item 18)
HOSTILE = "zz\nplain,$(touch PWNED)"  # a line break would forge the candidate $(touch PWNED)
PLAIN_NAMES = ["$(touch PWNED)", "Kids Movies", "Movies", "a,", "back\\slash", "it's"]
CONTROL_NAMES = [HOSTILE, "bell\a", "esc\x1b]0;title\a", "cr\rx", "rtl\u202eabc"]


def _store_hostile_library(rv, tmp_path, db: str, name: str = "Library") -> None:
    root = make_tree(tmp_path / "m", {n: [] for n in PLAIN_NAMES + CONTROL_NAMES})
    config = fs_config(tmp_path / "r.yaml", root, {}, name=name)
    assert rv("apply", "-c", str(config), "--auto-approve", db=db).code == 0


def _protocol(shell: str, words: str, cword: int, db: str, incomplete: str = "") -> str:
    """What `retrovue` answers the shell's hook, as click's script for ``shell`` asks it."""
    env = {
        **os.environ,
        "RETROVUE_DATABASE_URL": db,
        "_RETROVUE_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": incomplete if shell == "fish" else str(cword),
    }
    proc = subprocess.run([RETROVUE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bash_gets_each_name_as_one_quoted_word(rv, tmp_path, db_url):
    """issue 17: bash inserts a candidate as it comes, so each arrives quoted as one word
    (written for click's script: `read` without -r halves backslashes and drops a trailing
    comma); names with a control character are left out, so no line break forges a candidate."""
    _store_hostile_library(rv, tmp_path, db_url)
    out = _protocol("bash", "retrovue collection show ", 3, db_url)
    assert out.splitlines() == [
        "plain,'$(touch PWNED)'",
        "plain,'Kids Movies'",
        "plain,Movies",
        "plain,'a,'",
        "plain,'back\\\\slash'",
        "plain,'it'\"'\"'s'",
    ]


def test_zsh_and_fish_get_no_name_with_a_control_character(rv, tmp_path, db_url):
    """issue 17: zsh and fish quote what they insert themselves, so they get the names as they
    are, but their protocols are line-based too: control characters are left out."""
    _store_hostile_library(rv, tmp_path, db_url)
    zsh = _protocol("zsh", "retrovue collection show ", 3, db_url)
    assert zsh.removesuffix("\n").split("\n") == [
        part for n in PLAIN_NAMES for part in ("plain", n, "_")
    ]
    fish = _protocol("fish", "retrovue collection show ", 3, db_url)
    assert fish.splitlines() == [f"plain,{n}" for n in PLAIN_NAMES]


def _bash_completions(words: list[str], db: str, cwd) -> list[str]:
    """COMPREPLY after click's own bash script completes the last of ``words``, with a real bash."""
    hook = subprocess.run(
        [RETROVUE],
        env={**os.environ, "_RETROVUE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    script = (
        f"{hook}\nCOMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n_retrovue_completion {shlex.quote(RETROVUE)}\n"
        "printf '%s\\0' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "RETROVUE_DATABASE_URL": db}
    done = subprocess.run(["bash", "--norc", "-c", script], env=env, cwd=cwd, capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().split("\0")[:-1]


def test_real_bash_reads_each_inserted_name_literally(rv, tmp_path, db_url):
    """issue 17: what click's bash script puts in COMPREPLY (and so on the command line) reads
    back, in a real bash, as the name itself: no $(...) runs, no word splits."""
    _store_hostile_library(rv, tmp_path, db_url)
    inserted = _bash_completions(["retrovue", "collection", "show", ""], db_url, tmp_path)
    read_back = [_bash_words(f"printf '%s\\0' {word}", tmp_path) for word in inserted]
    assert not (tmp_path / "PWNED").exists()
    assert read_back == [[name] for name in PLAIN_NAMES]


def _bash_words(line: str, cwd) -> list[str]:
    """The arguments bash passes when it runs ``line`` (a printf of NUL-ended words)."""
    ran = subprocess.run(["bash", "--norc", "-c", line], cwd=cwd, capture_output=True)
    return ran.stdout.decode().split("\0")[:-1]


def test_a_completed_name_with_a_space_runs_as_one_argument(rv, tmp_path, db_url):
    """issue 19 item 18: `source show Ho<TAB>` gave `Home NAS` unquoted, then "unexpected extra
    argument"; the completed line now runs."""
    _store_hostile_library(rv, tmp_path, db_url, name="Home NAS")
    (candidate,) = _bash_completions(["retrovue", "source", "show", "Ho"], db_url, tmp_path)
    assert candidate == "'Home NAS'"
    shown = subprocess.run(
        ["bash", "--norc", "-c", f"{shlex.quote(RETROVUE)} source show {candidate}"],
        env={**os.environ, "RETROVUE_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Home NAS" in shown.stdout


def test_a_name_two_sources_hold_completes_as_its_address(rv, tmp_path, db_url):
    """issue 19 item 18: `Movies` in two sources is ambiguous as a selector, so completion offers
    each one's SOURCE/COLLECTION address, and each address picks its collection."""
    sources = []
    for name in ("Home NAS", "Library"):
        root = make_tree(tmp_path / name, {"Movies": [], f"{name} only": []})
        sources.append({"name": name, "type": "filesystem", "config": {"base_path": str(root)}})
    config = tmp_path / "r.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "sources": sources}))
    assert rv("apply", "-c", str(config), "--auto-approve", db=db_url).code == 0
    env = {"RETROVUE_DATABASE_URL": db_url}
    offered = _complete(["collection", "show"], "", env)
    assert offered == ["Home NAS only", "Home NAS/Movies", "Library only", "Library/Movies"]
    assert _complete(["collection", "show"], "mo", env) == ["Home NAS/Movies", "Library/Movies"]
    for selector in offered:
        shown = rv("collection", "show", selector, "--json", db=db_url)
        assert shown.code == 0, shown.err
        assert shown.json()["name"] == selector.rpartition("/")[2]


def _source(name: str, external_id: str, *collections: tuple[str, str]) -> DbSource:
    sid = uuid.uuid4()
    cols = tuple(
        DbCollection(uuid.uuid4(), sid, ext, cname, False, False, None, (), ())
        for ext, cname in collections
    )
    return DbSource(sid, external_id, name, "filesystem", {}, "cli", cols)


def test_each_collection_completes_as_a_selector_that_picks_it_alone():
    """issue 19 item 18: a name the resolver would read otherwise (held twice, another's
    external_id, an address of another collection) completes as its address; a collection no
    name spelling picks alone (two of one name in one source) is not offered."""
    plex = _source(
        "Plex",
        "plex-1",
        ("1", "Movies"),
        ("2", "NAS/Movies"),
        ("4", "Kids"),
        ("5", "kids"),
        ("6", "TV"),
    )
    nas = _source("NAS", "fs-1", ("1", "1"), ("Movies", "Movies"), ("Music", "Music"))
    snapshot = DbSnapshot((plex, nas))
    offered = collection_selectors(snapshot)
    assert offered == ["Music", "NAS/1", "NAS/Movies", "Plex/Movies", "Plex/NAS/Movies", "TV"]
    picked = {resolve_collection(snapshot, s)[1].name for s in offered}
    assert picked == {"Music", "1", "Movies", "NAS/Movies", "TV"}
    assert len({resolve_collection(snapshot, s)[1].id for s in offered}) == len(offered)
    assert collection_selectors(snapshot, "mo") == ["NAS/Movies", "Plex/Movies"]
    assert collection_selectors(snapshot, "plex/") == ["Plex/Movies", "Plex/NAS/Movies", "Plex/TV"]
