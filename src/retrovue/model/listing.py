"""Media facts an upstream's listing already gives for a file (duration, codecs, size of the
picture), so an enricher can record them without opening the file.

Any importer whose listing carries them fills one per asset (stored as the asset's
``metadata["media"]``); the ``ffprobe`` enricher reads it without knowing who filled it.
``origin`` says where the facts came from (a result's ``from``), and ``video_labels`` holds what
the upstream says of the video in its own words (a frame-rate label such as ``24p``), kept under
the names the importer gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: a result's ``from`` when a stored listing says nothing of its origin (one stored before it did)
UNNAMED_LISTING = "listing"

_TEXT = ("container", "video_codec", "video_profile", "audio_codec", "audio_profile")
_COUNTS = ("duration_ms", "bit_rate", "width", "height", "audio_channels")


@dataclass(frozen=True)
class ListingMedia:
    origin: str = UNNAMED_LISTING
    container: str | None = None
    duration_ms: int | None = None
    bit_rate: int | None = None
    video_codec: str | None = None
    video_profile: str | None = None
    width: int | None = None
    height: int | None = None
    audio_codec: str | None = None
    audio_profile: str | None = None
    audio_channels: int | None = None
    video_labels: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON with the unknown facts left out (small: one per asset)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v not in (None, {})}

    @classmethod
    def from_json(cls, data: Any) -> ListingMedia | None:
        """The facts of a stored listing, each kept only when it has the right type (stored data
        came from upstream once); None when ``data`` is not a mapping."""
        if not isinstance(data, Mapping):
            return None
        values: dict[str, Any] = {}
        for name in _TEXT:
            if isinstance(data.get(name), str) and data[name]:
                values[name] = data[name]
        for name in _COUNTS:
            value = data.get(name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                values[name] = value
        if isinstance(data.get("origin"), str) and data["origin"]:
            values["origin"] = data["origin"]
        labels = data.get("video_labels")
        if isinstance(labels, Mapping):
            values["video_labels"] = {
                str(k): v for k, v in labels.items() if isinstance(v, str | int | float)
            }
        return cls(**values)
