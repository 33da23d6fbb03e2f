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
) -> Path:
    """An audio-only file of ``samples`` (channels × n, floats in [-1, 1]); FLAC by default, so
    that levels survive exactly (to 16 bits)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sample_rate, layout=layout)
        _encode_audio(out, stream, samples, layout)
    return path


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
    # encoders that take any frame size report 0; 1024 is as good as any for them
    frame_size = stream.codec_context.frame_size or 1024
    formats = {"flac": "s16", "pcm_s16le": "s16"}
    sample_fmt = formats.get(stream.codec_context.name, "fltp")
    for start in range(0, samples.shape[1], frame_size):
        block = samples[:, start : start + frame_size]
        if sample_fmt == "s16":
            # packed: one row of interleaved channels
            data = np.clip(np.round(block.T * 32767), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=layout
            )
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


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
