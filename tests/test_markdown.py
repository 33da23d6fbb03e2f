"""`plan --format markdown`: golden files for hand-built plans (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from retrovue.importers.base import PathMappingSpec
from retrovue.model.actions import (
    AddCollection,
    CollectionAddress,
    CollectionGoneUpstream,
    CreateSource,
    FieldChange,
    IngestCollection,
    IngestCounts,
    Plan,
    Problem,
    PruneSource,
    SetCollectionSync,
    SetIngestible,
    SkipReason,
    SourceAddress,
    UpdateSource,
)
from retrovue.render.markdown import MarkdownLimits, render_markdown
from tests.helpers import fs_config, make_tree

GOLDEN = Path(__file__).parent / "golden"


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def _plex_create() -> list:
    src = SourceAddress("Living Room Plex")
    movies = CollectionAddress(src, "1", "Movies")
    return [
        CreateSource(
            src,
            "plex",
            "plex-5063d926",
            {"base_url": "http://10.0.0.5:32400", "token": "s3cr3t-t0ken"},
            frozenset({"token"}),
        ),
        AddCollection(movies, ("/data/Movies",), (PathMappingSpec("/data/Movies", None),)),
        SetPathMappings_(movies),
        SetIngestible(movies, False, True, None),
        SetCollectionSync(movies, False, True),
        IngestCollection(
            movies,
            IngestCounts(discovered=3, new=3),
            skipped=(SkipReason("no path mapping", 1, "/x/y.mkv"),),
        ),
    ]


def SetPathMappings_(address):
    from retrovue.model.actions import SetPathMappings

    return SetPathMappings(
        address,
        (PathMappingSpec("/data/Movies", None),),
        (PathMappingSpec("/data/Movies", "/mnt/nas/Movies"),),
    )


def _fs_update() -> list:
    src = SourceAddress("Interstitials", _id(1))
    ads = CollectionAddress(src, "commercials", "commercials", _id(2))
    return [
        UpdateSource(src, (FieldChange("config.base_path", "/old", "/media/interstitials"),)),
        IngestCollection(
            ads, IngestCounts(discovered=10, new=1, changed=2, unchanged=6, missing=1, duplicates=1)
        ),
        CollectionGoneUpstream(CollectionAddress(src, "bumpers", "bumpers", _id(3))),
    ]


PLANS = {
    "no_changes": Plan(
        actions=(
            IngestCollection(
                CollectionAddress(SourceAddress("Library", _id(1)), "movies", "movies", _id(2)),
                IngestCounts(unchanged=5),
            ),
        )
    ),
    "create_and_update": Plan(
        actions=tuple(_plex_create() + _fs_update()),
        problems=(
            Problem("Bedroom Plex", "unreachable", "connection refused (http://10.0.0.9:32400)"),
        ),
    ),
    "prune": Plan(
        actions=(
            PruneSource(
                SourceAddress("Old NAS", _id(7)), "filesystem-1", "filesystem", 2, 40, prune=True
            ),
            PruneSource(
                SourceAddress("On Air", _id(8)),
                "filesystem-2",
                "filesystem",
                1,
                9,
                prune=True,
                protected_assets=3,
            ),
            PruneSource(
                SourceAddress("Forgotten", _id(9)), "filesystem-3", "filesystem", 1, 0, prune=False
            ),
        )
    ),
}


def _big_plan(sources: int, collections: int) -> Plan:
    actions = []
    for s in range(sources):
        src = SourceAddress(f"Source {s:02d}", _id(100 + s))
        for c in range(collections):
            address = CollectionAddress(
                src, f"c{c}", f"Collection {c:02d}", _id(1000 + 100 * s + c)
            )
            actions.append(SetCollectionSync(address, False, True))
    return Plan(actions=tuple(actions))


CAPPED = {
    "capped_lines": (_big_plan(1, 12), MarkdownLimits(max_chars=60_000, max_lines_per_source=8)),
    "capped_sources": (_big_plan(6, 3), MarkdownLimits(max_chars=1_200, max_lines_per_source=200)),
}


def _check(name: str, rendered: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert path.exists(), f"missing golden file {path} (run with UPDATE_GOLDEN=1)"
    assert rendered == path.read_text()


@pytest.mark.parametrize("name", sorted(PLANS))
def test_golden(name):
    _check(name, render_markdown(PLANS[name]))


@pytest.mark.parametrize("name", sorted(CAPPED))
def test_golden_capped(name):
    plan, limits = CAPPED[name]
    rendered = render_markdown(plan, limits)
    assert len(rendered) <= limits.max_chars
    _check(name, rendered)


def test_summary_line_comes_first_and_secrets_never_show():
    rendered = render_markdown(PLANS["create_and_update"])
    lines = rendered.splitlines()
    assert lines[0] == "### retrovue plan" and lines[2].startswith(
        "**Plan: 1 source to create, 1 to update;"
    )
    assert "s3cr3t-t0ken" not in rendered and "config.token = (sensitive)" in rendered
    assert rendered.count("<details>") == rendered.count("</details>") == 2


def test_capped_output_says_how_much_is_left_out():
    plan, limits = CAPPED["capped_sources"]
    rendered = render_markdown(plan, limits)
    assert "more sources not shown" in rendered
    shown = rendered.count("<details>")
    assert 0 < shown < 6 and f"_… {6 - shown} more sources not shown" in rendered
    plan, limits = CAPPED["capped_lines"]
    assert "… 17 more lines" in render_markdown(plan, limits)  # 25 lines, 8 kept


def test_default_cap_fits_a_github_comment():
    rendered = render_markdown(_big_plan(60, 40))
    assert len(rendered) <= 65_536 and "more source" in rendered


def test_cli_markdown(rv, db_url, tmp_path):
    media = make_tree(tmp_path / "media", {"movies": ["Heat (1995).mkv"]})
    cfg = fs_config(tmp_path / "retrovue.yaml", media, {"movies": True})
    result = rv("plan", "-c", str(cfg), "--format", "markdown", db=db_url)
    assert result.code == 0, result.err
    assert result.out.startswith("### retrovue plan\n\n**Plan: 1 source to create")
    assert "<details><summary><code>Library</code>: create</summary>" in result.out
    assert '```diff\n+ source "Library" will be created\n' in result.out
    assert rv("apply", "-c", str(cfg), "--auto-approve", db=db_url).code == 0
    again = rv("plan", "-c", str(cfg), "--format", "markdown", db=db_url)
    assert "**No changes.**" in again.out and "Nothing to do" in again.out
