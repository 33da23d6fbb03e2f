"""Help, README and examples say what the commands do."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_source_delete_help_names_one_selector(rv):
    """issue 10: `source delete` takes one SELECTOR (a pattern may match several)."""
    out = rv("source", "delete", "--help").out
    assert "Usage: retrovue source delete [OPTIONS] SELECTOR\n" in out
    assert "pattern that may" in out
    readme = (ROOT / "README.md").read_text()
    assert "source delete S…" not in readme and "`retrovue source delete S [" in readme


def test_source_update_help_optional_and_grouped(rv):
    """issue 10: on a partial update no type flag is required, and they are grouped per type."""
    out = rv("source", "update", "--help").out
    assert "(required)" not in out
    emby, fs, jellyfin, plex = (
        out.index(f"Options for {t} sources:") for t in ("emby", "filesystem", "jellyfin", "plex")
    )
    assert emby < out.index("--api-key") < fs < out.index("--base-path") < jellyfin
    # a flag several types share is listed under each of them
    assert emby < out.index("--base-url") < fs
    assert jellyfin < out.index("--base-url", jellyfin) < plex < out.index("--base-url", plex)
    # `source add` still marks what a new source needs
    assert "(required)" in rv("source", "add", "--type", "plex", "--help").out


def test_source_update_help_for_a_source(rv, db_url, tmp_path):
    """issue 10: `source update SOURCE --help` lists only that source's type flags."""
    from tests.imperative_helpers import add_fs

    add_fs(rv, db_url, tmp_path, "Films", False)
    out = rv("source", "update", "Films", "--help", db=db_url).out
    assert "Options for filesystem sources:" in out and "--base-path" in out
    assert "plex" not in out and "--base-url" not in out
    # a source that is not there: every type, grouped
    assert "Options for plex sources:" in rv("source", "update", "Nope", "--help", db=db_url).out


def test_list_types_text_shows_compliance_and_parameters(rv):
    """issue 10: the text listing says what --json says: compliance and parameters."""
    lines = rv("source", "list-types").out.splitlines()
    at = lines.index("  plex - Plex Media Server")
    assert lines[at + 1] == "      Compliant: Yes"
    assert any(line.startswith("      --token (required, sensitive)") for line in lines)
    assert any(line.startswith("      --base-path (required)") for line in lines)


def test_schema_command_and_export_line(rv, db_url):
    """issue 10: `retrovue schema` prints the shipped schemas; export points at a local file."""
    config = json.loads(rv("schema").out)
    assert config == json.loads((ROOT / "src/retrovue/schemas/retrovue.schema.json").read_text())
    plan = json.loads(rv("schema", "plan").out)
    assert plan["title"] == "retrovue plan"
    exported = rv("export", db=db_url).out.splitlines()
    assert exported[0] == "# yaml-language-server: $schema=./retrovue.schema.json"
    assert "retrovue schema config > retrovue.schema.json" in exported[1]
    assert "retrovue.dev" not in (ROOT / "examples/gitops/retrovue.yaml").read_text()


def test_repository_text_stays_in_repository():
    """issue 10: no install of an unpublished package, no link outside the repository."""
    workflow = yaml.safe_load((ROOT / "examples/gitops/.github/workflows/retrovue.yml").read_text())
    runs = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert "pip install retrovue" not in runs and "pip install ./.retrovue-src" in runs
    assert "../shared" not in (ROOT / "README.md").read_text()
