"""Random production chain for synthetic training audio: room reverb, EQ, compression, noise, gain.

The signal processing is :mod:`drummernet.dsp`'s; this module draws its settings. Every stage is
applied with its own probability, and every range is a named constant here.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from drummernet.constants import SAMPLE_RATE
from drummernet.dsp import biquad, compress, noise, room_impulse_response

#: Room reverb: RT60 range in seconds, probability of being applied, wet-mix range.
REVERB_RT60_RANGE = (0.1, 1.2)
REVERB_PROBABILITY = 0.75
REVERB_WET_RANGE = (0.05, 0.4)
#: Random EQ: probability, gain range of each band in dB.
EQ_PROBABILITY = 0.75
EQ_GAIN_DB = 6.0
#: Compression: probability, threshold below peak (dB) and ratio ranges.
COMPRESSION_PROBABILITY = 0.5
COMPRESSION_THRESHOLD_DB = (-20.0, -6.0)
COMPRESSION_RATIO = (2.0, 6.0)
#: Compression: ranges of the envelope's attack and of the gain's release time, in seconds.
COMPRESSION_ATTACK_SECONDS = (0.002, 0.02)
COMPRESSION_RELEASE_SECONDS = (0.05, 0.2)
#: Additive noise: probability and signal-to-noise ratio range in dB.
NOISE_PROBABILITY = 0.8
NOISE_SNR_DB = (30.0, 60.0)
#: Random output gain range in dB (the result is then limited to peak <= 1).
GAIN_DB_RANGE = (-12.0, 0.0)


def random_eq(rng: np.random.Generator, sr: int, gain_db: float = EQ_GAIN_DB) -> np.ndarray:
    """1-3 random shelves or peaks of up to +-``gain_db``.

    Returns:
        ``(sections, 6)`` second-order sections for ``scipy.signal.sosfilt``.
    """
    sections = []
    for kind in rng.choice(["low", "high", "peak"], size=int(rng.integers(1, 4)), replace=False):
        gain = rng.uniform(-gain_db, gain_db)
        if kind == "low":
            sections.append(biquad("low", rng.uniform(60, 300), gain, 0.707, sr))
        elif kind == "high":
            freq = rng.uniform(2500, min(8000, 0.4 * sr))
            sections.append(biquad("high", freq, gain, 0.707, sr))
        else:
            freq = math.exp(rng.uniform(math.log(150), math.log(min(6000, 0.4 * sr))))
            sections.append(biquad("peak", freq, gain, rng.uniform(0.5, 2.0), sr))
    return np.stack(sections)


def _random_compression(audio: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """:func:`drummernet.dsp.compress` with a random threshold (relative to the peak), ratio,
    attack and release; silence passes untouched."""
    peak = float(np.max(np.abs(audio), initial=0.0))
    if peak == 0.0:
        return audio
    threshold = peak * 10 ** (rng.uniform(*COMPRESSION_THRESHOLD_DB) / 20)
    ratio = rng.uniform(*COMPRESSION_RATIO)
    attack = rng.uniform(*COMPRESSION_ATTACK_SECONDS)
    release = rng.uniform(*COMPRESSION_RELEASE_SECONDS)
    return compress(audio, threshold, ratio, attack, release, sr)


def augment_audio(audio: np.ndarray, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Random production chain: room reverb, EQ, compression, additive noise and gain.

    Each stage is applied with its probability (:data:`REVERB_PROBABILITY`, ...); the output is
    limited to peak <= 1.

    Args:
        audio: ``(samples,)`` float32 mix.
        rng: source of randomness; the same state gives the same audio.
        sr: sample rate.

    Returns:
        ``(samples,)`` float32 augmented audio.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n = len(audio)
    if rng.random() < REVERB_PROBABILITY:
        response = room_impulse_response(rng, rng.uniform(*REVERB_RT60_RANGE), sr)
        wet = scipy.signal.oaconvolve(audio, response)[:n].astype(np.float32)
        mix = np.float32(rng.uniform(*REVERB_WET_RANGE))
        audio = (1 - mix) * audio + mix * wet
    if rng.random() < EQ_PROBABILITY:
        audio = scipy.signal.sosfilt(random_eq(rng, sr), audio).astype(np.float32)
    if rng.random() < COMPRESSION_PROBABILITY:
        audio = _random_compression(audio, rng, sr)
    if rng.random() < NOISE_PROBABILITY:
        white, dark = noise(rng, n, sr)
        hiss = dark if rng.random() < 0.5 else white
        power = float(np.mean(audio.astype(np.float64) ** 2))
        noise_power = float(np.mean(hiss.astype(np.float64) ** 2)) + 1e-20
        snr = rng.uniform(*NOISE_SNR_DB)
        audio = audio + hiss * np.float32(math.sqrt(power / noise_power / 10 ** (snr / 10)))
    audio = audio * np.float32(10 ** (rng.uniform(*GAIN_DB_RANGE) / 20))
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio / np.float32(peak) if peak > 1.0 else audio
