"""How the loudness enricher reads a stream: in one sequential reading, or, when the programme is
long enough, in segments of a fixed length, one per free core at a time (``spans.py``)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

# imported only when a file is measured: the registry loads loudness.py, never this module
import av

from retrovue.enrichers import spans
from retrovue.enrichers.avopen import open_media, reason
from retrovue.enrichers.bounds import DecodeBound
from retrovue.enrichers.errors import UNREADABLE, EnrichmentError
from retrovue.enrichers.loudmeter import SpanMeasure


@dataclass(frozen=True)
class Reading:
    measures: list[SpanMeasure]  # in stream order
    damaged_packets: int
    segments: int  # 1: one sequential reading of the whole stream
    workers: int  # segments read side by side


def measure_stream(path: str, opened, stream, *, true_peak: bool, cores: int) -> Reading:
    """Measure ``stream`` of the open media ``opened`` (``avopen.OpenedMedia`` of ``path``),
    whose other streams are discarded already."""

    bound = DecodeBound(opened.declared_s, opened.held)
    count = spans.segment_count(opened.declared_s)
    if count == 1:
        return _sequential(opened.container, stream, spans.Progress(bound), true_peak)
    first = _first_frame(opened.container, stream)
    if first is not None:
        try:
            workers = max(1, min(cores, count))
            return _segments(path, stream, first, count, workers, bound, true_peak)
        except spans.Unsegmentable:
            pass  # measured again, from the start, in one reading
    with _reopened(path, stream.index) as (container, again):
        return _sequential(container, again, spans.Progress(bound), true_peak)


def _sequential(container, stream, progress, true_peak: bool) -> Reading:

    with reading_errors():
        measure = spans.read_span(container, stream, spans.Span(), progress, true_peak=true_peak)
    return Reading([measure], progress.errors, 1, 1)


def _segments(path, stream, first, count, workers, bound, true_peak) -> Reading:

    planned = spans.plan_segments(stream, first, count)
    progress = spans.Progress(bound, workers)
    index = stream.index

    def read_one(span):
        return _read_segment(path, index, span, progress, true_peak)

    with reading_errors():
        measures = spans.run_segments(read_one, planned, progress, workers)
    spans.check_joins(measures, stream.time_base, first.sample_rate)
    return Reading(measures, progress.errors, len(planned), workers)


def _read_segment(path: str, index: int, span, progress, true_peak: bool) -> SpanMeasure:
    """One segment, in a container of its own: a decoder restarted by opening, not by a
    seek after another segment, so the facts do not depend on which process read what."""

    with _reopened(path, index) as (container, stream):
        return spans.read_span(container, stream, span, progress, true_peak=true_peak)


@contextmanager
def _reopened(path: str, index: int):
    """The file opened again, only stream ``index`` read: ``(container, stream)``."""

    with open_media(path).container as container:
        stream = container.streams[index]
        only(container, stream)
        yield container, stream


def only(container, stream) -> None:
    """Have the demuxer read ``stream`` only: it skips the other streams' packets."""
    for other in container.streams:
        if other is not stream:
            other.discard = av.stream.Discard.all


def _first_frame(container, stream):
    """The stream's first decoded frame (segments are placed from its timestamp); None when
    there is none to be had this way."""
    try:
        for packet in container.demux(stream):
            for frame in stream.decode(packet):
                if frame.samples:
                    return frame
    except av.error.FFmpegError:
        return None
    return None


@contextmanager
def reading_errors():
    """FFmpeg's failures while reading, as UNREADABLE."""

    try:
        yield
    except av.error.FFmpegError as exc:
        raise EnrichmentError(UNREADABLE, f"reading the audio failed: {reason(exc)}") from None
