"""ITU-R BS.1770-4 loudness arithmetic (EBU R128): K-weighting coefficients, channel weights and
the gated integration, in numpy.

The K-weighting recursion itself runs in libavfilter's ``biquad`` filter at double precision with
the coefficients computed here (see ``loudness.py``): a per-sample recursion in Python would be
about a thousand times slower, and numpy has no recursive filter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

#: (b0, b1, b2, a0, a1, a2) of one biquad section
Biquad = tuple[float, float, float, float, float, float]

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
HOPS_PER_SECOND = 10  # gating blocks step by 100 ms ...
HOPS_PER_BLOCK = 4  # ... and last 400 ms (75 % overlap)
#: BS.1770's offset, which makes a 0 dBFS 997 Hz sine in one front channel read -3.01 LKFS
LOUDNESS_OFFSET = -0.691


def k_weighting(sample_rate: int) -> tuple[Biquad, Biquad]:
    """The two K-weighting stages (high shelf, then RLB high-pass) for ``sample_rate``.

    BS.1770 tabulates them for 48 kHz only; these are the analogue prototypes behind that table
    (as libebur128 derives them) through the bilinear transform, so at 48 kHz they reproduce the
    table and at other rates no resampling is needed.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    )
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    high_pass = (1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    return shelf, high_pass


#: FFmpeg channel names weighted 1.41 (surrounds, backs, top backs), as FFmpeg's ebur128 does
_SURROUND = frozenset({"BL", "BC", "BR", "SL", "SR", "TBL", "TBC", "TBR", "SDL", "SDR"})
_LOW_FREQUENCY = frozenset({"LFE", "LFE2"})


def channel_weights(channel_names: Sequence[str]) -> tuple[float, ...]:
    """BS.1770's G_i per channel: LFE excluded, surrounds 1.41, the rest 1.0."""
    return tuple(
        0.0 if name in _LOW_FREQUENCY else 1.41 if name in _SURROUND else 1.0
        for name in channel_names
    )


def to_db(linear_peak: float) -> float | None:
    """20·log10 of a peak; None for silence (no finite value to store)."""
    return 20 * math.log10(linear_peak) if linear_peak > 0 else None


class GatedLoudness:
    """Integrated loudness of a K-weighted signal, fed in pieces of any length.

    Keeps one sum of channel-weighted power per 100 ms hop (a feature film is ~100k floats), and
    integrates over the 400 ms blocks built from them with the absolute and relative gates.  Hop
    ``h`` holds samples ``ceil(h·fs/10) .. ceil((h+1)·fs/10) - 1``, so rates that are not a
    multiple of 10 Hz still tile exactly.
    """

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.samples = 0
        self._hop_power: list[float] = []

    def add(self, filtered: np.ndarray, weights: Iterable[float]) -> None:
        """``filtered``: K-weighted samples, shape (channels, n), of the next n sample instants."""
        n = filtered.shape[1]
        if n == 0:
            return
        power = np.asarray(tuple(weights), dtype=np.float64) @ (filtered * filtered)
        hop = (np.arange(self.samples, self.samples + n) * HOPS_PER_SECOND) // self.sample_rate
        first = int(hop[0])
        sums = np.bincount(hop - first, weights=power)
        # a piece spans a handful of hops at most; the first may continue the previous piece's last
        for offset, value in enumerate(sums.tolist()):
            index = first + offset
            if index < len(self._hop_power):
                self._hop_power[index] += value
            else:
                self._hop_power.append(value)
        self.samples += n

    def block_power(self) -> np.ndarray:
        """Mean weighted power of every complete 400 ms gating block, in order."""
        complete = self.samples * HOPS_PER_SECOND // self.sample_rate
        if complete < HOPS_PER_BLOCK:
            return np.zeros(0)
        hops = np.asarray(self._hop_power[:complete])
        energy = np.lib.stride_tricks.sliding_window_view(hops, HOPS_PER_BLOCK).sum(axis=1)
        bounds = -((-np.arange(complete + 1, dtype=np.int64) * self.sample_rate) // HOPS_PER_SECOND)
        lengths = bounds[HOPS_PER_BLOCK:] - bounds[:-HOPS_PER_BLOCK]
        return energy / lengths

    def integrated(self) -> tuple[float | None, int]:
        """``(integrated loudness in LUFS, blocks kept by both gates)``; None when nothing is
        above the absolute gate (silence, or less than one 400 ms block)."""
        power = self.block_power()
        with np.errstate(divide="ignore"):
            loudness = LOUDNESS_OFFSET + 10 * np.log10(power)
        kept = loudness > ABSOLUTE_GATE_LUFS
        if not kept.any():
            return None, 0
        relative_gate = LOUDNESS_OFFSET + 10 * math.log10(power[kept].mean()) + RELATIVE_GATE_LU
        kept &= loudness > relative_gate
        return LOUDNESS_OFFSET + 10 * math.log10(power[kept].mean()), int(kept.sum())
