"""The ``loudness`` enricher: EBU R128 integrated loudness and true peak of the first audio stream.

Only that stream is demuxed and decoded.  Each decoded frame goes two ways:
- through a libavfilter graph (convert to double, resample to the stream's first rate if it ever
  changes, the two K-weighting biquads of ``bs1770``), whose output feeds the gated integration;
- through a 4x oversampling resampler (BS.1770-4 Annex 2 asks for at least 4x below 96 kHz;
  libswresample's windowed-sinc interpolator stands in for the Annex's 48-tap FIR), whose largest
  absolute value is the true peak.  The sample peak of the decoded samples is reported too.

A change of channel layout mid-stream (common in broadcast recordings) starts a new filter chain
and keeps integrating; the filter state restarts there, which moves the result by far less than
the 0.1 LU the standard's tests allow.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput, ParamSpec
from retrovue.enrichers.errors import NO_AUDIO, UNREADABLE, EnrichmentError

#: decoded-frame sample formats and the full-scale value of their integers
_FULL_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


class LoudnessEnricher(BaseEnricher):
    type_id = "loudness"
    version = 1
    display_name = "Loudness (EBU R128 integrated loudness, true peak)"
    opt_in = True  # decodes the whole audio track: minutes of CPU per feature film
    #: the ceiling: the pool kills a worker past it, whatever the file (a hang in native code).
    #: Below it each file gets the time its duration needs at bounds.MIN_DECODE_SPEED (10x real
    #: time), so 1,800 s is a 4.9-hour programme decoded at a fifteenth of the speed measured
    #: here (~150x); an implausible header fails at once (bounds.check_declared).
    default_timeout_s = 1800.0

    @classmethod
    def param_spec(cls) -> tuple[ParamSpec, ...]:
        return (
            ParamSpec(
                "true_peak",
                "bool",
                default=True,
                help="measure the true peak (4x oversampled); off reports the sample peak only",
            ),
        )

    @classmethod
    def prepare_worker(cls) -> None:
        from retrovue.enrichers.avopen import enable_error_detail

        enable_error_detail()

    @classmethod
    def hot_columns(cls, data) -> dict[str, Any]:
        """``loudness_lufs``: the integrated loudness, when the result has one (silence has
        none)."""
        value = data.get("integrated_lufs") if hasattr(data, "get") else None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return {"loudness_lufs": float(value)} if ok and abs(value) < float("inf") else {}

    def enrich(self, asset: EnrichInput) -> dict[str, Any]:
        # FFmpeg's libraries load on first use, not when a registry lists this class
        import av

        from retrovue.enrichers.avopen import open_media, reason
        from retrovue.enrichers.bounds import DecodeBound

        opened = open_media(asset.path)
        with opened.container as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None:
                raise EnrichmentError(NO_AUDIO, "no audio stream")
            if stream.codec_context is None:
                raise EnrichmentError(UNREADABLE, "this FFmpeg build has no decoder for the audio")
            for other in container.streams:
                if other is not stream:
                    other.discard = av.stream.Discard.all  # the demuxer skips their packets
            meter = _Meter(true_peak=self.params["true_peak"])
            bound = DecodeBound(opened.declared_s, opened.held)
            decode_errors = 0
            try:
                for packet in container.demux(stream):
                    try:
                        frames = stream.decode(packet)
                    except av.error.InvalidDataError:
                        decode_errors += 1  # a damaged packet costs its few milliseconds only
                        continue
                    for frame in frames:
                        meter.add(frame)
                    bound.check(meter.duration_s)
            except av.error.FFmpegError as exc:
                raise EnrichmentError(
                    UNREADABLE, f"reading the audio failed: {reason(exc)}"
                ) from None
            if meter.samples == 0:
                raise EnrichmentError(UNREADABLE, "no audio could be decoded")
            facts = meter.finish()
            # read while the container is open: a closed one's streams point at freed memory
            facts.update(
                stream_index=stream.index,
                codec=stream.codec_context.name,
                decode_errors=decode_errors,
            )
        return facts


class _Chain:
    """The K-weighting graph and the peak resampler for one run of identically shaped frames."""

    def __init__(self, frame, rate: int, true_peak: bool):
        import av

        from retrovue.enrichers.bs1770 import channel_weights, k_weighting

        self.shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        self.weights = channel_weights([c.name for c in frame.layout.channels])
        graph = av.filter.Graph()
        nodes = [
            graph.add_abuffer(
                sample_rate=frame.sample_rate,
                format=frame.format.name,
                layout=frame.layout.name,
                time_base=Fraction(1, frame.sample_rate),
            ),
            # one rate for the whole integration: a rate change resamples to the first rate
            graph.add("aformat", f"sample_fmts=dblp:sample_rates={rate}"),
        ]
        for b0, b1, b2, a0, a1, a2 in k_weighting(rate):
            nodes.append(
                graph.add(
                    "biquad",
                    f"b0={b0!r}:b1={b1!r}:b2={b2!r}:a0={a0!r}:a1={a1!r}:a2={a2!r}:precision=f64",
                )
            )
        nodes.append(graph.add("abuffersink"))
        graph.link_nodes(*nodes)
        graph.configure()
        self.graph = graph
        self.oversampling = _oversampling(frame.sample_rate) if true_peak else 0
        self.resampler = (
            av.AudioResampler(
                format="flt",
                layout=frame.layout.name,
                rate=frame.sample_rate * self.oversampling,
            )
            if self.oversampling > 1
            else None
        )


class _Meter:
    def __init__(self, *, true_peak: bool):
        self.true_peak = true_peak
        self.samples = 0  # decoded samples per channel, at the stream's own rate(s)
        self.duration_s = 0.0
        self.sample_peak = 0.0
        self.true_peak_linear = 0.0
        self.loudness = None
        self.chain: _Chain | None = None
        self.first: tuple[str, int, int] | None = None  # (layout, channels, rate) at the start

    def add(self, frame) -> None:
        from retrovue.enrichers.bs1770 import GatedLoudness

        if self.loudness is None:
            self.loudness = GatedLoudness(frame.sample_rate)
            self.first = (frame.layout.name, len(frame.layout.channels), frame.sample_rate)
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self.chain is None or self.chain.shape != shape:
            self._drain(flush=True)
            self.chain = _Chain(frame, self.loudness.sample_rate, self.true_peak)
        self.samples += frame.samples
        self.duration_s += frame.samples / frame.sample_rate
        self.sample_peak = max(self.sample_peak, _peak(frame))
        if self.chain.resampler is not None:
            for upsampled in self.chain.resampler.resample(frame):
                self.true_peak_linear = max(self.true_peak_linear, _peak(upsampled))
        # the graph takes frames without timestamps as one continuous signal
        frame.pts = None
        self.chain.graph.push(frame)
        self._drain(flush=False)

    def _drain(self, *, flush: bool) -> None:
        import av

        chain = self.chain
        if chain is None:
            return
        if flush:
            chain.graph.push(None)
            if chain.resampler is not None:
                for upsampled in chain.resampler.resample(None):
                    self.true_peak_linear = max(self.true_peak_linear, _peak(upsampled))
        while True:
            try:
                filtered = chain.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            self.loudness.add(filtered.to_ndarray(), chain.weights)

    def finish(self) -> dict[str, Any]:
        from retrovue.enrichers.bs1770 import to_db

        self._drain(flush=True)
        integrated, blocks = self.loudness.integrated()
        layout, channels, rate = self.first
        oversampling = true_peak = None
        if self.true_peak:
            oversampling = self.chain.oversampling
            # at >= 192 kHz the samples are already 4x a 48 kHz signal's: no oversampling
            true_peak = _round(
                to_db(self.true_peak_linear if oversampling > 1 else self.sample_peak)
            )
        return {
            "integrated_lufs": _round(integrated),
            "true_peak_dbtp": true_peak,
            "sample_peak_dbfs": _round(to_db(self.sample_peak)),
            "gated_blocks": blocks,
            "true_peak_oversampling": oversampling,
            "measured_ms": round(self.duration_s * 1000),
            "sample_rate": rate,
            "channels": channels,
            "channel_layout": layout,
            "standard": "ITU-R BS.1770-4 / EBU R128",
        }


def _oversampling(sample_rate: int) -> int:
    return 4 if sample_rate < 96_000 else 2 if sample_rate < 192_000 else 1


def _peak(frame) -> float:
    """Largest absolute sample of a frame, as a fraction of full scale."""
    data = frame.to_ndarray()
    if data.size == 0:
        return 0.0
    name = frame.format.name.rstrip("p")
    high, low = data.max().item(), data.min().item()  # Python numbers: abs(-32768) would wrap
    if name == "u8":
        high, low = high - 128, low - 128
    peak = float(max(high, -low))
    return peak / _FULL_SCALE[name] if name in _FULL_SCALE else peak


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
