"""Tests of the band-wise spectral-flux baseline on synthetic click tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from drummernet.evaluation.baselines import DEFAULT_BANDS, bandwise_onsets, bandwise_system
from drummernet.evaluation.datasets import Track
from drummernet.evaluation.metrics import score_onsets

SR = 44100

#: Where each synthetic drum puts its energy: inside its detector band, away from the others.
BURST_BANDS = {"KD": (40.0, 120.0), "SD": (400.0, 3000.0), "HH": (9000.0, 16000.0)}

ONSETS = {
    "KD": [0.5, 1.5, 2.5, 3.25, 4.5],
    "SD": [1.0, 2.0, 3.0, 4.0],
    "HH": [0.25, 0.5, 0.75, 1.25, 1.75, 2.25, 2.75, 3.5, 4.25, 4.75],
}


def burst(rng: np.random.Generator, band: tuple[float, float], seconds: float = 0.08):
    """A decaying noise burst band-passed to ``band`` (zero-phase, so it starts on time)."""
    n = int(seconds * SR)
    sos = butter(6, band, btype="bandpass", fs=SR, output="sos")
    envelope = np.exp(-np.arange(n) / SR / 0.02)
    attack = int(0.003 * SR)  # a 3 ms fade-in: a hard edge would click into every band
    envelope[:attack] *= np.sin(np.linspace(0, np.pi / 2, attack)) ** 2
    noise = sosfiltfilt(sos, rng.standard_normal(n)) * envelope
    return noise / np.abs(noise).max()


@pytest.fixture(scope="module")
def click_track() -> np.ndarray:
    rng = np.random.default_rng(0)
    audio = 1e-3 * rng.standard_normal(int(5.5 * SR))
    for label, times in ONSETS.items():
        for time in times:
            hit = burst(rng, BURST_BANDS[label])
            start = int(time * SR)
            audio[start : start + hit.size] += 0.5 * hit
    return audio.astype(np.float32)


def test_finds_each_class_within_20_ms(click_track: np.ndarray) -> None:
    found = bandwise_onsets(click_track, SR)
    assert set(found) == set(DEFAULT_BANDS)
    for label, times in ONSETS.items():
        score = score_onsets(times, found[label], window=0.02)
        assert (score.fp, score.fn) == (0, 0), (label, found[label])


def test_gain_does_not_matter(click_track: np.ndarray) -> None:
    loud, quiet = bandwise_onsets(click_track, SR), bandwise_onsets(click_track * 0.01, SR)
    for label in ONSETS:
        np.testing.assert_allclose(loud[label], quiet[label])


def test_silence_and_low_rates() -> None:
    silent = bandwise_onsets(np.zeros(SR, np.float32), SR)
    assert all(onsets.size == 0 for onsets in silent.values())
    # At 8 kHz the hi-hat band lies above Nyquist: no hi-hats, and no error.
    low = bandwise_onsets(np.random.default_rng(0).standard_normal(8000).astype(np.float32), 8000)
    assert low["HH"].size == 0 and set(low) == set(DEFAULT_BANDS)


def test_system_reads_audio_at_its_own_rate(click_track: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "clicks.flac"
    sf.write(path, click_track, SR)
    found = bandwise_system(Track("clicks", path, {}))
    assert score_onsets(ONSETS["SD"], found["SD"], window=0.02).f1 == 1.0
