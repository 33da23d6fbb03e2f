"""Issue 18: generic code asks an importer what it can do, never what it is called.  "plex" (any
case) is named only in the Plex importer's own modules and its registration, the migrations and
the redaction patterns; elsewhere only as the external spellings the seeds fixed: the
``plex_path`` key of retrovue.yaml, the plan's JSON and the database column, and the
``--path-mapping-plex`` flag of the imperative contract."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "retrovue"
ALLOWED_MODULES = ("importers/plex", "importers/registry.py", "migrations/", "redact.py")
EXTERNAL_SPELLINGS = re.compile(r"plex_path|PLEX_PATH|--path-mapping-plex")
#: issue 23: the Jellyfin/Emby family is named only in its own modules, its registration and
#: the redaction patterns (the ``X-Emby-Token`` header form)
FAMILY_MODULES = ("importers/jellyfin", "importers/registry.py", "redact.py")
FAMILY_NAMES = re.compile(r"jellyfin|emby", re.IGNORECASE)


def test_plex_is_named_only_where_it_belongs():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(ALLOWED_MODULES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "plex" in EXTERNAL_SPELLINGS.sub("", line).lower():
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_jellyfin_and_emby_are_named_only_where_they_belong():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(FAMILY_MODULES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FAMILY_NAMES.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []
    assert FAMILY_NAMES.search('if kind == "Emby":')  # the guard can fail


def test_the_guard_sees_a_plex_name(tmp_path):
    """The check above can fail: a generic line naming the importer is caught."""
    line = 'if kind != "plex":'
    assert "plex" in EXTERNAL_SPELLINGS.sub("", line).lower()
    assert "plex" not in EXTERNAL_SPELLINGS.sub("", 'row["plex_path"]').lower()
