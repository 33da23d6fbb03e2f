"""Small real media files for the enricher tests and benchmark, written with PyAV (FFmpeg).

Each writer takes the path (the extension picks the container) and returns it.  The good files
are a second or less of tiny frames, so a test can make dozens; the bad ones are the inputs an
operator's library really holds: empty, cut short, random bytes, text under a media name.
"""

from __future__ import annotations

import math
import os
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "5.1": 6, "5.1(side)": 6}
#: the sample format each test writes with, for encoders that take more than one: FLAC and
#: 16-bit PCM at 16 bits, so that levels survive exactly; 24-bit PCM takes 32-bit samples
SAMPLE_FORMATS = {"flac": "s16", "pcm_s16le": "s16", "pcm_s24le": "s32", "mp2": "s16"}


def write_av(
    path: Path,
    *,
    video: bool = True,
    audio: bool = True,
    seconds: float = 1.0,
    fps: int = 25,
    size: tuple[int, int] = (64, 48),
    video_codec: str = "libx264",
    audio_codec: str = "aac",
    sample_rate: int = 48_000,
    layout: str = "stereo",
    language: str | None = "eng",
    chapters: list[tuple[int, int, str]] = (),
) -> Path:
    """A file of ``seconds`` of grey-ramp video and/or a 440 Hz tone; chapters as (start_ms,
    end_ms, title)."""
    with av.open(str(path), "w") as out:
        vstream = astream = None
        if video:
            vstream = out.add_stream(video_codec, rate=fps)
            vstream.width, vstream.height = size
            vstream.pix_fmt = "yuv420p"
        if audio:
            astream = out.add_stream(audio_codec, rate=sample_rate, layout=layout)
            if language:
                astream.metadata["language"] = language
        if chapters:
            out.set_chapters(
                [
                    {
                        "id": i + 1,
                        "start": start,
                        "end": end,
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": title},
                    }
                    for i, (start, end, title) in enumerate(chapters)
                ]
            )
        if vstream is not None:
            width, height = size
            for i in range(round(seconds * fps)):
                picture = np.full((height, width, 3), (i * 8) % 256, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = i
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        if astream is not None:
            t = np.arange(round(seconds * sample_rate)) / sample_rate
            tone = 0.25 * np.sin(2 * np.pi * 440 * t)
            _encode_audio(out, astream, np.tile(tone, (LAYOUT_CHANNELS[layout], 1)), layout)
    return path


def write_audio(
    path: Path,
    samples: np.ndarray,
    *,
    sample_rate: int = 48_000,
    layout: str = "stereo",
    codec: str = "flac",
    bit_rate: int | None = None,
) -> Path:
    """An audio-only file of ``samples`` (channels × n, floats in [-1, 1]); FLAC by default, so
    that levels survive exactly (to 16 bits).  The container (the extension) decides whether the
    layout is written: PCM in Matroska or WAV is read back as "2 channels", unlabeled."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sample_rate, layout=layout)
        if bit_rate:
            stream.codec_context.bit_rate = bit_rate
        _encode_audio(out, stream, samples, layout)
    return path


def write_vfr(path: Path, samples: np.ndarray, *, sample_rate: int = 48_000) -> Path:
    """A video of variable frame rate (frames 20 to 80 ms apart, as a phone or a screen
    recorder writes them) with ``samples`` as its AAC stereo track; Matroska keeps the times."""
    seconds = samples.shape[1] / sample_rate
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.integers(20, 80, size=round(seconds * 40)))
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        audio = out.add_stream("aac", rate=sample_rate, layout="stereo")
        for i, ms in enumerate(t for t in times if t < seconds * 1000):
            picture = np.full((48, 64, 3), (i * 8) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = int(ms), Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        _encode_audio(out, audio, samples, "stereo")
    return path


def write_empty_audio_track(path: Path) -> Path:
    """A second of video whose AAC audio stream never gets a packet: an audio stream that holds
    no audio (what a recorder that lost its input writes)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        out.add_stream("aac", rate=48_000, layout="stereo")
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), "rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def programme(
    seconds: float, *, channels: int = 2, sample_rate: int = 48_000, seed: int = 0
) -> np.ndarray:
    """Seconds of something like a programme, for comparing meters: in each channel its own
    chord and band-limited noise under a swelling level, a stretch 25 dB down (under the
    relative gate) and a second of silence (under the absolute one).  Nothing above ~8 kHz,
    as in most programme audio, so true-peak interpolators of different designs agree."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    smooth = np.hanning(max(3, sample_rate // 4000))
    out = np.empty((channels, n))
    for channel in range(channels):
        tones = sum(
            np.sin(2 * np.pi * rng.uniform(60, 5000) * t + rng.uniform(0, 2 * np.pi))
            for _ in range(3)
        )
        hiss = np.convolve(rng.standard_normal(n), smooth / smooth.sum(), mode="same")
        swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / (3 + channel) + channel)
        out[channel] = (0.15 * tones + 0.8 * hiss / hiss.std()) * 0.1 * swell
    quiet = slice(round(0.55 * n), round(0.7 * n))
    out[:, quiet] *= 10 ** (-25 / 20)
    out[:, n - min(n, sample_rate) :] = 0.0
    return out


def sine(
    frequency: float,
    dbfs: float,
    seconds: float,
    *,
    sample_rate: int = 48_000,
    channels: int = 1,
    phase: float = 0.0,
) -> np.ndarray:
    """A sine of peak amplitude ``dbfs`` (0 dBFS = full scale) in every one of ``channels``."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = 10 ** (dbfs / 20) * np.sin(2 * np.pi * frequency * t + phase)
    return np.tile(wave, (channels, 1))


def faded(samples: np.ndarray, seconds: float = 0.1, *, sample_rate: int = 48_000) -> np.ndarray:
    """``samples`` with linear fades in and out: an abrupt start is a real inter-sample over."""
    n = round(seconds * sample_rate)
    ramp = np.linspace(0.0, 1.0, n)
    envelope = np.ones(samples.shape[1])
    envelope[:n], envelope[-n:] = ramp, ramp[::-1]
    return samples * envelope


def noise(dbfs: float, seconds: float, *, sample_rate: int = 48_000, channels: int = 1, seed=0):
    """Uniform white noise of peak ``dbfs``, independent per channel."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    return 10 ** (dbfs / 20) * rng.uniform(-1.0, 1.0, size=(channels, n))


def _encode_audio(out, stream, samples: np.ndarray, layout: str) -> None:
    sample_rate = stream.codec_context.sample_rate
    context = stream.codec_context
    if not context.is_open:  # with video, the container opened every encoder at its first mux
        context.format = _sample_format(context)
        context.open()  # only an open encoder knows its frame size
    sample_fmt = context.format.name
    # encoders that take any frame size report 0; 1024 is as good as any for them
    frame_size = context.frame_size or 1024
    for start in range(0, samples.shape[1], frame_size):
        frame = _audio_frame(samples[:, start : start + frame_size], sample_fmt, layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _sample_format(codec_context) -> str:
    if codec_context.name in SAMPLE_FORMATS:
        return SAMPLE_FORMATS[codec_context.name]
    supported = [f.name for f in codec_context.codec.audio_formats or ()]
    return next(f for f in ("fltp", "flt", "s16p", "s16") if f in supported)


_INTEGERS = {"s16": (np.int16, 32767), "s32": (np.int32, 2147483647)}


def _audio_frame(block: np.ndarray, sample_fmt: str, layout: str):
    """Samples (channels × n, floats) as a frame of ``sample_fmt``."""
    kind = sample_fmt.rstrip("p")
    if kind in _INTEGERS:
        dtype, top = _INTEGERS[kind]
        data = np.clip(np.round(block * top), -top - 1, top).astype(dtype)
    else:
        data = block.astype(np.float32)
    if not sample_fmt.endswith("p"):
        data = data.T.reshape(1, -1)  # packed: one row of interleaved channels
    return av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=sample_fmt, layout=layout)


# -- bad inputs -----------------------------------------------------------------------------------


def write_zero_bytes(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def write_truncated(path: Path, source: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source``: an interrupted copy or download."""
    data = source.read_bytes()
    path.write_bytes(data[: math.floor(len(data) * fraction)])
    return path


def write_random_bytes(path: Path, size: int = 64 * 1024, seed: int = 1) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_text(path: Path) -> Path:
    path.write_text("These are not the frames you are looking for.\n" * 200, encoding="utf-8")
    return path


def write_sparse_wav(path: Path, apparent_size: int) -> Path:
    """A WAV header whose data chunk runs to the end of the file (its size field 0xFFFFFFFF, as a
    recorder that never finished writes it), then a hole up to ``apparent_size``: FFmpeg reads it
    as hours of silent PCM (64 GiB: 99 hours at 48 kHz stereo) from a file that holds 4 KB.  The
    extension does not matter to FFmpeg, which goes by the content."""
    wav = path.with_name(path.name + ".wav")
    write_audio(wav, np.zeros((2, 480)), codec="pcm_s16le")
    data = bytearray(wav.read_bytes())
    wav.unlink()
    chunk = data.find(b"data")
    data[4:8] = data[chunk + 4 : chunk + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(data)
    os.truncate(path, apparent_size)
    return path


def write_declared_duration(path: Path, source: Path, duration_ms: float) -> Path:
    """A copy of the Matroska file ``source`` whose header (Segment Info, Duration) declares
    ``duration_ms`` (the muxer's time scale is a millisecond), whatever its frames hold."""
    data = bytearray(source.read_bytes())
    element = data.find(b"\x44\x89\x88")  # the Duration element's id, then its size: 8 bytes
    if element < 0:
        raise ValueError(f"{source} has no 8-byte Matroska Duration element")
    data[element + 3 : element + 11] = struct.pack(">d", duration_ms)
    path.write_bytes(data)
    return path
