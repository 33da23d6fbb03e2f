"""How much work one media file may ask for: what its header declares, checked against its bytes.

A header is a claim.  Four kilobytes of a sparse file under a WAV header that says "until the end
of the file" declare 99 hours of audio; a Matroska duration overflowed to 9.2e15 ms declares
292,000 years.  Believed, the first holds a loudness worker until its timeout, and both would be
stored as the facts of a ``ready`` asset.  So a file is held to what it can carry:

- ``check_declared``: the declared duration is in range and the bytes the file really holds could
  carry it at ``MIN_BYTES_PER_S``, else ``IMPLAUSIBLE_DURATION`` before anything is decoded;
- ``DecodeBound``: while decoding, the audio produced stays within what those bytes can carry
  (``IMPLAUSIBLE_DURATION``), and decoding keeps up ``MIN_DECODE_SPEED`` times real time over the
  longer of the declared and the decoded duration (``TIMEOUT``): a per-file timeout that scales
  with the file, under the pool's fixed ceiling (the enricher's ``default_timeout_s``), which
  stays the backstop for a hang inside native code.

No FFmpeg here: plain numbers in, an ``EnrichmentError`` out.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from retrovue.enrichers.errors import IMPLAUSIBLE_DURATION, TIMEOUT, EnrichmentError

#: the fewest bytes a second of real media takes: 4 B/s (32 bit/s).  The leanest real media is
#: speech: Opus at 6 kbit/s is 750 B/s, and silence sent as discontinuous transmission (a packet
#: every 400 ms, framed by its container) still costs tens of bytes a second; FLAC of digital
#: silence measured 177 B/s here.  A floor well under all of them flags only a header that lies
#: (or a file of holes): the 99-hour sparse WAV needs 1.4 MB at 4 B/s and holds 4 KB.
MIN_BYTES_PER_S = 4
#: the longest duration taken as real: 30 days, longer than any programme or recording a
#: broadcast library holds.  Beyond it a duration is garbage (an overflowed 64-bit time).
MAX_DECLARED_S = 30 * 24 * 3600
#: the slowest decoding taken as work, in times real time: 10x.  The loudness enricher measured
#: ~150x here (one worker, a 2-core machine shared with others, true peak on); a tenth of that
#: leaves room for a loaded machine.  Slower, the decoder is spinning, not reading a programme.
MIN_DECODE_SPEED = 10.0
#: time allowed on top, whatever the duration: opening, probing, building filters, a cold disk
GRACE_S = 30.0


def held_bytes(st: os.stat_result) -> int:
    """The bytes behind a file: its size less the holes of a sparse file (``st_blocks`` counts
    the 512-byte units really allocated).  A filesystem that reports no blocks for a non-empty
    file (some FUSE and network mounts) is taken at its size.  A file of pure digital silence on
    a filesystem that stores zeros as holes (ZFS with compression) holds as little as a sparse
    file does, and is judged alike."""
    allocated = getattr(st, "st_blocks", 0) * 512
    return min(st.st_size, allocated) if allocated else st.st_size


def check_declared(declared_s: float | None, held: int) -> None:
    """EnrichmentError(IMPLAUSIBLE_DURATION) unless ``declared_s`` (None: nothing declared) is
    in range and ``held`` bytes could carry it."""
    if declared_s is None:
        return
    if not 0 <= declared_s <= MAX_DECLARED_S:
        raise EnrichmentError(
            IMPLAUSIBLE_DURATION,
            f"the header declares a duration of {span(declared_s)}, out of range "
            f"(0 to {span(MAX_DECLARED_S)})",
        )
    if declared_s * MIN_BYTES_PER_S > held:
        raise EnrichmentError(
            IMPLAUSIBLE_DURATION,
            f"the header declares {span(declared_s)} of media but the file holds only "
            f"{held:,} bytes (under {MIN_BYTES_PER_S} bytes a second: a sparse or cut-short "
            "file, or a corrupt header)",
        )


@dataclass
class DecodeBound:
    """The limits of decoding one file, checked as it goes (``check`` after each packet)."""

    declared_s: float | None
    held: int
    started: float = field(default_factory=time.monotonic)

    def check(self, decoded_s: float) -> None:
        if decoded_s * MIN_BYTES_PER_S > self.held:
            raise EnrichmentError(
                IMPLAUSIBLE_DURATION,
                f"decoding produced {span(decoded_s)} of audio from a file that holds only "
                f"{self.held:,} bytes (a sparse file, or a stream that repeats itself)",
            )
        elapsed = time.monotonic() - self.started
        if elapsed > self.allowed_s(decoded_s):
            raise EnrichmentError(
                TIMEOUT,
                f"decoding ran slower than {MIN_DECODE_SPEED:g}x real time: {span(elapsed)} "
                f"for {span(decoded_s)} of audio"
                + (f" of {span(self.declared_s)} declared" if self.declared_s else ""),
            )

    def allowed_s(self, decoded_s: float) -> float:
        """The time this file may take so far: it grows with the audio decoded, so a header
        that says too little does not cut a real programme short."""
        return GRACE_S + max(self.declared_s or 0.0, decoded_s) / MIN_DECODE_SPEED


def span(seconds: float) -> str:
    """A duration for a message: ``45 s``, ``12 min``, ``99.4 h``, ``1.06e+08 days``."""
    if not 0 <= seconds < 10 * 86400:
        return f"{seconds / 86400:.3g} days" if seconds > 0 else f"{seconds:.3g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
