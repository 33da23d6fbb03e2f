"""Measuring a run of decoded audio frames: K-weighting, energy per 100 ms hop, true and sample
peaks.

Each frame is pushed into a libavfilter graph, in C from there: conversion to planar float (exact
for every integer format up to 24 bits), resampling to the measuring rate (the rare stream whose
rate changes), gathering into blocks of ``BLOCK_SAMPLES`` (numpy pays a fixed price per call, and
a decoder hands out a thousand samples at a time), then two branches: the samples as they are,
for the peaks, and K-weighted by two ``biquad`` filters at double precision, for the loudness.
Python sees a block per ~0.7 s of audio, not a frame per 20 ms.

A frame that does not label its channels (PCM in Matroska, WAV or MOV from capture cards says
"2 channels", not "stereo") is weighted as FFmpeg's default layout for its channel count, as the
ffmpeg command line does ("Guessed Channel Layout").  A change of channel layout mid-stream
(common in broadcast recordings) makes libavfilter refuse the frame: a new graph takes over and
the integration goes on; the filter state restarts there, which moves the result by far less
than the 0.1 LU the standard's tests allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

# imported only when a file is measured: the registry loads loudness.py, never this module
import av
import numpy as np

from retrovue.enrichers.bs1770 import (
    HopEnergy,
    channel_weights,
    default_channel_names,
    k_weighting,
)
from retrovue.enrichers.truepeak import TruePeak

#: samples per channel in a block: about 1.4 s at 48 kHz, half a megabyte a channel K-weighted
BLOCK_SAMPLES = 65536


@dataclass(frozen=True)
class Shape:
    """What a run of frames has in common: one graph measures one shape."""

    layout: str  # as measured: FFmpeg's default for the channel count when the file has none
    channel_names: tuple[str, ...]
    guessed: bool  # the file did not label its channels

    @classmethod
    def of(cls, frame) -> Shape:
        names = tuple(c.name for c in frame.layout.channels)
        if not names or any(name != "NONE" for name in names):
            return cls(frame.layout.name, names, False)
        try:
            default = av.AudioLayout(f"{len(names)}c").name
        except ValueError:  # no default past 8 channels: FFmpeg weighs them all 1.0, as here
            return cls(frame.layout.name, names, True)
        return cls(default, tuple(default_channel_names(len(names))), True)

    @property
    def channels(self) -> int:
        return len(self.channel_names)


@dataclass
class SpanMeasure:
    """What a span measured (sample positions count from the stream's first sample)."""

    energy: HopEnergy | None  # None: nothing measured
    first_sample: int | None
    end_sample: int | None  # one past the last sample measured
    samples: int
    true_peak: float
    sample_peak: float
    shape: Shape | None  # the first measured
    oversampling: int | None


class _Chain:
    """One shape's graph and measuring state."""

    def __init__(self, frame, rate: int, *, true_peak: bool, peak_floor: float):
        self.shape = Shape.of(frame)
        self.rate = rate
        weights = channel_weights(self.shape.channel_names)
        # channels weighted 0 (LFE) add nothing to the loudness
        self.weights = [(i, w) for i, w in enumerate(weights) if w]
        self.graph, self.source, self.sinks = _graph(frame, rate, self.shape)
        self.peaks = TruePeak(self.shape.channels, rate, oversample=true_peak)
        self.peaks.true_peak = peak_floor  # what is already known lets it skip more
        self.unpulled = 0  # input samples pushed since blocks were last pulled
        self.warm_up = 0  # leading samples pushed as warm-up, not yet pulled
        self.measurable = 0  # samples pushed to be measured, not yet pulled
        self.limited = False  # the last frame is pushed: what follows `measurable` is dropped

    def push(self, frame, warm_up: int, take: int | None) -> bool:
        """Push ``frame``: its first ``warm_up`` samples only prime the filters, then ``take``
        are measured (None: the rest), and nothing after them.  Whether blocks are ready to be
        pulled.  Raises av.error.ArgumentError when the frame's shape is not this graph's."""
        samples = frame.samples
        frame.pts = None  # one continuous signal: timestamps would make it pad or drop
        self.source.push(frame)
        self.unpulled += samples
        self.warm_up += warm_up
        self.measurable += samples - warm_up if take is None else take
        self.limited = take is not None
        return self.unpulled >= BLOCK_SAMPLES

    def blocks(self, *, flush: bool = False):
        """(raw channels, K-weighted channels, samples of warm-up at their start, samples
        measured after them) for every block ready; the channels are read-only views of the
        frames' planes."""
        if flush:
            self.source.push(None)
        self.unpulled = 0
        raw_sink, weighted_sink = self.sinks
        while True:
            try:
                raw = _planes(raw_sink.pull(), np.float32)
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            weighted = _planes(weighted_sink.pull(), np.float64)
            skip = min(self.warm_up, raw[0].shape[0])
            self.warm_up -= skip
            take = raw[0].shape[0] - skip
            if self.limited:
                take = min(take, self.measurable)
            self.measurable -= take
            yield raw, weighted, skip, take


def _planes(frame, dtype) -> list[np.ndarray]:
    """A frame's channels as arrays, without a copy (strided views for a packed frame)."""
    n = frame.samples
    if frame.format.is_planar:
        return [np.frombuffer(plane, dtype, n) for plane in frame.planes]
    channels = len(frame.layout.channels)
    packed = np.frombuffer(frame.planes[0], dtype, n * channels).reshape(n, channels)
    return [packed[:, channel] for channel in range(channels)]


#: PyAV reads a planar frame's first 8 planes only: more channels come out packed
MAX_PLANES = 8


def _graph(frame, rate: int, shape: Shape):
    """abuffer → float at ``rate`` → blocks → (as they are | K-weighting, at double precision)."""
    graph = av.filter.Graph()
    # one thread: the segments are the parallelism; libavfilter's own threads (a channel each
    # in ``biquad``) would only add their hand-offs to every block
    graph.threads = 1
    source = graph.add_abuffer(
        sample_rate=frame.sample_rate,
        format=frame.format.name,
        layout=frame.layout.name,
        time_base=Fraction(1, frame.sample_rate),
    )
    nodes = [source]
    if shape.guessed:
        # labelled (the same channels, in order): ``biquad`` passes a channel it cannot name
        # through unfiltered, which read unlabeled stereo several LU off
        indices = "|".join(str(i) for i in range(shape.channels))
        labels = "+".join(f"USR{i}" for i in range(shape.channels))
        nodes.append(graph.add("channelmap", f"map={indices}:channel_layout={labels}"))
    nodes.append(graph.add("aformat", f"sample_fmts=fltp:sample_rates={rate}"))
    nodes.append(graph.add("asetnsamples", f"n={BLOCK_SAMPLES}:p=0"))
    nodes.append(graph.add("asplit", "2"))
    graph.link_nodes(*nodes)
    packed = shape.channels > MAX_PLANES
    raw = [graph.add("aformat", "sample_fmts=flt")] if packed else []
    weighted = [
        graph.add("biquad", _biquad(section) + ":precision=f64") for section in k_weighting(rate)
    ]
    if packed:
        weighted.append(graph.add("aformat", "sample_fmts=dbl"))
    sinks = graph.add("abuffersink"), graph.add("abuffersink")
    for output, chain in enumerate(([*raw, sinks[0]], [*weighted, sinks[1]])):
        nodes[-1].link_to(chain[0], output, 0)
        if len(chain) > 1:
            graph.link_nodes(*chain)
    graph.configure()
    return graph, source, sinks


def _biquad(section) -> str:
    b0, b1, b2, a0, a1, a2 = section
    return f"b0={b0!r}:b1={b1!r}:b2={b2!r}:a0={a0!r}:a1={a1!r}:a2={a2!r}"


class SpanMeter:
    """Frames in (``push``), a ``SpanMeasure`` out (``finish``), all at one sample rate."""

    def __init__(self, sample_rate: int, *, true_peak: bool):
        self.sample_rate = sample_rate
        self.true_peak_wanted = true_peak
        self.energy: HopEnergy | None = None
        self.chain: _Chain | None = None
        self.first_shape: Shape | None = None
        self.samples = 0
        self.true_peak = 0.0
        self.sample_peak = 0.0

    def begin(self, first_sample: int) -> None:
        """Measure from here on; ``first_sample`` numbers the first sample measured from the
        stream's first.  What is pushed before only primes the filters (a segment's warm-up)."""
        self.energy = HopEnergy(self.sample_rate, first_sample)

    def push(self, frame, *, warm_up: int = 0, take: int | None = None) -> None:
        """Push the next frame: all of it warm-up until ``begin``; after it, its first
        ``warm_up`` samples, then ``take`` measured (None: the rest; a number: the span ends
        there, nothing is pushed after)."""
        if self.energy is None:
            warm_up, take = frame.samples, None
        if self.chain is None:
            self.chain = self._new_chain(frame)
        try:
            ready = self.chain.push(frame, warm_up, take)
        except av.error.ArgumentError:
            # a new shape (layout, format or rate): a fresh graph; the same error twice is real
            self._end_chain()
            self.chain = self._new_chain(frame)
            ready = self.chain.push(frame, warm_up, take)
        if self.energy is not None and self.first_shape is None:
            self.first_shape = self.chain.shape
        if ready:
            self._measure(self.chain.blocks())

    def push_whole(self, frame, samples: int) -> None:
        """``push(frame)`` of a frame measured whole (``samples`` long), in fewer steps: most
        frames of a programme come this way, tens of thousands an hour."""
        chain = self.chain
        if chain is None or self.first_shape is None:
            return self.push(frame)
        frame.pts = None  # as in _Chain.push
        try:
            chain.source.push(frame)
        except av.error.ArgumentError:  # a new shape: push() starts a graph for it
            return self.push(frame)
        chain.unpulled += samples
        chain.measurable += samples
        chain.limited = False
        if chain.unpulled >= BLOCK_SAMPLES:
            self._measure(chain.blocks())

    def peak_so_far(self) -> float:
        """The largest true peak measured so far (0 before anything is measured)."""
        chain = self.chain
        return max(self.true_peak, chain.peaks.true_peak) if chain is not None else self.true_peak

    def raise_peak_floor(self, floor: float) -> None:
        """Another span of the file has a true peak of ``floor``: what cannot exceed it need not
        be oversampled here (this span's true peak may then read ``floor``: the file's is the
        largest of its spans', either way)."""
        chain = self.chain
        if chain is not None and self.energy is not None and floor > chain.peaks.true_peak:
            chain.peaks.true_peak = floor

    def _new_chain(self, frame) -> _Chain:
        floor = self.true_peak if self.energy is not None else 0.0
        return _Chain(frame, self.sample_rate, true_peak=self.true_peak_wanted, peak_floor=floor)

    def _measure(self, blocks) -> None:
        chain = self.chain
        for raw, weighted, skip, take in blocks:
            end = skip + take
            whole = end == raw[0].shape[0]
            chain.peaks.add(raw if whole else [channel[:end] for channel in raw], skip=skip)
            if take:
                self.energy.add([channel[skip:end] for channel in weighted], chain.weights)
                self.samples += take

    def _end_chain(self) -> None:
        if self.chain is not None:
            self._measure(self.chain.blocks(flush=True))
            self.true_peak = max(self.true_peak, self.chain.peaks.true_peak)
            self.sample_peak = max(self.sample_peak, self.chain.peaks.sample_peak)

    def finish(self) -> SpanMeasure:
        self._end_chain()
        energy = self.energy if self.samples else None
        oversampling = None
        if self.chain is not None and self.true_peak_wanted:
            oversampling = self.chain.peaks.factor
        return SpanMeasure(
            energy=energy,
            first_sample=energy.next_sample - self.samples if energy is not None else None,
            end_sample=energy.next_sample if energy is not None else None,
            samples=self.samples,
            true_peak=self.true_peak,
            sample_peak=self.sample_peak,
            shape=self.first_shape,
            oversampling=oversampling,
        )
