"""True peak (ITU-R BS.1770-4 Annex 2), in numpy: the largest absolute value of the signal
oversampled by the Annex's interpolating FIR (48 taps, 4 phases of 12).

Oversampling costs about as much as decoding when done on every sample, and almost none of it
can change the answer: an interpolated value is a 12-tap weighted sum, so it is at most
``GAIN_BOUND`` (the largest sum of a phase's absolute taps, about 2) times the largest of the 12
samples under the filter.  A block whose loudest sample cannot make it is passed over; the others
are cut into sub-blocks of ``SUB_BLOCK`` samples, and only those whose bound exceeds the peak
found so far (the loudest first) are interpolated.  The result is the one interpolating everything
gives (the bound is exact, not a heuristic); on a programme whose peaks are a few moments nearly
every sub-block is skipped, on a dense, limited master most are not.

The interpolation itself is one matrix product per batch of sub-blocks (``interpolated_peak``).
"""

from __future__ import annotations

import numpy as np

#: BS.1770-4 Annex 2, Table 1: the four phases of the 4x interpolating filter.  Phases 2 and 3
#: are 1 and 0 reversed, so which end of a phase multiplies the newest sample does not matter.
_PHASE_0 = (
    0.0017089843750,
    0.0109863281250,
    -0.0196533203125,
    0.0332031250000,
    -0.0594482421875,
    0.1373291015625,
    0.9721679687500,
    -0.1022949218750,
    0.0476074218750,
    -0.0266113281250,
    0.0148925781250,
    -0.0083007812500,
)
_PHASE_1 = (
    -0.0291748046875,
    0.0292968750000,
    -0.0517578125000,
    0.0891113281250,
    -0.1665039062500,
    0.4650878906250,
    0.7797851562500,
    -0.2003173828125,
    0.1015625000000,
    -0.0582275390625,
    0.0330810546875,
    -0.0189208984375,
)
PHASES = np.array([_PHASE_0, _PHASE_1, _PHASE_1[::-1], _PHASE_0[::-1]])
TAPS = PHASES.shape[1]
#: samples before a block that its first interpolated values need
HISTORY = TAPS - 1
GAIN_BOUND = float(np.abs(PHASES).sum(axis=1).max())
SUB_BLOCK = 64


def oversampling(sample_rate: int) -> int:
    """4x below 96 kHz, as the Annex asks; 2x below 192 kHz; none from 192 kHz, whose samples
    are already as dense as a 48 kHz signal oversampled 4x."""
    return 4 if sample_rate < 96_000 else 2 if sample_rate < 192_000 else 1


class TruePeak:
    """The true peak and the sample peak of one run of blocks (one float32 array per channel)."""

    def __init__(self, channels: int, sample_rate: int, *, oversample: bool = True):
        """``oversample=False``: the sample peak only (``true_peak`` is then the sample peak)."""
        self.factor = oversampling(sample_rate) if oversample else 1
        # 2x: every other phase, two interpolated values half a sample apart
        self.phases = PHASES[:: 4 // self.factor].astype(np.float32) if self.factor > 1 else None
        self.matrix = banded(self.phases) if self.phases is not None else None
        self.history = [np.zeros(HISTORY, dtype=np.float32) for _ in range(channels)]
        self.true_peak = 0.0
        self.sample_peak = 0.0

    def add(self, block, *, skip: int = 0) -> None:
        """Feed the next block (a sequence of one array per channel); its first ``skip``
        samples only prime the interpolator's history (a segment's warm-up, measured by the
        segment before)."""
        for channel, samples in enumerate(block):
            if skip:
                primer = np.concatenate((self.history[channel], samples[:skip]))
                self.history[channel] = primer[-HISTORY:]
                samples = samples[skip:]
            if samples.shape[0]:
                self._add_channel(channel, samples)

    def _add_channel(self, channel: int, samples: np.ndarray) -> None:
        history = self.history[channel]
        self.history[channel] = np.concatenate((history, samples[-HISTORY:]))[-HISTORY:]
        peak = _abs_max(samples)
        self.sample_peak = max(self.sample_peak, peak)
        if self.phases is None:
            self.true_peak = max(self.true_peak, peak)
            return
        if max(peak, _abs_max(history)) * GAIN_BOUND <= self.true_peak:
            return  # nothing in this block can be above the peak found so far
        padded = np.concatenate((history, samples))
        whole = samples.shape[0] // SUB_BLOCK * SUB_BLOCK
        if whole:
            self._add_sub_blocks(padded[: whole + HISTORY])
        if whole < samples.shape[0]:
            tail = _rows(padded[whole:], samples.shape[0] - whole + HISTORY, 1)
            self.true_peak = max(self.true_peak, interpolated_peak(tail, self.phases, self.matrix))

    def _add_sub_blocks(self, padded: np.ndarray) -> None:
        """Interpolate the sub-blocks that could hold a value above the peak found so far."""
        count = (padded.shape[0] - HISTORY) // SUB_BLOCK
        # the largest sample under each sub-block's filter windows: its own and the 11 before
        magnitude = np.abs(padded)
        own = np.maximum.reduceat(magnitude[HISTORY:], np.arange(0, count * SUB_BLOCK, SUB_BLOCK))
        before = np.concatenate(([magnitude[:HISTORY].max()], own[:-1]))
        reach = np.maximum(own, before) * GAIN_BOUND
        windows = _rows(padded, SUB_BLOCK + HISTORY, count)  # a view, one row per sub-block
        # the loudest sub-block first: its peak is usually the block's, and it rules out most
        loudest = int(reach.argmax())
        if reach[loudest] > self.true_peak:
            peak = interpolated_peak(windows[loudest : loudest + 1], self.phases, self.matrix)
            self.true_peak = max(self.true_peak, peak)
        chosen = np.flatnonzero(reach > self.true_peak)
        if chosen.size:
            peak = interpolated_peak(windows[chosen], self.phases, self.matrix)
            self.true_peak = max(self.true_peak, peak)


def _rows(samples: np.ndarray, width: int, count: int) -> np.ndarray:
    """``count`` rows of ``width`` samples, row r from sample r·SUB_BLOCK: a read-only view."""
    step = samples.strides[0]
    return np.lib.stride_tricks.as_strided(
        samples, shape=(count, width), strides=(SUB_BLOCK * step, step), writeable=False
    )


def interpolated_peak(windows: np.ndarray, phases: np.ndarray, matrix: np.ndarray) -> float:
    """The largest absolute interpolated value over ``windows`` (rows of HISTORY samples of
    history, then the samples whose interpolated values are wanted); ``matrix`` is
    ``banded(phases)``."""
    length = windows.shape[-1] - HISTORY
    if length <= 0:
        return 0.0
    if length % ROW:
        # a few samples at the end of a block: one output per window of 12 samples
        step = windows.strides[-1]
        taps = np.lib.stride_tricks.as_strided(
            windows,
            shape=(*windows.shape[:-1], length, TAPS),
            strides=(*windows.strides[:-1], step, step),
            writeable=False,
        )
        values = taps @ phases[:, ::-1].T
    else:
        # every ROW outputs of every phase from one window of ROW + HISTORY samples: a product
        # with a small banded matrix.  The windows overlap, so numpy runs its own loop rather
        # than BLAS, whose threads would only fight the segment threads for the cores.
        step = windows.strides[-1]
        rows = np.lib.stride_tricks.as_strided(
            windows,
            shape=(*windows.shape[:-1], length // ROW, ROW + HISTORY),
            strides=(*windows.strides[:-1], ROW * step, step),
            writeable=False,
        )
        values = rows @ matrix
    return max(float(values.max()), -float(values.min()))


#: interpolated values per row of ``interpolated_peak``'s product
ROW = 8


def banded(phases: np.ndarray) -> np.ndarray:
    """(ROW + HISTORY) × (phases · ROW): a window of ROW + HISTORY samples times this gives
    the ROW interpolated values of each phase (column p·ROW + r: output r of phase p, whose
    newest sample is window sample r + HISTORY)."""
    matrix = np.zeros((ROW + HISTORY, len(phases) * ROW), dtype=np.float32)
    for p, taps in enumerate(phases):
        for r in range(ROW):
            matrix[r + HISTORY - np.arange(TAPS), p * ROW + r] = taps
    return matrix


def _abs_max(block: np.ndarray) -> float:
    return max(float(block.max()), -float(block.min())) if block.size else 0.0
