"""Reading a stream's audio span by span: one span for a short file, segments of ``SEGMENT_S`` for
a long one, as many side by side as there are cores.

Gating needs only the energy of each 100 ms hop, and a true peak is a maximum, so a long
programme can be measured in segments side by side, one process per core (``forked.py``: forked
copies of this one, as threads contend for the GIL between the calls into C), and the hop
energies added up.  Segment ``k``
measures the frames whose timestamp is in ``[T_k, T_k+1)``: both neighbours see the same packet
timestamps, so every frame is measured exactly once whatever the container's time base.  It
seeks ``WARM_UP_S`` before ``T_k`` and decodes that stretch without measuring it: the decoder
(AAC's overlap, MP3's bit reservoir, Opus's pre-roll) and the K-weighting filter (it forgets its
start within milliseconds) settle before the first measured sample, and the true-peak
interpolator gets its history.

A segment places its first sample by its timestamp.  In a container whose time base is coarser
than a sample (Matroska: 1 ms) that is off by up to half a tick, so its hops may sit that far
from where a sequential reading puts them: energy moves between two neighbouring hops, far under
0.01 LU.  Anything less clean falls back to one sequential reading of the whole stream
(``Unsegmentable``): no timestamps, a seek that lands past its target, neighbours that do not
meet within a tick (a timestamp gap or a repeated stretch).
"""

from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass
from fractions import Fraction

# imported only when a file is measured: the registry loads loudness.py, never this module
import av
import numpy as np

from retrovue.enrichers.bounds import DecodeBound
from retrovue.enrichers.forked import map_forked
from retrovue.enrichers.loudmeter import SpanMeasure, SpanMeter

#: the length of a segment: fixed, not derived from the cores, so that a file measures the same
#: on every machine (a decoder that synthesises noise, AAC's PNS or AC-3's dither, restarts its
#: generator where a segment seeks, which can move a peak by a few hundredths of a dB)
SEGMENT_S = 60.0
#: decoded before a segment's start, unmeasured, for the decoder and the filters to settle
WARM_UP_S = 0.5


class Unsegmentable(Exception):
    """This stream cannot be measured in segments; read it sequentially."""


class Stopped(Exception):
    """Another segment failed: this one stops early."""


@dataclass(frozen=True)
class Span:
    """Frames measured: timestamp in ``[start_pts, end_pts)``; None: from the first / to the end.
    ``origin_pts``: the timestamp of the stream's first frame, sample 0."""

    start_pts: int | None = None
    end_pts: int | None = None
    origin_pts: int | None = None
    sample_rate: int | None = None  # the rate everything is measured at (the first frame's)
    #: join at the sample (not the frame) the boundary timestamp falls on: PCM, whose
    #: demuxers cut packets wherever a seek lands, with timestamps exact to the sample
    sample_joins: bool = False


class Progress:
    """The audio decoded by every span of one file, held to the file's ``DecodeBound``, across
    the processes that read its segments (``forked.py``): each adds to its own slot of a map
    they share (no lock: a slot has one writer), and any of them can stop the others."""

    def __init__(self, bound: DecodeBound, workers: int = 1):
        self.bound = bound
        self.worker = 0  # the slot this process adds to
        shared = np.frombuffer(mmap.mmap(-1, 8 * (3 * workers + 1)), np.float64)
        self._decoded, self._errors = shared[:workers], shared[workers : 2 * workers]
        self._peaks = shared[2 * workers : 3 * workers]
        self._stopped = shared[3 * workers :]

    @property
    def decoded_s(self) -> float:
        return float(self._decoded.sum())

    @property
    def errors(self) -> int:
        return int(self._errors.sum())

    def share_peak(self, peak: float) -> float:
        """Publish the largest true peak this process has found, and return the largest any
        has: a span that starts later need not oversample what cannot exceed it (the file's
        true peak is their maximum, so the skipping stays exact)."""
        if peak > self._peaks[self.worker]:
            self._peaks[self.worker] = peak
        return float(self._peaks.max())

    def stop(self) -> None:
        """Have every span stop at its next report."""
        self._stopped[0] = 1.0

    def advance(self, seconds: float, errors: int = 0) -> None:
        if self._stopped[0]:
            raise Stopped
        self._decoded[self.worker] += seconds
        self._errors[self.worker] += errors
        self.bound.check(self.decoded_s)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def segment_count(declared_s: float | None) -> int:
    """How many segments a stream of ``declared_s`` seconds is read in: SEGMENT_S each, the last
    to the end of the stream; one (a sequential reading) under two segments' worth."""
    return max(1, int((declared_s or 0) // SEGMENT_S))


def plan_segments(stream, first_frame, count: int) -> list[Span]:
    """``count`` spans of SEGMENT_S from the stream's first frame (decoded already), the last to
    the end."""
    if first_frame.pts is None or not stream.time_base:
        raise Unsegmentable("the first frame has no timestamp")
    origin, tb = first_frame.pts, stream.time_base
    step = math.floor(SEGMENT_S / tb)
    bounds = [None] + [origin + k * step for k in range(1, count)] + [None]
    rate = first_frame.sample_rate
    pcm = stream.codec_context.codec.name.startswith("pcm_")
    sample_joins = pcm and tb <= Fraction(1, rate)
    return [Span(bounds[k], bounds[k + 1], origin, rate, sample_joins) for k in range(count)]


def position(pts: int, span: Span, time_base: Fraction) -> int:
    """The sample number of the frame at ``pts``, counted from the stream's first frame."""
    ticks = (pts - span.origin_pts) * time_base.numerator * span.sample_rate
    return (2 * ticks + time_base.denominator) // (2 * time_base.denominator)


def run_segments(read_one, spans: list[Span], progress: Progress, workers: int) -> list:
    """``read_one(span)`` for every span, by ``workers`` processes (``progress`` made for as
    many); the first failure (in span order) stops the others and is raised."""

    def one(worker: int, span: Span):
        progress.worker = worker
        return read_one(span)

    outcomes = map_forked(one, spans, workers, progress.stop)
    failures = [o.error for o in outcomes if o.error is not None]
    real = [e for e in failures if not isinstance(e, Stopped)]
    if real:
        raise real[0]
    return [o.value for o in outcomes]


def check_joins(measures: list[SpanMeasure], time_base: Fraction, sample_rate: int) -> None:
    """Unsegmentable unless each measured segment starts where the one before ended, within
    one tick of the time base; trailing segments may be empty (the file ends before its header
    said)."""
    tolerance = math.ceil(time_base * sample_rate) + 1
    filled = [i for i, m in enumerate(measures) if m.samples]
    if filled != list(range(len(filled))):
        raise Unsegmentable("a segment measured nothing before one that measured something")
    measured = [measures[i] for i in filled]
    for before, after in zip(measured, measured[1:], strict=False):
        if abs(after.first_sample - before.end_sample) > tolerance:
            raise Unsegmentable("neighbouring segments do not meet")


def read_span(container, stream, span: Span, progress: Progress, *, true_peak: bool):
    """Measure ``span`` of ``stream`` in the open ``container`` (seeking to its warm-up first)."""
    if span.start_pts is not None:
        warm_up = math.ceil(WARM_UP_S / stream.time_base)
        try:
            container.seek(max(span.start_pts - warm_up, 0), stream=stream, backward=True)
        except av.error.FFmpegError:
            raise Unsegmentable("seeking failed") from None
    reader = _SpanReader(span, stream.time_base, true_peak)
    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)
        except av.error.InvalidDataError:
            # a damaged packet costs its few milliseconds only; counted where it is measured
            reader.damaged(packet)
            continue
        if reader.feed(frames):
            break
        if reader.decoded_s >= PROGRESS_S:
            reader.report(progress)
    reader.report(progress)
    return reader.finish()


#: how much audio a span decodes between two looks at the file's DecodeBound
PROGRESS_S = 1.0


class _SpanReader:
    """The frames of one span in order: which to warm up on, which to measure, where to stop."""

    def __init__(self, span: Span, time_base: Fraction, true_peak: bool):
        self.span, self.time_base = span, time_base
        self.true_peak = true_peak
        self.meter: SpanMeter | None = None
        self.measuring = False
        self.warmed = False  # a whole frame of warm-up went before the span's start
        self.decoded_s = 0.0  # measured since the last report
        self.errors = 0  # damaged packets in the span since the last report
        self.start = self.end = None  # the boundaries as sample numbers, for sample joins
        if span.sample_joins:
            if span.start_pts is not None:
                self.start = position(span.start_pts, span, time_base)
            if span.end_pts is not None:
                self.end = position(span.end_pts, span, time_base)

    def damaged(self, packet) -> None:
        start = self.span.start_pts
        if start is None or packet.pts is None or packet.pts >= start:
            self.errors += 1

    def feed(self, frames) -> bool:
        """Take decoded frames; True once past the span's end."""
        for frame in frames:
            if not frame.samples:
                continue
            if self.meter is None:
                rate = self.span.sample_rate or frame.sample_rate  # sequential: the first's
                self.meter = SpanMeter(rate, true_peak=self.true_peak)
                if self.span.start_pts is None:
                    self.meter.begin(0)
                    self.measuring = True
            if self.measuring and self.span.end_pts is None:  # most frames of most files
                samples = frame.samples
                self.decoded_s += samples / frame.sample_rate
                self.meter.push_whole(frame, samples)
            elif self._place(frame):
                return True
        return False

    def _place(self, frame) -> bool:
        """Push a frame of a span that has boundaries; True once past the end."""
        if self.span.sample_joins:
            return self._place_samples(frame)
        pts = _timestamp(frame.pts)
        if self.span.end_pts is not None and pts >= self.span.end_pts:
            return True
        if not self.measuring:
            if pts < self.span.start_pts:
                self.warmed = True
                self.meter.push(frame)
                return False
            if not self.warmed:
                raise Unsegmentable("the seek landed after the segment's start")
            self.meter.begin(position(pts, self.span, self.time_base))
            self.measuring = True
        samples = frame.samples
        self.decoded_s += samples / frame.sample_rate
        self.meter.push_whole(frame, samples)
        return False

    def _place_samples(self, frame) -> bool:
        """``_place`` for sample joins: a frame across a boundary is measured in part."""
        first, n = position(_timestamp(frame.pts), self.span, self.time_base), frame.samples
        if self.end is not None and first >= self.end:
            return True
        warm_up = 0
        if not self.measuring:
            if first + n <= self.start:
                self.warmed = True
                self.meter.push(frame)
                return False
            if first > self.start or (first == self.start and not self.warmed):
                raise Unsegmentable("the seek landed after the segment's start")
            warm_up = self.start - first
            self.meter.begin(self.start)
            self.measuring = True
        take = None
        if self.end is not None and first + n > self.end:
            take = self.end - first - warm_up
        self.decoded_s += (n - warm_up if take is None else take) / frame.sample_rate
        self.meter.push(frame, warm_up=warm_up, take=take)
        return take is not None

    def report(self, progress: Progress) -> None:
        progress.advance(self.decoded_s, self.errors)
        self.decoded_s, self.errors = 0.0, 0
        if self.meter is not None and self.true_peak:
            self.meter.raise_peak_floor(progress.share_peak(self.meter.peak_so_far()))

    def finish(self) -> SpanMeasure:
        if self.meter is None:  # not one frame decoded
            self.meter = SpanMeter(self.span.sample_rate or 1, true_peak=self.true_peak)
        return self.meter.finish()


def _timestamp(pts: int | None) -> int:
    if pts is None:
        raise Unsegmentable("a frame without a timestamp")
    return pts
