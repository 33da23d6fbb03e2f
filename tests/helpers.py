"""Small builders for test inputs: media trees on disk and retrovue.yaml files."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def make_tree(base: Path, layout: dict[str, list[str]]) -> Path:
    """layout: {"collection": ["rel/path/file.mkv", ...]} -> empty files under base."""
    for collection, files in layout.items():
        (base / collection).mkdir(parents=True, exist_ok=True)
        for rel in files:
            path = base / collection / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return base


def touch(path: Path, content: bytes = b"x", mtime_ns: int | None = None) -> None:
    path.write_bytes(content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def fs_config(
    path: Path,
    base_path: Path | str,
    collections: dict[str, bool] | None = None,
    name: str = "Library",
    **top,
) -> Path:
    """Write a one-source filesystem config; collections maps name -> sync."""
    doc = {
        "version": 1,
        **top,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(base_path)},
                "collections": [{"name": n, "sync": s} for n, s in (collections or {}).items()],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def plan_on(engine, desired, registry, options=None):
    """Build a plan against ``engine`` the way `retrovue plan` does (one read connection)."""
    from retrovue.observe.reader import DbReader
    from retrovue.plan.builder import PlanOptions, build_plan

    with engine.connect() as conn:
        return build_plan(desired, DbReader(conn), registry, options or PlanOptions())
