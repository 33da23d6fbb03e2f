"""Saved plan files: JSON, written atomically, scrubbed of every known secret value."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable


def save_plan(path: str, document: dict, scrub: Callable[[str], str]) -> None:
    text = scrub(json.dumps(document, indent=2, default=str)) + "\n"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".retrovue-plan-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
