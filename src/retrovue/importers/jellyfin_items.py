"""A listed Jellyfin/Emby item (``BaseItemDto`` JSON) as retrovue's upstream assets.

One asset per file: an item's ``MediaSources`` are its versions (a film in 4K and 1080p is one
item with two sources), each a file with its own ``Path``, ``Size`` and streams.  What is listed
but is no file is yielded as a not-offered record carrying its reason, so the plan counts it.
Upstream JSON is not trusted: every value is type-checked and bounded before it is kept.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from retrovue.importers.base import UpstreamAsset
from retrovue.model import limits
from retrovue.model.upstream import NOT_OFFERED

#: the largest values the ``assets`` table's Integer and BigInteger columns hold
MAX_INT32, MAX_INT64 = 2**31 - 1, 2**63 - 1
#: listed facts outside (0, this] are nonsense (or hostile) and dropped
_MAX_MEDIA_NUMBER = 2**53
#: longest string kept from the listing's media facts
MAX_MEDIA_CHARS = 64
#: ``RunTimeTicks`` are .NET ticks: 100 ns
TICKS_PER_MS = 10_000

#: item ``Type`` -> retrovue kind
KINDS = {"Movie": "movie", "Episode": "episode", "Video": "other", "MusicVideo": "other"}

#: why a listed item is not content: counted and named in the plan, never written, not seen
NO_FILE = "the item lists no media file"
VIRTUAL = "a placeholder the server keeps for an item it has no file of (missing or unaired)"
REMOTE = "a remote stream (.strm or URL), not a file"
PLACEHOLDER_SOURCE = "a placeholder version (disc stub or offline media), not a file"
STACKED_PART = "a further part of a stacked item (cd2, part2, …) the server did not describe"
#: most further parts of a stacked item kept (a hostile ``PartCount`` yields no million records)
MAX_PARTS = 99

_DASHES = re.compile(r"-")


class Item:
    """One listed item, read defensively."""

    def __init__(self, data: Mapping[str, Any], scheme: str):
        self.data = data
        self.scheme = scheme

    @property
    def id(self) -> str:
        value = self.data.get("Id")
        return value if isinstance(value, str) else ""

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) and value else None

    def number(self, key: str, limit: int = MAX_INT32) -> int | None:
        return whole(self.data.get(key), limit)

    @property
    def kind(self) -> str:
        return KINDS.get(self.text("Type") or "", "other")

    @property
    def title_shown(self) -> str | None:
        """What ``--title`` matches: the series of an episode, else the item's own name."""
        return self.text("SeriesName") if self.kind == "episode" else self.text("Name")

    def label(self) -> str:
        return f"{self.text('Name') or '(untitled)'} (Id {self.id})"

    def sources(self) -> list[Mapping[str, Any]]:
        value = self.data.get("MediaSources")
        return [s for s in value if isinstance(s, Mapping)] if isinstance(value, list) else []


def part_count(data: Mapping[str, Any]) -> int:
    """How many files a stacked item (``Film-cd1.mkv``, ``Film-cd2.mkv``) has; 1 if not stacked."""
    return min(whole(data.get("PartCount")) or 1, MAX_PARTS + 1)


def assets(
    data: Mapping[str, Any], scheme: str, parts: Sequence[Mapping[str, Any]] = ()
) -> Iterator[UpstreamAsset]:
    """The assets (and not-offered records) of one listed item; ``parts`` are the further parts
    of a stacked item (``/Videos/{id}/AdditionalParts``), each a file of its own."""
    item = Item(data, scheme)
    uri = f"{scheme}://{item.id}"
    if item.text("LocationType") == "Virtual":
        yield _not_offered(uri, item.label(), VIRTUAL)
        return
    sources = item.sources()
    if not sources:
        # an older server, or a listing without MediaSources: the item's own Path is its file
        path = item.text("Path")
        if path is None:
            yield _not_offered(uri, item.label(), NO_FILE)
        else:
            yield _asset(item, {}, uri, path, single=True)
        yield from _further_parts(item, uri, parts)
        return
    single = len(sources) == 1
    for position, source in enumerate(sources, 1):
        source_uri = uri if single else f"{uri}/{_source_id(source, position)}"
        reason, path = _not_content(item, source)
        if reason is not None:
            yield _not_offered(source_uri, path or item.label(), reason)
        else:
            yield _asset(item, source, source_uri, path, single, position, len(sources))
    yield from _further_parts(item, uri, parts)


def _further_parts(
    item: Item, uri: str, parts: Sequence[Mapping[str, Any]]
) -> Iterator[UpstreamAsset]:
    """A stacked film is one item whose sources name its first file only; each further part is
    an asset of its own.  Its URI is ``<uri>/part/<part's ItemId>``: the first part keeps the
    URI it always had (``<type>://<ItemId>``, as an unstacked item's), so stacking a film, or
    upgrading, never renames an asset already catalogued (another importer names every part by
    its part id, first included: a choice it made before its first release, which this one
    cannot make without renaming); the ``/part/`` segment cannot be taken for a version's
    ``<MediaSourceId>``.  The part's file facts (path, size, streams, stamp)
    are its own; its title, year and episode numbers are the item's (a part is listed as a bare
    ``Video``).  A part the server announces (``PartCount``) but does not describe is counted."""
    seen: set[str] = set()
    count = max(part_count(item.data), len(parts) + 1)
    for number, data in enumerate(parts[:MAX_PARTS], 2):
        part = Item(data, item.scheme)
        key = _part_id(part.id, number, seen)
        part_uri = f"{uri}/part/{key}"
        sources = part.sources()
        source = sources[0] if sources else {}
        reason, path = _not_content(part, source) if source else (None, part.text("Path") or "")
        if reason is None and not path:
            reason = NO_FILE
        if reason is not None:
            yield _not_offered(part_uri, path or f"part {number} of {item.label()}", reason)
            continue
        # the item's descriptive fields with the part's own file facts
        merged = Item({**item.data, **_file_facts(data)}, item.scheme)
        asset = _asset(merged, source, part_uri, path, single=True)
        asset.metadata["part"] = {"index": number, "of": count, "item_id": part.id or None}
        yield asset
    for number in range(len(parts) + 2, min(count, MAX_PARTS + 1) + 1):
        yield _not_offered(f"{uri}/part-{number}", item.label(), STACKED_PART)


def _file_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """What of a part's own item describes its file rather than the film."""
    return {k: data.get(k) for k in ("Path", "DateModified", "RunTimeTicks", "MediaSources")}


def _part_id(value: str, number: int, seen: set[str]) -> str:
    """A part's stable key: its item id (dashes dropped, as a source id's), else its position;
    a repeated id (a hostile answer) gets its position too, so no two parts share a URI."""
    key = _DASHES.sub("", value.lower()) if value and len(value) <= 64 else ""
    # a fallback cannot meet a real id: ids are kept without their dashes
    key = key if key and "/" not in key and key not in seen else f"position-{number}"
    seen.add(key)
    return key


def _not_content(item: Item, source: Mapping[str, Any]) -> tuple[str | None, str]:
    path = _text(source.get("Path")) or (item.text("Path") if len(item.sources()) == 1 else None)
    if source.get("Protocol") not in (None, "File"):
        return REMOTE, path or ""
    if source.get("Type") == "Placeholder":
        return PLACEHOLDER_SOURCE, path or ""
    if not path:
        return NO_FILE, ""
    return None, path


def _source_id(source: Mapping[str, Any], position: int) -> str:
    value = source.get("Id")
    if isinstance(value, str) and value and len(value) <= 64:
        return _DASHES.sub("", value.lower())
    return f"source-{position}"


def _not_offered(uri: str, example: str, reason: str) -> UpstreamAsset:
    return UpstreamAsset(uri, example, None, "", kind=NOT_OFFERED, problem=reason)


def _asset(
    item: Item,
    source: Mapping[str, Any],
    uri: str,
    path: str,
    single: bool,
    position: int = 1,
    of: int = 1,
) -> UpstreamAsset:
    kind = item.kind
    size = whole(source.get("Size"), MAX_INT64)
    source_id = _source_id(source, position) if source else ""
    # the file's own stamp: the source's ETag (the server's digest of that version's file date)
    # or the item's DateModified (the file's mtime as last scanned); a metadata edit (title,
    # artwork) moves neither, so it does not put an asset back to new
    stamp = _short(source.get("ETag")) or item.text("DateModified") or ""
    change_token = f"{stamp}:{source_id}:{size}"
    ticks = whole(source.get("RunTimeTicks"), MAX_INT64)
    if ticks is None and single:
        ticks = item.number("RunTimeTicks", MAX_INT64)
    duration_ms = ticks // TICKS_PER_MS if ticks else None
    # the primary source's id is the item's own (without dashes): one string for both then
    same = source_id == item.id
    metadata: dict[str, Any] = {
        "item_id": item.id,
        "media_source_id": item.id if same else source_id or None,
    }
    if of > 1:
        metadata["version"] = {"index": position, "of": of, "name": _text(source.get("Name"))}
    media = media_info(source, duration_ms, item.scheme) if source else {}
    if media:
        metadata["media"] = media
    episode = kind == "episode"
    return UpstreamAsset(
        source_uri=uri,
        path=path,
        size=size,
        change_token=change_token,
        kind=kind,
        title=item.text("Name"),
        series_title=_series(item.text("SeriesName")) if episode else None,
        season_number=item.number("ParentIndexNumber") if episode else None,
        episode_number=item.number("IndexNumber") if episode else None,
        year=item.number("ProductionYear"),
        duration_ms=duration_ms,
        metadata=metadata,
        problem=limits.token_problem(change_token),
    )


def media_info(source: Mapping[str, Any], duration_ms: int | None, scheme: str) -> dict[str, Any]:
    """What the listing says of one source's file, as ``ListingMedia.to_json()`` gives it: the
    container (its first name: the server gives ffprobe's list, ``mkv,webm``), duration, bit
    rate, the first video stream and the default (else first) audio stream, and the server's
    frame rate, aspect ratio and dynamic range labels."""
    streams = source.get("MediaStreams")
    streams = [s for s in streams if isinstance(s, Mapping)] if isinstance(streams, list) else []
    video = next((s for s in streams if s.get("Type") == "Video"), None)
    audio = _audio(streams, source.get("DefaultAudioStreamIndex"))
    facts: dict[str, Any] = {}
    container = _text(source.get("Container"))
    if container:
        facts["container"] = _short(container.split(",")[0])
    if duration_ms is not None and 0 < duration_ms <= _MAX_MEDIA_NUMBER:
        facts["duration_ms"] = duration_ms
    facts["bit_rate"] = _positive(source.get("Bitrate"))
    labels: dict[str, Any] = {}
    if video is not None:
        facts["video_codec"] = _short(video.get("Codec"))
        facts["video_profile"] = _short(video.get("Profile"))
        facts["width"] = _positive(video.get("Width"))
        facts["height"] = _positive(video.get("Height"))
        for key, field in (
            ("frame_rate", "RealFrameRate"),
            ("aspect_ratio", "AspectRatio"),
            ("video_range", "VideoRange"),
        ):
            value = video.get(field)
            value = _short(value) if isinstance(value, str) else _positive(value, "float")
            if value is not None:
                labels[sys.intern(f"{scheme}_{key}")] = value
    if audio is not None:
        facts["audio_codec"] = _short(audio.get("Codec"))
        facts["audio_profile"] = _short(audio.get("Profile"))
        facts["audio_channels"] = _positive(audio.get("Channels"))
    facts = {k: v for k, v in facts.items() if v is not None}
    if not facts:
        return {}
    # ``ListingMedia(...).to_json()``, built directly (a third of the listing's cost at 200,000
    # items): the facts above are in its field order, and a test holds the two equal
    out = {"origin": sys.intern(f"{scheme}-listing"), **facts}
    if labels:
        out["video_labels"] = labels
    return out


def _audio(streams: list[Mapping[str, Any]], default_index: Any) -> Mapping[str, Any] | None:
    audio = [s for s in streams if s.get("Type") == "Audio"]
    chosen = [s for s in audio if s.get("Index") == default_index and default_index is not None]
    return (chosen or audio or [None])[0]


def whole(value: Any, limit: int = MAX_INT32) -> int | None:
    """An int within ±``limit`` (the column's range), else None: a hostile listing must not
    abort the whole write.  JSON floats that are whole count; booleans do not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return value if -limit - 1 <= value <= limit else None


def _positive(value: Any, kind: str = "int") -> int | float | None:
    """A number in (0, 2**53]; zero means "unknown" in a listing (the OpenAPI examples are 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not (0 < value <= _MAX_MEDIA_NUMBER):  # also rejects nan and inf
        return None
    return round(value) if kind == "int" else float(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _series(name: str | None) -> str | None:
    """A series name, shared by all its episodes' assets (interned when of a sane length)."""
    return sys.intern(name) if name is not None and len(name) <= 256 else name


def _short(value: Any) -> str | None:
    """A bounded label (codec, profile, container), interned: the same few values repeat on
    every asset of a listing, and a plan may hold hundreds of thousands of them."""
    text = _text(value)
    text = text.strip()[:MAX_MEDIA_CHARS] if text else None
    return sys.intern(text) if text else None
