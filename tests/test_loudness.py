"""The loudness enricher against FFmpeg's own measurement (issue 20, DESIGN §11): a matrix of clips
made by tests/media.py, each measured by the ffmpeg binary of the ``imageio-ffmpeg`` wheel
(``ebur128=peak=true``: its summary's I, LRA and true peak, and the codec its ``-i`` names) and
by retrovue; pyloudnorm is a second, independent reference where its channel weights apply.
Then what makes the measurement fast must not change it: segments read side by side measure what
one reading does, and the true peak's pruning finds what interpolating every sample finds."""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass

import imageio_ffmpeg
import numpy as np
import pyloudnorm
import pytest

from retrovue.enrichers import spans
from retrovue.enrichers.avopen import open_media
from retrovue.enrichers.base import EnrichInput
from retrovue.enrichers.loudness import LoudnessEnricher, _audio_stream, facts_of
from retrovue.enrichers.reading import measure_stream
from retrovue.enrichers.truepeak import PHASES, TruePeak
from tests import media

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

#: BS.1770 and EBU Tech 3341 allow ±0.1 LU for the integrated loudness
LU = 0.1
#: two true-peak meters with different interpolators (BS.1770-4 Annex 2's 48-tap FIR here,
#: FFmpeg's resampler to 192 kHz there) agree to a few hundredths of a dB on programme audio;
#: Tech 3341 allows +0.2/-0.4 dB against the true value
TRUE_PEAK_DB = 0.2
#: FFmpeg takes its loudness-range percentiles from a histogram, retrovue as EBU Tech 3342's
#: pseudo-code does; on a few seconds they differ by a tenth or two (Tech 3342 allows ±1 LU)
LRA_LU = 0.5


@dataclass(frozen=True)
class Ebur128:
    integrated: float  # LUFS; FFmpeg prints -70.0 when no block passes the gates
    lra: float
    true_peak: float  # dBTP, -inf for silence
    codec: str  # the codec ffmpeg -i names for the first audio stream


def ffmpeg_ebur128(path) -> Ebur128:
    command = [FFMPEG, "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true"]
    log = subprocess.run(
        [*command, "-f", "null", "-"], capture_output=True, text=True, check=True
    ).stderr
    summary = log[log.rindex("Summary:") :]

    def value(label: str) -> float:
        return float(re.search(label + r":\s+(-?[\d.]+|-inf)", summary).group(1))

    codec = re.search(r"Stream #0:\d+\S*: Audio: (\w+)", log).group(1)
    return Ebur128(value("I"), value("LRA"), value("Peak"), codec)


def loudness(path) -> dict:
    return LoudnessEnricher().enrich(EnrichInput("a1", str(path)))


# -- the matrix -----------------------------------------------------------------------------------

P = media.programme
CLIPS = {
    "AAC stereo, MP4": ("aac.mp4", lambda p: media.write_audio(p, P(8), codec="aac")),
    "AC-3 5.1, Matroska": (
        "ac3.mkv",
        lambda p: media.write_audio(p, P(8, channels=6), codec="ac3", layout="5.1"),
    ),
    "MP2 mono 44.1 kHz": (
        "mono.mp2",
        lambda p: media.write_audio(
            p, P(8, channels=1, sample_rate=44_100), codec="mp2", layout="mono", sample_rate=44_100
        ),
    ),
    "Opus stereo, Matroska": ("opus.mka", lambda p: media.write_audio(p, P(8), codec="libopus")),
    "MP3 32 kHz in MP4": (
        "mp3.mp4",
        lambda p: media.write_audio(
            p, P(8, sample_rate=32_000), codec="libmp3lame", sample_rate=32_000
        ),
    ),
    "16-bit PCM stereo, labelled (MOV)": (
        "pcm16.mov",
        lambda p: media.write_audio(p, P(8), codec="pcm_s16le"),
    ),
    "16-bit PCM stereo, unlabelled (Matroska)": (
        "pcm16.mkv",
        lambda p: media.write_audio(p, P(8), codec="pcm_s16le"),
    ),
    "16-bit PCM stereo, unlabelled (WAV)": (
        "pcm16.wav",
        lambda p: media.write_audio(p, P(8), codec="pcm_s16le"),
    ),
    "16-bit PCM 5.1, unlabelled (Matroska)": (
        "pcm16-6ch.mkv",
        lambda p: media.write_audio(p, P(8, channels=6), codec="pcm_s16le", layout="5.1"),
    ),
    "16-bit PCM, 9 channels, unlabelled (Matroska)": (
        "pcm16-9ch.mkv",
        lambda p: media.write_audio(
            p, P(8, channels=9), codec="pcm_s16le", layout="FL+FR+FC+LFE+BL+BR+FLC+FRC+BC"
        ),
    ),
    "24-bit PCM stereo (WAV)": (
        "pcm24.wav",
        lambda p: media.write_audio(p, P(8), codec="pcm_s24le"),
    ),
    "FLAC 96 kHz": (
        "96k.flac",
        lambda p: media.write_audio(p, P(8, sample_rate=96_000), sample_rate=96_000),
    ),
    "FLAC 22.05 kHz": (
        "22k.flac",
        lambda p: media.write_audio(p, P(8, sample_rate=22_050), sample_rate=22_050),
    ),
    "video of variable frame rate, AAC": ("vfr.mkv", lambda p: media.write_vfr(p, P(8))),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {name: make(folder / filename) for name, (filename, make) in CLIPS.items()}


@pytest.mark.parametrize("name", list(CLIPS))
def test_loudness_matches_ffmpeg_ebur128(clips, name):
    """Integrated loudness within 0.1 LU of FFmpeg's ebur128, true peak and loudness range within
    the tolerances above, and the codec named as FFmpeg names it (mp3, not mp3float)."""
    facts, reference = loudness(clips[name]), ffmpeg_ebur128(clips[name])
    assert facts["integrated_lufs"] == pytest.approx(reference.integrated, abs=LU)
    assert facts["true_peak_dbtp"] == pytest.approx(reference.true_peak, abs=TRUE_PEAK_DB)
    assert facts["loudness_range_lu"] == pytest.approx(reference.lra, abs=LRA_LU)
    assert facts["codec"] == reference.codec
    assert facts["audio"] is True and facts["gated_blocks"] > 0


@pytest.mark.parametrize(
    "name",
    ["16-bit PCM stereo, unlabelled (Matroska)", "16-bit PCM stereo, unlabelled (WAV)"],
)
def test_unlabelled_stereo_is_read_as_stereo(clips, name):
    """A file that does not label its two channels is measured as stereo, as FFmpeg and
    pyloudnorm (which weights channels by position) measure it, and says the layout was
    guessed."""
    facts = loudness(clips[name])
    assert (facts["channel_layout"], facts["channel_layout_guessed"]) == ("stereo", True)
    assert facts["integrated_lufs"] == pytest.approx(pyloudnorm_lufs(clips[name]), abs=LU)
    labelled = loudness(clips["16-bit PCM stereo, labelled (MOV)"])
    assert labelled["channel_layout_guessed"] is False
    assert facts["integrated_lufs"] == labelled["integrated_lufs"]


def pyloudnorm_lufs(path) -> float:
    """pyloudnorm's integrated loudness of the file's first audio stream, decoded by ffmpeg."""
    command = [FFMPEG, "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    with open_media(str(path)).container as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        channels = len(stream.codec_context.layout.channels)
    samples = np.frombuffer(raw, dtype=np.float32).reshape(-1, channels).astype(np.float64)
    return pyloudnorm.Meter(rate).integrated_loudness(samples)


def test_unlabelled_channels_weigh_as_ffmpeg_guesses_them(clips):
    """Six unlabelled channels are FFmpeg's default 5.1: the fourth is the LFE (weight 0), the
    last two surrounds (1.41), as ffmpeg weighs them (the matrix above compares the numbers);
    nine have no default layout, and FFmpeg weighs them all 1.0, as retrovue does."""
    facts = loudness(clips["16-bit PCM 5.1, unlabelled (Matroska)"])
    assert (facts["channel_layout"], facts["channel_layout_guessed"]) == ("5.1", True)
    facts = loudness(clips["16-bit PCM, 9 channels, unlabelled (Matroska)"])
    assert (facts["channel_layout"], facts["channels"]) == ("9 channels", 9)


def test_silence_has_no_loudness_as_ffmpeg_finds_none(tmp_path):
    """Digital silence: no block passes the absolute gate (FFmpeg prints its floor, -70 LUFS, and
    a true peak of -inf); retrovue stores no loudness and no peak, not a number."""
    path = media.write_audio(tmp_path / "silence.flac", np.zeros((2, 3 * 48_000)))
    reference, facts = ffmpeg_ebur128(path), loudness(path)
    assert reference.integrated == -70.0 and reference.true_peak == -math.inf
    assert facts["integrated_lufs"] is None and facts["true_peak_dbtp"] is None
    assert facts["loudness_range_lu"] is None and facts["gated_blocks"] == 0
    assert facts["audio"] is True and facts["measured_ms"] == 3000


def test_a_video_without_audio_is_a_fact_not_a_failure(tmp_path):
    """No audio stream (ffmpeg -i lists none): the enricher succeeds with ``audio: false`` and no
    loudness, as silence has none (it used to fail with NO_AUDIO)."""
    path = media.write_av(tmp_path / "video.mp4", audio=False)
    probe = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    assert "Video:" in probe.stderr and "Audio:" not in probe.stderr
    facts = loudness(path)
    assert facts["audio"] is False
    assert facts["integrated_lufs"] is None and facts["true_peak_dbtp"] is None
    assert LoudnessEnricher.hot_columns(facts) == {}


# -- segments side by side measure what one reading measures ------------------------------------

CONTAINERS = {
    "AAC in MP4": ("aac.mp4", {"codec": "aac"}),
    "AAC in Matroska (1 ms time base)": ("aac.mkv", {"codec": "aac"}),
    "MP2 in MPEG-TS": ("mp2.ts", {"codec": "mp2"}),
    "AC-3, raw": ("raw.ac3", {"codec": "ac3"}),
    "MP3 in MP4": ("mp3.mp4", {"codec": "libmp3lame"}),
    "Opus in Ogg": ("opus.ogg", {"codec": "libopus"}),
    "FLAC": ("flac.flac", {}),
    "16-bit PCM in WAV (packets cut where a seek lands)": ("pcm.wav", {"codec": "pcm_s16le"}),
    "16-bit PCM in Matroska": ("pcm.mkv", {"codec": "pcm_s16le"}),
}


def read(path, cores: int):
    opened = open_media(str(path))
    with opened.container as container:
        stream = _audio_stream(container)
        reading = measure_stream(str(path), opened, stream, true_peak=True, cores=cores)
    return reading, facts_of(reading.measures, true_peak=True)


#: decoders that synthesise noise from a generator a seek restarts (AAC's perceptual noise
#: substitution, AC-3's dither): decoded after a seek, their noise differs, and a peak with it
NOISE_SYNTHESIS = {"AAC in MP4", "AAC in Matroska (1 ms time base)", "AC-3, raw"}


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_segments_measure_what_one_reading_measures(tmp_path, monkeypatch, name):
    """A stream read in four segments (each seeking, warming up, joining its neighbours at the
    same frame, or at the same sample for PCM) gives one sequential reading's facts: the same
    blocks and duration, the loudness to the hundredth, the peaks to the hundredth of a dB, or
    within 0.2 dB where the decoder synthesises noise (measured: up to 0.1 dB for AAC)."""
    filename, options = CONTAINERS[name]
    path = media.write_audio(tmp_path / filename, media.programme(12), **options)
    monkeypatch.setattr(spans, "SEGMENT_S", 100.0)
    whole, one = read(path, cores=2)
    monkeypatch.setattr(spans, "SEGMENT_S", 3.0)
    parts, four = read(path, cores=2)
    assert (whole.segments, parts.segments, parts.workers) == (1, 4, 2)
    assert (four["gated_blocks"], four["measured_ms"]) == (one["gated_blocks"], one["measured_ms"])
    for key in ("integrated_lufs", "loudness_range_lu"):
        assert four[key] == pytest.approx(one[key], abs=0.01)
    peak_db = 0.2 if name in NOISE_SYNTHESIS else 0.01
    for key in ("true_peak_dbtp", "sample_peak_dbfs"):
        assert four[key] == pytest.approx(one[key], abs=peak_db)


def test_the_facts_do_not_depend_on_the_cores(tmp_path, monkeypatch):
    """Segments have a fixed length, whatever the cores: one core or three read the same
    segments and store the same facts, even from a decoder that synthesises noise."""
    monkeypatch.setattr(spans, "SEGMENT_S", 3.0)
    path = media.write_audio(tmp_path / "aac.mp4", media.programme(12), codec="aac")
    (one_core, one), (three_cores, three) = read(path, cores=1), read(path, cores=3)
    assert (one_core.workers, three_cores.workers) == (1, 3)
    assert one == three


def test_a_stream_that_cannot_be_segmented_is_read_once_from_the_start(tmp_path, monkeypatch):
    """When the segments do not join (a timestamp gap, a seek that lands late), the stream is
    measured again in one reading: the facts are one reading's."""
    path = media.write_audio(tmp_path / "flac.flac", media.programme(12))
    monkeypatch.setattr(spans, "SEGMENT_S", 100.0)
    _, expected = read(path, cores=2)
    monkeypatch.setattr(spans, "SEGMENT_S", 3.0)

    def never_join(*_args):
        raise spans.Unsegmentable("test: the segments do not meet")

    monkeypatch.setattr(spans, "check_joins", never_join)
    reading, facts = read(path, cores=2)
    assert reading.segments == 1 and facts == expected


# -- the true peak's pruning -------------------------------------------------------------------


def interpolated_everywhere(signal: np.ndarray, phases: np.ndarray) -> float:
    """Every interpolated value of every channel, in float64: what the pruning must match."""
    peak = 0.0
    for channel in signal:
        padded = np.concatenate((np.zeros(11), channel.astype(np.float64)))
        for taps in phases:
            peak = max(peak, float(np.abs(np.convolve(padded, taps, "valid")).max()))
    return peak


@pytest.mark.parametrize(("rate", "phases"), [(48_000, PHASES), (96_000, PHASES[::2])])
def test_true_peak_pruning_finds_what_interpolating_everything_finds(rate, phases):
    """Sub-blocks are skipped only when no interpolated value in them can exceed the peak so far:
    over blocks of awkward sizes, quiet and loud stretches and a short burst, the result is the
    brute-force interpolation's (4x at 48 kHz, 2x at 96 kHz)."""
    rng = np.random.default_rng(7)
    signal = (rng.standard_normal((2, 200_003)) * 0.05).astype(np.float32)
    signal[:, 120_000:120_050] *= 12  # the burst that holds the peak
    signal[1, 150_000:] *= 0.1
    meter = TruePeak(2, rate)
    for start in range(0, signal.shape[1], 30_001):
        meter.add(list(signal[:, start : start + 30_001]))
    assert meter.true_peak == pytest.approx(interpolated_everywhere(signal, phases), rel=1e-6)
    assert meter.sample_peak == pytest.approx(float(np.abs(signal).max()), rel=1e-7)
    assert meter.factor == 4 // (rate // 48_000)
