"""`retrovue source delete` (contracts §8, §0.6 confirmation, §0.9 production safety)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from retrovue.cli import console as cli_console
from tests.imperative_helpers import (  # noqa: F401
    add_fs,
    air,
    count,
    enable,
    media_fixture,
    one_json,
    snapshot_tables,
    sqlite_dump,
)

RETROVUE = os.path.join(os.path.dirname(sys.executable), "retrovue")


@pytest.fixture
def two(rv, db_url, media):
    """Two sources with ingested assets: 'Alpha' (aired later by some tests) and 'Beta'."""
    for name in ("Alpha", "Beta"):
        add_fs(rv, db_url, media, name)
    for doc in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]:
        if doc["name"] == "Movies":
            enable(rv, db_url, doc["id"])
    for name in ("Alpha", "Beta"):
        assert rv("source", "ingest", name, db=db_url).code == 0
    return media


def _asset_of(rv, db_url, source_name) -> str:
    doc = one_json(rv("asset", "list", "--json", db=db_url).out)
    cols = {
        c["id"]: c["source_name"]
        for c in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]
    }
    return next(a["id"] for a in doc["assets"] if cols[a["collection"]["id"]] == source_name)


def test_no_tty_needs_confirm(rv, db_url, two):  # SDel B-1 / C-1
    r = rv("source", "delete", "Alpha", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "CONFIRMATION_REQUIRED"
    assert count(db_url, "sources") == 2


def test_confirm_deletes_with_cascade(rv, db_url, two):  # SDel D-1..D-4 / SCG G-2 / B-4 / C-6
    r = rv("source", "delete", "Alpha", "--confirm", "--json", db=db_url)
    assert r.code == 0, r.err
    doc = one_json(r.out)
    assert doc["status"] == "ok" and doc["targets_processed"] == 1 and doc["targets_skipped"] == 0
    assert (
        doc["deleted"] is True and doc["name"] == "Alpha"
    )  # single result copied to the top level
    assert set(doc["results"][0]) == {
        "deleted",
        "source_id",
        "name",
        "type",
        "collections_deleted",
        "path_mappings_deleted",
        "assets_deleted",
    }
    assert (
        doc["results"][0]["collections_deleted"] == 3 and doc["results"][0]["assets_deleted"] == 2
    )
    assert (
        count(db_url, "sources") == 1
        and count(db_url, "collections") == 3
        and count(db_url, "assets") == 2
    )
    assert (
        count(db_url, "assets", "WHERE collection_id NOT IN (SELECT id FROM collections)") == 0
    )  # no orphans


def test_human_output(rv, db_url, two):  # SDel human
    src = one_json(rv("source", "show", "Beta", "--json", db=db_url).out)
    r = rv("source", "delete", "Beta", "--force", db=db_url)
    assert r.out.splitlines() == [
        "Successfully deleted source: Beta",
        f"  ID: {src['id']}",
        "  Type: filesystem",
    ]


@pytest.mark.parametrize(
    "answer, deleted", [("yes\n", True), ("y\n", False), ("YES\n", False), ("", False)]
)
def test_prompt_through_stdin(
    rv, db_url, two, monkeypatch, answer, deleted
):  # SDel B-3 / C-2 / C-3 / C-4
    monkeypatch.setattr(cli_console, "stdin_is_tty", lambda: True)
    src = one_json(rv("source", "show", "Alpha", "--json", db=db_url).out)
    r = rv("source", "delete", "Alpha", db=db_url, input=answer)
    assert r.code == 0
    assert (
        r.err.splitlines()[:8]
        == [
            f"Are you sure you want to delete source 'Alpha' (ID: {src['id']})?",
            "This will also delete:",
            "  - 3 collections",
            "  - 0 path mappings",
            "  - 2 assets",
            "This action cannot be undone.",
            "Type 'yes' to confirm: ",
        ][:7]
        + r.err.splitlines()[7:8]
    )
    assert count(db_url, "sources") == (1 if deleted else 2)
    if not deleted:
        assert r.out == "Deletion cancelled\n"


def test_wildcards(rv, db_url, two, monkeypatch):  # SDel B-8 / C-7
    r = rv("source", "delete", "Z*", "--confirm", "--json", db=db_url)
    assert r.code == 0 and one_json(r.out)["targets_processed"] == 0
    assert rv("source", "delete", "Z*", "--confirm", db=db_url).out == "No sources match 'Z*'\n"
    monkeypatch.setattr(cli_console, "stdin_is_tty", lambda: True)
    r = rv("source", "delete", "*", db=db_url, input="no\n")
    assert r.err.splitlines()[0] == "Are you sure you want to delete 2 sources?"
    assert any(line.startswith("  - Alpha (ID: ") for line in r.err.splitlines())
    assert "  - 6 collections" in r.err.splitlines()
    r = rv(
        "source", "delete", "?eta", "--confirm", db=db_url
    )  # `?` is one character; names casefolded
    assert r.code == 0 and r.out.splitlines()[-1] == "Deleted 1 of 1 source (0 kept)"
    assert count(db_url, "sources") == 1


def test_literal_selector_without_wildcard(rv, db_url, two):  # §0.5 matching is literal
    r = rv("source", "delete", "Alph%", "--confirm", db=db_url)
    assert r.code == 1 and r.err.startswith("Error: Source 'Alph%' not found")


def test_production_safety_partial(
    rv, db_url, two
):  # PS-010 / PS-011 / PS-020 / PS-021 / PS-022 / PS-040 / SDel D-5
    air(db_url, _asset_of(rv, db_url, "Alpha"))
    r = rv("source", "delete", "*", "--force", "--json", db=db_url)
    assert r.code == 2
    doc = one_json(r.out)
    assert (
        doc["status"] == "partial" and doc["targets_processed"] == 1 and doc["targets_skipped"] == 1
    )
    assert doc["skipped"][0]["name"] == "Alpha"
    assert (
        doc["skipped"][0]["reason"]
        == "production safety: 1 aired asset(s) referenced by playlog_events/as_run_log"
    )
    assert count(db_url, "sources") == 1


def test_production_safety_total_refusal(rv, db_url, two):  # PS-022 / PS-040 / C-8
    air(db_url, _asset_of(rv, db_url, "Alpha"))
    r = rv("source", "delete", "Alpha", "--confirm", "--json", db=db_url)
    assert r.code == 1
    doc = one_json(r.out)
    assert doc["status"] == "error" and doc["code"] == "PRODUCTION_SAFETY_FAILED"
    assert (
        doc["targets_processed"] == 0 and doc["targets_skipped"] == 1 and len(doc["skipped"]) == 1
    )
    assert count(db_url, "sources") == 2


def test_test_db_force_overrides_safety(rv, tmp_path, media):  # PS-030 / PS-001 / C-5 / C-6
    test_url = f"sqlite:///{tmp_path / 'test.db'}"
    prod = tmp_path / "prod.db"
    env = {"RETROVUE_TEST_DATABASE_URL": test_url}
    add_fs(rv, f"sqlite:///{prod}", media, "Prod", False)
    dump = sqlite_dump(prod)

    def run(*a):
        return rv(*a, "--test-db", db=f"sqlite:///{prod}", env=env)

    assert (
        run(
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "T",
            "--base-path",
            str(media),
            "--discover",
        ).code
        == 0
    )
    assert run("collection", "update", "Movies", "--sync-enable").code == 0
    assert run("collection", "ingest", "Movies").code == 0
    air(test_url, one_json(run("asset", "list", "--json").out)["assets"][0]["id"])
    r = run("source", "delete", "T", "--confirm", "--json")
    assert (
        r.code == 1 and one_json(r.out)["code"] == "PRODUCTION_SAFETY_FAILED"
    )  # --confirm never overrides
    r = run("source", "delete", "T", "--force", "--json")
    assert r.code == 0, r.err
    assert count(test_url, "sources") == 0 and count(test_url, "playlog_events") == 0
    assert sqlite_dump(prod) == dump  # production byte-for-byte unchanged


def test_dry_run(rv, db_url, two):  # SDel dry-run / C-9 / C-10
    before = snapshot_tables(db_url)
    r = rv("source", "delete", "*", "--dry-run", "--json", db=db_url)
    assert r.code == 0
    doc = one_json(r.out)
    assert doc["dry_run"] is True and doc["confirmation_required"] is True
    assert doc["impact_summary"] == {
        "sources": 2,
        "collections": 6,
        "path_mappings": 0,
        "assets": 4,
    }
    r = rv("source", "delete", "Alpha", "--dry-run", db=db_url)
    assert r.out.splitlines()[-1] == "(No database changes made \u2014 dry-run mode)"
    assert snapshot_tables(db_url) == before


def test_unavailable_type_can_be_deleted(rv, db_url, media, engine):  # §0.12 availability
    from sqlalchemy import text

    add_fs(rv, db_url, media)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sources SET type = 'ghost'"))
    assert rv("source", "delete", "Library", "--force", db=db_url).code == 0
    assert count(db_url, "collections") == 0


def _pty_run(argv: list[str], answer: bytes | None, env: dict) -> tuple[int, str, bytes]:
    """Run retrovue with stdin on a pseudo-terminal; type ``answer`` once the prompt shows."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [RETROVUE, *argv],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        err_fd = proc.stderr.fileno()
        while (
            b"Type 'yes' to confirm:" not in seen
            and time.monotonic() < deadline
            and proc.poll() is None
        ):
            ready, _, _ = select.select([err_fd], [], [], 0.5)
            if ready:
                seen += os.read(err_fd, 4096)
        if answer is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C at the prompt
        else:
            os.write(master, answer)
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), seen + err


@pytest.mark.parametrize("answer, deleted", [(b"yes\n", True), (b"no\n", False), (None, False)])
def test_prompt_through_a_real_terminal(
    tmp_path, media, answer, deleted
):  # C-1 / C-2 / C-3 / C-4 (pty)
    url = f"sqlite:///{tmp_path / 'pty.db'}"
    env = {
        **os.environ,
        "RETROVUE_DATABASE_URL": url,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    subprocess.run(
        [
            RETROVUE,
            "source",
            "add",
            "--type",
            "filesystem",
            "--name",
            "L",
            "--base-path",
            str(media),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    code, out, err = _pty_run(["source", "delete", "L"], answer, env)
    assert code == 0, err
    assert b"This action cannot be undone." in err
    assert count(url, "sources") == (0 if deleted else 1)
    assert out == (
        "Successfully deleted source: L\n" if deleted else "Deletion cancelled\n"
    ) or out.startswith("Successfully deleted source: L")
