"""The loudness enricher's parts and facts (issue 20, DESIGN §11)."""

from __future__ import annotations

import numpy as np
import pytest

from retrovue.enrichers.truepeak import PHASES, TruePeak

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
