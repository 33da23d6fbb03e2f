"""The ``ffprobe`` enricher: container and stream facts, read in-process through libavformat.

What the ``ffprobe`` tool would show, without a subprocess per file: the container's format,
duration and bit rate, each stream's codec (by the codec's name, as ffprobe's ``codec_name``) and
parameters, and the chapters.  Only headers are read and stream parameters probed
(``probe_size`` / ``analyze_duration`` bound that); no frame is decoded here.

Unlike the ``ffprobe`` tool, a header is not taken at its word: the file's playable end (the end
of its last packet held whole, ``playable.py``) is stored as ``playable_end_ms``, and a file that
plays more than a second less than its header declares fails as ``TRUNCATED`` (a copy or download
cut short after an intact header).  A duration out of range, or more than the file's bytes could
hold, fails as ``IMPLAUSIBLE_DURATION`` before that (``bounds.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput, ParamSpec
from retrovue.enrichers.bounds import span
from retrovue.enrichers.errors import NOT_MEDIA, TRUNCATED, EnrichmentError
from retrovue.enrichers.playable import TOLERANCE_S, playable_end
from retrovue.model.listing import ListingMedia

#: tag values longer than this are cut: they are shown to operators, and a stray lyrics or
#: binary-ish tag must not bloat every stored result
MAX_TAG_CHARS = 1024

#: where a result's facts come from (its ``from`` key) when it read the file; a listing's
#: result says the listing's own ``origin``
FROM_FILE = "file"
#: the width of the ``assets`` columns these facts fill
MAX_COLUMN_CHARS = 64
_MAX_INT32, _MAX_INT64 = 2**31 - 1, 2**63 - 1

# AVFieldOrder, as libavcodec numbers it
_FIELD_ORDER = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


class FFProbeEnricher(BaseEnricher):
    type_id = "ffprobe"
    version = 2
    display_name = "FFprobe (container, streams, chapters)"
    default_timeout_s = 30.0

    @classmethod
    def param_spec(cls) -> tuple[ParamSpec, ...]:
        return (
            ParamSpec(
                "probe_size",
                "number",
                default=1_000_000,
                help="at most this many bytes are read to identify the streams",
            ),
            ParamSpec(
                "analyze_duration",
                "number",
                default=2.0,
                help="at most this many seconds of media are analysed to identify the streams",
            ),
        )

    @classmethod
    def prepare_worker(cls) -> None:
        from retrovue.enrichers.avopen import enable_error_detail

        enable_error_detail()

    def enrich(self, asset: EnrichInput) -> dict[str, Any]:
        # FFmpeg's libraries load on first use, not when a registry lists this class
        from retrovue.enrichers.avopen import open_media

        opened = open_media(
            asset.path,
            probe_size=self.params["probe_size"],
            analyze_duration_s=self.params["analyze_duration"],
        )
        with opened.container as container:
            facts = describe_container(container, opened.size)
            if not any(
                s["type"] in ("audio", "video") and not s["attached_pic"] for s in facts["streams"]
            ):
                raise EnrichmentError(
                    NOT_MEDIA,
                    f"no audio or video stream in this {facts['container']} file",
                )
            end = playable_end(container, asset.path, opened.size)
        facts["playable_end_ms"] = None if end.end_s is None else round(end.end_s * 1000)
        check_playable(facts["duration_ms"], facts["playable_end_ms"])
        facts["from"] = FROM_FILE
        return facts

    @classmethod
    def from_media_info(cls, media_info: Mapping[str, Any]) -> dict[str, Any] | None:
        """``enrich()``'s shape built from an upstream listing's facts (``ListingMedia``, stored
        as the asset's ``metadata["media"]`` by an importer whose listing has them), when they
        give a duration and a video or audio codec; None otherwise.  Unknown values are None or
        empty; ``container`` is the listing's name (``mkv``, ``mp4``), not FFmpeg's; the video
        stream carries the listing's own labels (``video_labels``) under the names it gave
        them; ``from`` is the listing's ``origin``."""
        listing = ListingMedia.from_json(media_info)
        if listing is None:
            return None
        duration_ms = _positive_int(listing.duration_ms)
        video_codec, audio_codec = _text(listing.video_codec), _text(listing.audio_codec)
        if duration_ms is None or (video_codec is None and audio_codec is None):
            return None
        streams: list[dict[str, Any]] = []
        if video_codec is not None:
            video = {
                "index": None,
                "type": "video",
                "codec": video_codec,
                "profile": _text(listing.video_profile),
                "width": _positive_int(listing.width),
                "height": _positive_int(listing.height),
                "attached_pic": False,
            }
            video.update(_labels(listing.video_labels))
            streams.append(video)
        if audio_codec is not None:
            streams.append(
                {
                    "index": None,
                    "type": "audio",
                    "codec": audio_codec,
                    "profile": _text(listing.audio_profile),
                    "channels": _positive_int(listing.audio_channels),
                    "attached_pic": False,
                }
            )
        return {
            "container": _text(listing.container),
            "container_long_name": None,
            "duration_ms": duration_ms,
            "start_time_ms": None,
            "bit_rate": _positive_int(listing.bit_rate),
            "size_bytes": None,
            "tags": {},
            "streams": streams,
            "chapters": [],
            # the listing's duration is the upstream's reading of the header: nothing here
            # read the file
            "playable_end_ms": None,
            "from": _text(listing.origin),
        }

    @classmethod
    def hot_columns(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """``duration_ms``, ``container``, ``video_codec``, ``audio_codec``, ``width``,
        ``height``, ``bit_rate`` as far as ``data`` (an ``enrich()`` or ``from_media_info()``
        result) gives them: the first video stream that is not cover art, the first audio
        stream.  Strings are cut to the columns' 64 characters, out-of-range numbers dropped."""
        if not isinstance(data, Mapping):
            return {}
        streams = [s for s in data.get("streams") or () if isinstance(s, Mapping)]
        video = next(
            (s for s in streams if s.get("type") == "video" and not s.get("attached_pic")), {}
        )
        audio = next((s for s in streams if s.get("type") == "audio"), {})
        columns = {
            "duration_ms": _positive_int(data.get("duration_ms")),
            "container": _text(data.get("container")),
            "video_codec": _text(video.get("codec")),
            "audio_codec": _text(audio.get("codec")),
            "width": _positive_int(video.get("width"), _MAX_INT32),
            "height": _positive_int(video.get("height"), _MAX_INT32),
            "bit_rate": _positive_int(data.get("bit_rate")),
        }
        return {name: value for name, value in columns.items() if value is not None}


def check_playable(declared_ms: int | None, playable_ms: int | None) -> None:
    """EnrichmentError(TRUNCATED) when the file plays more than ``TOLERANCE_S`` less than its
    header declares; nothing when either is unknown."""
    if declared_ms is None or playable_ms is None:
        return
    if declared_ms - playable_ms > TOLERANCE_S * 1000:
        raise EnrichmentError(
            TRUNCATED,
            f"cut short: it plays to {_seconds(playable_ms)} of the {_seconds(declared_ms)} "
            "its header declares (an interrupted copy or download?)",
        )


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s" if ms < 120_000 else span(ms / 1000)


def describe_container(container, size: int) -> dict[str, Any]:
    """The JSON-serialisable facts of an open PyAV input container."""
    from av.stream import Disposition

    # plain ints: flag-enum arithmetic per stream costs more than everything else read here
    bits = (Disposition.default.value, Disposition.forced.value, Disposition.attached_pic.value)
    streams = [describe_stream(s, bits) for s in container.streams]
    duration_ms = _us_to_ms(container.duration)
    if duration_ms is None:
        known = [s["duration_ms"] for s in streams if s["duration_ms"] is not None]
        duration_ms = max(known) if known else None
    return {
        "container": container.format.name,
        "container_long_name": container.format.long_name,
        "duration_ms": duration_ms,
        "start_time_ms": _us_to_ms(container.start_time),
        "bit_rate": container.bit_rate or None,
        "size_bytes": size,
        "tags": _tags(container.metadata),
        "streams": streams,
        "chapters": [_chapter(c) for c in container.chapters()],
    }


def describe_stream(stream, disposition_bits: tuple[int, int, int]) -> dict[str, Any]:
    cc = stream.codec_context  # None when this FFmpeg build has no decoder for the codec
    disposition = int(stream.disposition)
    default, forced, attached_pic = disposition_bits
    facts: dict[str, Any] = {
        "index": stream.index,
        "type": stream.type,
        # the codec's name, as ffprobe's codec_name gives it (``mp3``), not the decoder's
        # (``mp3float``); without a decoder (data streams, e.g. an mp4 timecode track), none
        "codec": cc.codec.canonical_name if cc is not None else getattr(stream, "name", None),
        "profile": cc.profile if cc is not None else None,
        "bit_rate": (cc.bit_rate or None) if cc is not None else None,
        "duration_ms": _ticks_to_ms(stream.duration, stream.time_base),
        "language": stream.metadata.get("language"),
        "title": stream.metadata.get("title"),
        "default": bool(disposition & default),
        "forced": bool(disposition & forced),
        # cover art: a one-picture "video" stream that does not make a file video
        "attached_pic": bool(disposition & attached_pic),
    }
    if cc is None:
        return facts
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        facts.update(
            width=cc.width or None,
            height=cc.height or None,
            pix_fmt=cc.pix_fmt,
            frame_rate=f"{rate.numerator}/{rate.denominator}" if rate else None,
            frame_rate_fps=round(float(rate), 6) if rate else None,
            sample_aspect_ratio=_ratio(cc.sample_aspect_ratio),
            display_aspect_ratio=_ratio(cc.display_aspect_ratio),
            field_order=_FIELD_ORDER.get(cc.field_order),
        )
    elif stream.type == "audio":
        facts.update(
            channels=cc.channels or None,
            channel_layout=cc.layout.name if cc.channels else None,
            sample_rate=cc.sample_rate or None,
            sample_fmt=cc.format.name if cc.format is not None else None,
        )
    return facts


def _chapter(chapter: dict) -> dict[str, Any]:
    tb = chapter["time_base"] or Fraction(1, 1)
    return {
        "start_ms": _ticks_to_ms(chapter["start"], tb),
        "end_ms": _ticks_to_ms(chapter["end"], tb),
        "title": chapter["metadata"].get("title"),
    }


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    return {str(k): str(v)[:MAX_TAG_CHARS] for k, v in sorted(metadata.items())}


def _us_to_ms(us: int | None) -> int | None:
    return None if us is None else round(us / 1000)


def _ticks_to_ms(ticks: int | None, time_base: Fraction | None) -> int | None:
    if ticks is None or not time_base:
        return None
    # integer arithmetic, rounding half up: Fraction arithmetic costs microseconds per call
    scaled = ticks * time_base.numerator * 1000
    return (2 * scaled + time_base.denominator) // (2 * time_base.denominator)


def _text(value: Any) -> str | None:
    return value[:MAX_COLUMN_CHARS] if isinstance(value, str) and value else None


def _labels(labels: Mapping[str, Any]) -> dict[str, Any]:
    """A listing's own labels for the video, bounded like every stored fact; they never
    overwrite a field of the result's own shape."""
    kept = {}
    for key, value in labels.items():
        if key in _VIDEO_FIELDS:
            continue
        value = _text(value) if isinstance(value, str) else _positive_number(value)
        if value is not None:
            kept[key[:MAX_COLUMN_CHARS]] = value
    return kept


_VIDEO_FIELDS = frozenset({"index", "type", "codec", "profile", "width", "height", "attached_pic"})


def _positive_number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return value if ok and 0 < value < float("inf") else None


def _positive_int(value: Any, limit: int = _MAX_INT64) -> int | None:
    """An int column's value: a whole, positive, in-range number, or None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    ok = isinstance(value, int) and not isinstance(value, bool)
    return value if ok and 0 < value <= limit else None


def _ratio(value: Fraction | None) -> str | None:
    return f"{value.numerator}:{value.denominator}" if value else None
