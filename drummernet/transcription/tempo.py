"""Global tempo of a list of note onsets: the beat grid of a written MIDI file.

Pure numpy; the tempo sets only the grid a MIDI editor shows, never a note's time.
"""

from __future__ import annotations

import math

import numpy as np

#: Tempo estimation needs at least this many events; fewer give no tempo.
MIN_EVENTS_FOR_TEMPO = 4

#: Tempo estimation: onset-envelope frame rate, longest beat period considered (s), and the
#: log-normal prior over tempi librosa uses (centre in bpm, spread in octaves).
_TEMPO_FPS = 100
_TEMPO_MAX_PERIOD = 4.0
_TEMPO_PRIOR_BPM = 120.0
_TEMPO_PRIOR_OCTAVES = 1.0
_TEMPO_RANGE_BPM = (30.0, 300.0)


def estimate_tempo(times: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Global tempo of a list of onsets, in beats per minute.

    The method of :func:`librosa.feature.tempo` applied to an onset envelope made of the events:
    autocorrelation of the envelope, weighted by a log-normal prior around 120 bpm, arg-max. The
    autocorrelation is global (not per window as librosa's tempogram), so hour-long inputs cost
    little memory; and it is numpy's FFT, so the command line does not import librosa (see
    ``docs/notebook.md``, "Tempo").

    Args:
        times: ``(n,)`` onset times in seconds.
        weights: ``(n,)`` onset strengths (e.g. velocities); default all ones.

    Returns:
        the tempo, or ``None`` with fewer than :data:`MIN_EVENTS_FOR_TEMPO` onsets or no
        periodicity.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) < MIN_EVENTS_FOR_TEMPO:
        return None
    weights = np.ones(len(times)) if weights is None else np.asarray(weights, dtype=np.float64)
    envelope = np.zeros(int(math.ceil(times.max() * _TEMPO_FPS)) + 2)
    np.add.at(envelope, np.round(times * _TEMPO_FPS).astype(np.int64), weights)
    # A short smoothing lets onsets a frame off each other still reinforce one lag.
    envelope = np.convolve(envelope, np.hanning(5)[1:-1], mode="same")
    envelope -= envelope.mean()
    lags = min(len(envelope), int(_TEMPO_MAX_PERIOD * _TEMPO_FPS))
    spectrum = np.fft.rfft(envelope, 2 * len(envelope))
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[:lags]
    lag = np.arange(1, lags)
    bpm = 60.0 * _TEMPO_FPS / lag
    prior = np.exp(-0.5 * ((np.log2(bpm) - np.log2(_TEMPO_PRIOR_BPM)) / _TEMPO_PRIOR_OCTAVES) ** 2)
    prior[(bpm < _TEMPO_RANGE_BPM[0]) | (bpm > _TEMPO_RANGE_BPM[1])] = 0.0
    score = np.maximum(autocorrelation[1:], 0.0) * prior
    if not np.any(score > 0):
        return None
    return round(float(bpm[int(np.argmax(score))]), 2)
