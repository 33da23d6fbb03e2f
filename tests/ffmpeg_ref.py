"""FFmpeg's own binary (from the ``imageio-ffmpeg`` wheel) as the reference for the enrichers.

The enrichers read media through PyAV; a test that also made and measured its media through PyAV
would check the code against itself.  Here clips are made by the ``ffmpeg`` command line and what
FFmpeg says of a file is read from its own output: ``ffmpeg -i FILE`` prints each stream's codec
name (``codec_name`` in ffprobe) on stderr, and ``ffmpeg -i FILE -f null -`` decodes everything
and prints the time it reached.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg

_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (Audio|Video|Subtitle|Data): (\w+)", re.M)
_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")


def run(*args: str) -> str:
    """Run ``ffmpeg`` with ``args``; its stderr (where it reports)."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stderr


def clip(
    path: Path,
    *,
    seconds: float = 4.0,
    video: str | None = "libx264",
    audio: str | None = "aac",
    noise: bool = False,
    extra: tuple[str, ...] = (),
) -> Path:
    """A clip of ``seconds`` of test pattern (or, with ``noise``, incompressible noise: megabytes
    a second) and a 440 Hz tone, made by ffmpeg; the extension picks the container."""
    inputs: list[str] = []
    codecs: list[str] = []
    if video:
        pattern = (
            "nullsrc=s=320x240:r=25,geq=random(1)*255:128:128"
            if noise
            else "testsrc=s=320x240:r=25"
        )
        inputs += ["-f", "lavfi", "-i", pattern]
        codecs += ["-c:v", video] + (["-q:v", "2"] if video == "mpeg4" else [])
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000"]
        codecs += ["-c:a", audio]
    err = run("-y", *inputs, "-t", str(seconds), *codecs, *extra, str(path))
    if not path.exists():
        raise RuntimeError(f"ffmpeg could not make {path.name}: {err[-500:]}")
    return path


def codec_names(path: Path) -> list[tuple[str, str]]:
    """(stream type, codec name) per stream, as ``ffmpeg -i`` prints them (ffprobe's
    ``codec_name``; the decoder, when it differs, follows in parentheses and is not taken)."""
    return [(kind.lower(), name) for kind, name in _STREAM.findall(run("-i", str(path)))]


def decoded_end_s(path: Path) -> float:
    """How far FFmpeg gets decoding every stream of ``path``: the last ``time=`` it reports."""
    times = _TIME.findall(run("-i", str(path), "-map", "0", "-f", "null", "-"))
    if not times:
        raise RuntimeError(f"ffmpeg decoded nothing of {path.name}")
    hours, minutes, seconds = times[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
