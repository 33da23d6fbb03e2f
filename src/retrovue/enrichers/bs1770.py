"""ITU-R BS.1770-4 loudness arithmetic (EBU R128): K-weighting coefficients, channel weights,
and the gated integration and loudness range (EBU Tech 3342) over 100 ms hop energies, in numpy.

The K-weighting recursion itself runs in libavfilter's ``biquad`` filter at double precision with
the coefficients computed here (``loudmeter.py``): a per-sample recursion in Python would be about
a thousand times slower, and numpy has no recursive filter.
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
SHORT_TERM_HOPS = 30  # EBU Tech 3342: short-term loudness over 3 s, stepping by 100 ms
LRA_RELATIVE_GATE_LU = -20.0
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


def default_channel_names(channels: int) -> list[str]:
    """The channels of FFmpeg's default layout for ``channels`` (stereo for 2, 5.1 for 6): what
    the ffmpeg command line assumes, and says so ("Guessed Channel Layout"), when a file does
    not label its channels (PCM in Matroska, WAV or MOV from capture cards)."""
    import av

    # "<n>c" is FFmpeg's own spelling of "the default layout for n channels"
    return [c.name for c in av.AudioLayout(f"{channels}c").channels]


def to_db(linear_peak: float) -> float | None:
    """20·log10 of a peak; None for silence (no finite value to store)."""
    return 20 * math.log10(linear_peak) if linear_peak > 0 else None


def hop_of(sample: int, sample_rate: int) -> int:
    """The 100 ms hop that holds sample number ``sample``: hop ``h`` holds samples
    ``ceil(h·fs/10) .. ceil((h+1)·fs/10) - 1``, so rates that are not a multiple of 10 Hz still
    tile exactly."""
    return sample * HOPS_PER_SECOND // sample_rate


def hop_start(hop: int, sample_rate: int) -> int:
    return -(-hop * sample_rate // HOPS_PER_SECOND)


class HopEnergy:
    """The channel-weighted energy of a K-weighted signal per 100 ms hop, fed in consecutive
    pieces from the sample numbered ``first_sample`` on (a segment of a longer signal starts
    anywhere; its first and last hops are partial, and add up with its neighbours')."""

    def __init__(self, sample_rate: int, first_sample: int = 0):
        self.sample_rate = sample_rate
        self.first_hop = hop_of(first_sample, sample_rate)
        self.next_sample = first_sample
        self._energy = np.zeros(64)
        self._hops = 0  # entries of _energy in use

    def add(self, channels: Sequence[np.ndarray], weights: Sequence[tuple[int, float]]) -> None:
        """The next samples: ``channels`` K-weighted (one array each), ``weights`` the
        (channel, G_i) pairs that count (an LFE's weight is 0: it is left out)."""
        n = channels[0].shape[0]
        if n == 0:
            return
        start, rate = self.next_sample, self.sample_rate
        first, last = hop_of(start, rate), hop_of(start + n - 1, rate)
        cuts = [0, *(hop_start(h, rate) - start for h in range(first + 1, last + 1)), n]
        hops = len(cuts) - 1
        offset = first - self.first_hop
        self._grow(offset + hops)
        for channel, weight in weights:
            y = channels[channel]
            self._energy[offset : offset + hops] += weight * np.add.reduceat(y * y, cuts[:-1])
        self._hops = max(self._hops, offset + hops)
        self.next_sample += n

    def _grow(self, size: int) -> None:
        if size > self._energy.shape[0]:
            grown = np.zeros(max(size, 2 * self._energy.shape[0]))
            grown[: self._hops] = self._energy[: self._hops]
            self._energy = grown

    @property
    def energy(self) -> np.ndarray:
        """Energy per hop, from ``first_hop`` on."""
        return self._energy[: self._hops]


def combined_energy(parts: Iterable[HopEnergy]) -> np.ndarray:
    """The energy per hop from hop 0 of consecutive segments' HopEnergy (a hop split between two
    segments adds up)."""
    parts = list(parts)
    size = max((p.first_hop + len(p.energy) for p in parts), default=0)
    total = np.zeros(size)
    for part in parts:
        total[part.first_hop : part.first_hop + len(part.energy)] += part.energy
    return total


def window_power(energy: np.ndarray, samples: int, sample_rate: int, hops: int) -> np.ndarray:
    """Mean weighted power of every complete window of ``hops`` hops, stepping by one hop, over a
    signal of ``samples`` samples (``energy``: per hop from hop 0)."""
    complete = hop_of(samples, sample_rate)  # the last hop may be cut short
    if complete < hops:
        return np.zeros(0)
    summed = np.lib.stride_tricks.sliding_window_view(energy[:complete], hops).sum(axis=1)
    starts = -((-np.arange(complete + 1, dtype=np.int64) * sample_rate) // HOPS_PER_SECOND)
    return summed / (starts[hops:] - starts[:-hops])


def integrated(energy: np.ndarray, samples: int, sample_rate: int) -> tuple[float | None, int]:
    """``(integrated loudness in LUFS, 400 ms blocks kept by both gates)``; None when nothing is
    above the absolute gate (silence, or less than one block)."""
    power = window_power(energy, samples, sample_rate, HOPS_PER_BLOCK)
    with np.errstate(divide="ignore"):
        loudness = LOUDNESS_OFFSET + 10 * np.log10(power)
    kept = loudness > ABSOLUTE_GATE_LUFS
    if not kept.any():
        return None, 0
    relative_gate = LOUDNESS_OFFSET + 10 * math.log10(power[kept].mean()) + RELATIVE_GATE_LU
    kept &= loudness > relative_gate
    return LOUDNESS_OFFSET + 10 * math.log10(power[kept].mean()), int(kept.sum())


def loudness_range(energy: np.ndarray, samples: int, sample_rate: int) -> float | None:
    """EBU Tech 3342 loudness range (LU): the spread between the 10th and 95th percentiles of the
    3 s short-term loudness, stepping by 100 ms, above -70 LUFS and no more than 20 LU under
    their mean; None when no short-term block passes the gates."""
    power = window_power(energy, samples, sample_rate, SHORT_TERM_HOPS)
    power = power[power > 0]
    loudness = LOUDNESS_OFFSET + 10 * np.log10(power)
    kept = loudness > ABSOLUTE_GATE_LUFS
    if not kept.any():
        return None
    relative_gate = LOUDNESS_OFFSET + 10 * math.log10(power[kept].mean()) + LRA_RELATIVE_GATE_LU
    values = np.sort(loudness[kept & (loudness > relative_gate)])
    # Tech 3342's percentiles: the sorted values at the rounded positions, not interpolated
    low = values[int((len(values) - 1) * 0.10 + 0.5)]
    high = values[int((len(values) - 1) * 0.95 + 0.5)]
    return float(high - low)
