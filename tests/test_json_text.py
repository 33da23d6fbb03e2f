"""The API's JSON text (web/json_text.py): orjson's speed, json.dumps(default=str)'s meaning."""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from retrovue.web.json_text import json_text


class _Kind(enum.StrEnum):
    EPISODE = "episode"


@dataclass
class _Point:
    x: int


def test_values_without_a_json_type_read_as_json_dumps_default_str_wrote_them():
    document = {
        "id": uuid.UUID("3f2b8c1e-0000-4000-8000-000000000001"),
        "at": datetime(2026, 12, 7, 23, 5, 1, 250, tzinfo=UTC),
        "path": PurePosixPath("/media/TV/Show 1"),
        "point": _Point(3),
        "kind": _Kind.EPISODE,
        7: "a key that is not a string",
        "nested": [{"title": 'Amélie\n"quoted"', "n": None, "ok": True, "f": -23.5}],
    }
    assert json.loads(json_text(document)) == json.loads(json.dumps(document, default=str))


def test_what_orjson_refuses_is_written_as_json_writes_it_not_failed():
    # a lone surrogate (a name that was not UTF-8, decoded with surrogateescape) and an integer
    # beyond 64 bits: orjson raises on both
    document = {"title": "bad \udcff byte", "size": 2**70}
    assert json_text(document) == json.dumps(document, default=str)


def test_a_float_json_cannot_hold_is_null_not_nan():
    assert json.loads(json_text({"loudness": float("nan"), "peak": float("-inf")})) == {
        "loudness": None,
        "peak": None,
    }
