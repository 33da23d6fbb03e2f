"""Where a file really stops playing: its playable end, found without decoding a frame.

A header is a claim about the whole file, and a copy or download cut short keeps an intact header:
the first third of a 4 s Matroska file still declares 4.02 s, and a scheduler that trusts it plays
dead air.  What really plays is up to the last packet whose bytes the file holds.  Found cheaply,
by the container's family:

- ``index``: ISO-BMFF (MP4, MOV, M4A) and other formats whose header indexes every packet (its
  byte position and size).  The first packet past the end of the file is found by a binary search
  of that index, read from memory: no byte of media is read.
- ``tail``: Matroska and WebM, whose header holds no such index (the cues come at the end, and
  a cut-short file lost them).  The demuxer is shown the file's header followed by only its last
  ``TAIL_BYTES``; it resyncs on the first cluster there (clusters carry absolute timestamps) and
  reads packets to the end.  The tail grows (up to ``MAX_TAIL_BYTES``) only while it holds no
  complete cluster.
- anything else is not checked (``None``): FFmpeg already measures the end of AVI, MPEG-TS,
  MPEG-PS and WAV from their data, not from a header.

Only audio and video streams count (not cover art, subtitles or data tracks), and the playable
end is the latest of theirs, in seconds from the container's start.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

#: how much shorter than declared a file may play before it is called truncated: containers
#: round, and audio and video end a frame or two apart
TOLERANCE_S = 1.0
#: the tail of a Matroska file the demuxer is shown first, and the most it is ever shown: a
#: cluster is at most 5 s (FFmpeg's muxer, mkvmerge), 8 MB at 13 Mbit/s
TAIL_BYTES = 1 << 20
MAX_TAIL_BYTES = 32 << 20
#: how far before the first packet its cluster's header can start (ID, size, timestamp, CRC)
CLUSTER_HEADER_BYTES = 4096
_CLUSTER_ID = b"\x1f\x43\xb6\x75"
_MATROSKA, _ISO_BMFF = "matroska", "mov"
#: libavformat's least: 32 bytes probed, no media analysed
_NO_PROBING = {"probesize": "32", "analyzeduration": "0"}


@dataclass(frozen=True)
class PlayableEnd:
    """``end_s``: seconds from the container's start to the end of its last packet the file
    holds whole; None when it could not be told.  ``method``: ``index`` or ``tail`` (None: not
    checked).  ``bytes_read``: media bytes read to find it, beyond the header already open."""

    end_s: float | None
    method: str | None = None
    bytes_read: int = 0


def playable_end(container, path: str, size: int) -> PlayableEnd:
    """The playable end of the open PyAV input ``container`` reading ``path`` (``size`` bytes)."""
    streams = media_streams(container)
    if not streams:
        return PlayableEnd(None)
    start_s = (container.start_time or 0) / 1_000_000
    family = container.format.name.split(",")[0]
    if family == _ISO_BMFF:
        end = index_end(streams, size)
        if end is None:
            return PlayableEnd(None)
        return PlayableEnd(end - start_s, "index")
    if family == _MATROSKA:
        return _relative(tail_end(container, path, size), start_s)
    return PlayableEnd(None)


def media_streams(container) -> list:
    """The audio and video streams, cover art left out."""
    from av.stream import Disposition

    attached = Disposition.attached_pic.value
    return [
        s
        for s in container.streams
        if s.type in ("audio", "video") and not int(s.disposition) & attached
    ]


def _relative(found: PlayableEnd, start_s: float) -> PlayableEnd:
    if found.end_s is None:
        return found
    return PlayableEnd(found.end_s - start_s, found.method, found.bytes_read)


# -- index: formats whose header places every packet ----------------------------------------------


def index_end(streams, size: int) -> float | None:
    """The latest stream end the index shows, in the container's seconds; None when some stream
    has no usable index (no sizes, or entries that stop well before its end: a fragmented MP4
    indexes its first fragment only)."""
    ends = [_stream_index_end(stream, size) for stream in streams]
    return None if any(end is None for end in ends) else max(ends)


def _stream_index_end(stream, size: int) -> float | None:
    entries, tb = stream.index_entries, stream.time_base
    count = len(entries) if entries is not None else 0
    if not count or not tb:
        return None
    last = entries[count - 1]
    if last.size <= 0:
        return None  # positions without sizes (cues) cannot say what the file holds
    if last.pos + last.size <= size:
        declared_end = _stream_end(stream)
        if declared_end is not None and float(last.timestamp * tb) < declared_end - TOLERANCE_S:
            return None  # the index stops short of the stream: it does not cover it
        return declared_end if declared_end is not None else float(last.timestamp * tb)
    missing = _first_missing(entries, count, size)
    # the first packet the file lacks starts where playback stops
    return float(entries[missing].timestamp * tb)


def _first_missing(entries, count: int, size: int) -> int:
    """The first entry whose bytes run past ``size`` (the last one does): packets are laid out
    in the order they play, so a binary search, touching ~log2(count) entries."""
    lo, hi = 0, count - 1
    while lo < hi:
        mid = (lo + hi) // 2
        entry = entries[mid]
        if entry.pos + entry.size > size:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _stream_end(stream) -> float | None:
    if stream.duration is None or not stream.time_base:
        return None
    return float(((stream.start_time or 0) + stream.duration) * stream.time_base)


# -- tail: Matroska, read from its header and its last bytes ---------------------------------------


def tail_end(container, path: str, size: int) -> PlayableEnd:
    """The end of the last whole packet in the file's tail, the tail growing while it holds no
    packet; the bytes read include the first cluster's, found from the open ``container``."""
    cluster, read = first_cluster(container, path)
    if cluster is None:
        return PlayableEnd(None, None, read)
    tail = TAIL_BYTES
    while True:
        view = SplicedFile(path, cluster, max(cluster, size - tail))
        try:
            end = _last_packet_end(view)
        finally:
            view.close()
        read += view.bytes_read
        covered = view.tail_start == cluster
        if end is not None or covered or tail >= MAX_TAIL_BYTES:
            # with the whole file shown and no packet found, nothing plays
            return PlayableEnd(0.0 if end is None and covered else end, "tail", read)
        tail *= 2


def first_cluster(container, path: str) -> tuple[int | None, int]:
    """(the byte position of the first cluster, or None; the bytes read to find it): the first
    packet's position, then its cluster's ID just before it."""
    import av

    try:
        packet = next((p for p in container.demux() if p.pos is not None and p.pos >= 0), None)
    except av.error.FFmpegError:
        packet = None  # nothing to find the tail by: not checked, not failed here
    if packet is None:
        return None, 0
    start = max(0, packet.pos - CLUSTER_HEADER_BYTES)
    with open(path, "rb") as f:
        f.seek(start)
        before = f.read(packet.pos - start)
    found = before.rfind(_CLUSTER_ID)
    return (None if found < 0 else start + found), packet.size + len(before)


def _last_packet_end(view: SplicedFile) -> float | None:
    """The end of the last audio or video packet the view holds whole, in seconds."""
    import av

    # per stream, the latest end in its own ticks: Fraction arithmetic per packet would cost
    # more than the demuxing
    ends: dict[int, int] = {}
    time_bases = {}
    try:
        # the stream parameters are the open container's business: probing them here would
        # decode frames (FFmpeg guesses an H.264 decode delay by decoding)
        with av.open(view, "r", container_options=_NO_PROBING) as spliced:
            time_bases = {s.index: s.time_base for s in media_streams(spliced)}
            for stream in spliced.streams:
                if stream.index not in time_bases:  # the demuxer skips their packets
                    stream.discard = av.stream.Discard.all
            for packet in spliced.demux():
                _take(packet, view.size, ends)
    except av.error.FFmpegError:
        pass  # a damaged tail ends what can be read, not the check
    known = [float(ticks * time_bases[i]) for i, ticks in ends.items() if time_bases.get(i)]
    return max(known) if known else None


def _take(packet, size: int, ends: dict[int, int]) -> None:
    """Count ``packet``'s end in ``ends`` when the file holds it whole."""
    pts = packet.pts
    if pts is None or packet.size == 0 or packet.is_corrupt:
        return
    if packet.pos is not None and packet.pos + packet.size > size:
        return  # cut by the end of the file: not played
    index = packet.stream_index
    end = pts + (packet.duration or 0)
    if end > ends.get(index, end - 1):
        ends[index] = end


class SplicedFile(io.RawIOBase):
    """A read-only view of ``path``: its bytes before ``head_end``, then those from
    ``tail_start`` on, as one file; counts what it reads."""

    def __init__(self, path: str, head_end: int, tail_start: int):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the view
        self.head_end, self.tail_start = head_end, tail_start
        self.size = head_end + os.fstat(self._file.fileno()).st_size - tail_start
        self.position = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        remaining = self.size - self.position
        if remaining <= 0:
            return b""
        n = remaining if n is None or n < 0 else min(n, remaining)
        if self.position < self.head_end:
            n, real = min(n, self.head_end - self.position), self.position
        else:
            real = self.tail_start + self.position - self.head_end
        self._file.seek(real)
        data = self._file.read(n)
        self.position += len(data)
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        self._file.close()
        super().close()
