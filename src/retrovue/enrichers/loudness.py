"""The ``loudness`` enricher: EBU R128 integrated loudness, loudness range and true peak of the
first audio stream, as FFmpeg's own ``ebur128`` filter measures them (within 0.1 LU).

Only that stream is demuxed (the demuxer skips the other streams' packets) and decoded; a
libavfilter graph turns the frames into blocks of planar float and K-weights them
(``loudmeter.py``); numpy sums each block's channel-weighted power per 100 ms hop for the gating
and the loudness range (``bs1770.py``) and finds its true peak with BS.1770-4 Annex 2's 4x
interpolator, only where a value above the peak so far is possible (``truepeak.py``).  A long
programme is read in one-minute segments, as many side by side as there are cores, whose hop
energies add up (``reading.py``, ``spans.py``).

A file without an audio stream is a fact, not a failure: ``audio: false`` with no loudness, as
silence has none.
"""

from __future__ import annotations

from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput, ParamSpec
from retrovue.enrichers.errors import UNREADABLE, EnrichmentError

STANDARD = "ITU-R BS.1770-4 / EBU R128 / EBU Tech 3342"


class LoudnessEnricher(BaseEnricher):
    type_id = "loudness"
    #: 2: unlabeled channels weighted as FFmpeg weighs them (and K-weighted at all), codec
    #: names, the loudness range, a file without audio a fact (``audio: false``), not NO_AUDIO
    version = 2
    display_name = "Loudness (EBU R128 integrated loudness, loudness range, true peak)"
    opt_in = True  # decodes the whole audio track: minutes of CPU per feature film
    #: the ceiling: the pool kills a worker past it, whatever the file (a hang in native code).
    #: Below it each file gets the time its duration needs at bounds.MIN_DECODE_SPEED (10x real
    #: time), so 1,800 s is a 4.9-hour programme measured at a fiftieth of the speed measured
    #: here (~500x real time on a loaded 2-core machine); an implausible header fails at once
    #: (bounds.check_declared).
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
        from retrovue.enrichers.avopen import open_media
        from retrovue.enrichers.reading import measure_stream
        from retrovue.enrichers.spans import cores

        opened = open_media(asset.path)
        with opened.container as container:
            stream = _audio_stream(container)
            if stream is None:
                return no_audio_facts()
            about = {"stream_index": stream.index, "codec": codec_name(stream)}
            reading = measure_stream(
                asset.path, opened, stream, true_peak=self.params["true_peak"], cores=cores()
            )
        facts = facts_of(reading.measures, true_peak=self.params["true_peak"])
        return {**facts, **about, "decode_errors": reading.damaged_packets}


def _audio_stream(container):
    """The first audio stream, the only one the demuxer then reads; None when there is none."""
    from retrovue.enrichers.reading import only

    stream = next(iter(container.streams.audio), None)
    if stream is None:
        return None
    if stream.codec_context is None:
        raise EnrichmentError(UNREADABLE, "this FFmpeg build has no decoder for the audio")
    only(container, stream)
    return stream


def codec_name(stream) -> str:
    """The codec's name, as ffprobe's ``codec_name`` gives it (``mp3``), not the decoder's
    (``mp3float``)."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def no_audio_facts() -> dict[str, Any]:
    return {
        "audio": False,
        "integrated_lufs": None,
        "loudness_range_lu": None,
        "true_peak_dbtp": None,
        "sample_peak_dbfs": None,
        "gated_blocks": 0,
        "measured_ms": 0,
        "standard": STANDARD,
    }


def facts_of(measures, *, true_peak: bool) -> dict[str, Any]:
    """The stored facts of a stream's span measures (in stream order)."""
    from retrovue.enrichers.bs1770 import combined_energy, integrated, loudness_range, to_db

    measured = [m for m in measures if m.samples]
    if not measured:
        raise EnrichmentError(UNREADABLE, "no audio could be decoded")
    shape, rate = measured[0].shape, measured[0].energy.sample_rate
    energy = combined_energy(m.energy for m in measured)
    end = measured[-1].end_sample
    loudness, blocks = integrated(energy, end, rate)
    sample_peak = max(m.sample_peak for m in measured)
    oversampling = measured[-1].oversampling if true_peak else None
    peak = max(m.true_peak for m in measured) if true_peak else None
    return {
        "audio": True,
        "integrated_lufs": _round(loudness),
        "loudness_range_lu": _round(loudness_range(energy, end, rate)),
        "true_peak_dbtp": _round(to_db(peak)) if peak is not None else None,
        "sample_peak_dbfs": _round(to_db(sample_peak)),
        "gated_blocks": blocks,
        "true_peak_oversampling": oversampling,
        "measured_ms": round(sum(m.samples for m in measured) / rate * 1000),
        "sample_rate": rate,
        "channels": shape.channels,
        "channel_layout": shape.layout,
        "channel_layout_guessed": shape.guessed,
        "standard": STANDARD,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
