"""Opening a media file with libavformat (PyAV), its failures turned into EnrichmentError codes.

``UNREADABLE`` when the bytes cannot be had (missing, a directory, not a regular file, permission,
an I/O error, a file cut short inside its header); ``NOT_MEDIA`` when they can but FFmpeg finds no
media in them (an empty file, random bytes, text under a media extension);
``IMPLAUSIBLE_DURATION`` when the header declares more than the file can hold (``bounds.py``).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from typing import Any

import av
import av.logging

from retrovue.enrichers.bounds import check_declared, held_bytes
from retrovue.enrichers.errors import NOT_MEDIA, UNREADABLE, EnrichmentError


@dataclass(frozen=True)
class OpenedMedia:
    """An open PyAV input container (close it, or use it in ``with``) and what was checked."""

    container: Any
    size: int
    #: the bytes behind the file (``bounds.held_bytes``)
    held: int
    #: the duration its header declares, in seconds; None when it declares none
    declared_s: float | None


def regular_file(path: str) -> os.stat_result:
    """The stat of the regular file at ``path``; EnrichmentError when it is no media file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise EnrichmentError(UNREADABLE, "no such file") from None
    except PermissionError:
        raise EnrichmentError(UNREADABLE, "permission denied") from None
    except OSError as exc:
        raise EnrichmentError(UNREADABLE, f"cannot stat the file: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise EnrichmentError(UNREADABLE, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        # a FIFO or a device would block or stream forever instead of failing
        raise EnrichmentError(UNREADABLE, "not a regular file")
    if st.st_size == 0:
        raise EnrichmentError(NOT_MEDIA, "empty file (0 bytes)")
    return st


def open_media(
    path: str, *, probe_size: int | None = None, analyze_duration_s: float | None = None
) -> OpenedMedia:
    """``path`` opened; only headers are read and stream parameters probed, and the duration
    they declare is checked against the bytes the file holds."""
    st = regular_file(path)
    options = {}
    if probe_size:
        options["probesize"] = str(int(probe_size))
    if analyze_duration_s:
        options["analyzeduration"] = str(int(analyze_duration_s * 1_000_000))
    try:
        # tags are shown, not interpreted: a mis-encoded one must not fail the whole file
        container = av.open(path, "r", container_options=options, metadata_errors="replace")
    except av.error.InvalidDataError as exc:
        raise EnrichmentError(NOT_MEDIA, f"no media FFmpeg recognises: {reason(exc)}") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise EnrichmentError(UNREADABLE, f"cannot read the file: {reason(exc)}") from None
    opened = OpenedMedia(container, st.st_size, held_bytes(st), declared_duration_s(container))
    try:
        check_declared(opened.declared_s, opened.held)
    except EnrichmentError:
        container.close()
        raise
    return opened


def declared_duration_s(container) -> float | None:
    """The container's duration, else its longest stream's, in seconds; None when neither is
    declared (what ``ffprobe.describe_container`` reports as ``duration_ms``)."""
    if container.duration is not None:
        return container.duration / 1_000_000
    known = [
        float(s.duration * s.time_base)
        for s in container.streams
        if s.duration is not None and s.time_base
    ]
    return max(known) if known else None


def reason(exc: Exception) -> str:
    """FFmpeg's error, with the component's own words when they were logged."""
    if not isinstance(exc, av.error.FFmpegError):
        return getattr(exc, "strerror", None) or str(exc)
    text = exc.strerror or "FFmpeg error"
    if exc.log:
        _level, component, message = exc.log
        text += f" ({component.strip()}: {message.strip()})"
    return text


def enable_error_detail() -> None:
    """Let FFmpeg errors carry the demuxer's reason ("moov atom not found", "EBML header parsing
    failed") instead of the bare "Invalid data found when processing input".

    PyAV records that reason only while FFmpeg logging is on, and logging is process-wide, so this
    is for a worker process (``BaseEnricher.prepare_worker``), never for a caller's.  The log lines
    themselves are dropped: the reason reaches the operator through the stored error.
    """
    libav = logging.getLogger("libav")
    libav.addHandler(logging.NullHandler())
    libav.propagate = False
    av.logging.set_level(av.logging.ERROR)
