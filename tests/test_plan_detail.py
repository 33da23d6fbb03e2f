"""`plan --detail` / `apply --detail`: the files behind each asset count, capped per kind."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fs_config, make_tree


@pytest.fixture
def moved(tmp_path, rv, db_url):
    """13 applied files; then one removed (under the missing threshold) and 12 added."""
    base = make_tree(tmp_path / "media", {"clips": [f"old{i:02}.mkv" for i in range(13)]})
    config = str(fs_config(tmp_path / "retrovue.yaml", base, {"clips": True}))
    assert rv("apply", "-c", config, "--auto-approve", db=db_url).code == 0
    (base / "clips" / "old00.mkv").unlink()
    make_tree(base, {"clips": [f"new{i:02}.mkv" for i in range(11)] + ["line\nbreak.mkv"]})
    return base / "clips", config


def test_text_detail_capped(rv, db_url, moved):
    """issue 10: --detail names the missing file and the new ones, 10 per kind, then the rest
    counted; without it the plan shows counts only."""
    clips, config = moved
    plain = rv("plan", "-c", config, db=db_url)
    assert plain.code == 0 and str(clips) not in plain.out
    r = rv("plan", "-c", config, "--detail", db=db_url)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    at = lines.index("            new (12):")
    # sorted; the line break in a name is escaped, so it cannot start a line of its own
    assert lines[at + 1 : at + 12] == [f"              {clips}/line\\nbreak.mkv"] + [
        f"              {clips}/new{i:02}.mkv" for i in range(9)
    ] + ["              … and 2 more"]
    assert "            missing (1):" in lines
    assert f"              {clips}/old00.mkv" in lines
    assert not any(line.startswith("break.mkv") for line in lines)


def test_json_and_markdown_detail(rv, db_url, moved):
    """issue 10: JSON carries the capped lists with a total per kind; markdown shows them inside
    the collapsible block."""
    clips, config = moved
    doc = json.loads(rv("plan", "-c", config, "--detail", "--json", db=db_url).out)
    ingest = next(a for a in doc["actions"] if a["kind"] == "ingest_collection")
    detail = {d["kind"]: d for d in ingest["detail"]}
    assert detail["new"]["total"] == 12 and len(detail["new"]["paths"]) == 10
    assert detail["missing"] == {"kind": "missing", "total": 1, "paths": [f"{clips}/old00.mkv"]}
    plain = json.loads(rv("plan", "-c", config, "--json", db=db_url).out)
    assert next(a for a in plain["actions"] if a["kind"] == "ingest_collection")["detail"] == []
    md = rv("plan", "-c", config, "--detail", "--format", "markdown", db=db_url).out
    block = md[md.index("<details>") : md.index("</details>")]
    assert f"{clips}/old00.mkv" in block and "… and 2 more" in block


def test_apply_detail(rv, db_url, moved):
    """issue 10: apply --detail shows the detail in the plan it asks approval for."""
    clips, config = moved
    r = rv("apply", "-c", config, "--detail", "--auto-approve", db=db_url)
    assert r.code == 0, r.err
    assert f"{clips}/old00.mkv" in r.out
