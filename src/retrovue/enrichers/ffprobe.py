"""The ``ffprobe`` enricher: container and stream facts, read in-process through libavformat.

What the ``ffprobe`` tool would show, without a subprocess per file: the container's format,
duration and bit rate, each stream's codec and parameters, and the chapters.  Only headers are
read and stream parameters probed (``probe_size`` / ``analyze_duration`` bound that); no frame is
decoded here.  Like the ``ffprobe`` tool, a Matroska file cut short after an intact header is
described by its header (its declared duration), not flagged.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput, ParamSpec
from retrovue.enrichers.errors import NOT_MEDIA, EnrichmentError

#: tag values longer than this are cut: they are shown to operators, and a stray lyrics or
#: binary-ish tag must not bloat every stored result
MAX_TAG_CHARS = 1024

# AVFieldOrder, as libavcodec numbers it
_FIELD_ORDER = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


class FFProbeEnricher(BaseEnricher):
    type_id = "ffprobe"
    version = 1
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

        container, size = open_media(
            asset.path,
            probe_size=self.params["probe_size"],
            analyze_duration_s=self.params["analyze_duration"],
        )
        with container:
            facts = describe_container(container, size)
        if not any(
            s["type"] in ("audio", "video") and not s["attached_pic"] for s in facts["streams"]
        ):
            raise EnrichmentError(
                NOT_MEDIA,
                f"no audio or video stream in this {facts['container']} file",
            )
        return facts


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
        # without a decoder (data streams, e.g. an mp4 timecode track) the name is the codec id's
        "codec": cc.name if cc is not None else getattr(stream, "name", None),
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


def _ratio(value: Fraction | None) -> str | None:
    return f"{value.numerator}:{value.denominator}" if value else None
