"""Tempo of a transcription: a global estimate from its note onsets, and the beat grid type.

:func:`estimate_tempo` is the tempo of a written MIDI file when no beats were tracked;
:class:`Beat` is one beat of a tracked grid (``drummernet.notation.track_beats`` makes them),
from which :func:`tempo_of_beats` and :func:`tempo_changes` read the tempo. Pure numpy; the
tempo sets only the grid a MIDI editor shows, never a note's time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Beat:
    """One beat of a beat grid: its ``time`` in seconds, the ``bar`` it belongs to (1 at the
    first downbeat; 0 for the beats of a pickup before it) and its place ``beat`` in the bar,
    counted from 1 at the downbeat (as in the MDB Drums ``.beats`` files)."""

    time: float
    bar: int
    beat: int

    def to_dict(self) -> dict:
        return {"time": round(self.time, 6), "bar": self.bar, "beat": self.beat}


def tempo_of_beats(beats: Sequence[Beat]) -> float | None:
    """Tempo (bpm) of a beat grid: 60 over its median beat period, each period measured over
    4 beats (a bar of 4/4) so that beat times rounded to a frame do not round the tempo;
    ``None`` below 2 beats."""
    if len(beats) < 2:
        return None
    times = np.array([b.time for b in beats])
    span = min(4, len(times) - 1)
    return round(60.0 * span / float(np.median(times[span:] - times[:-span])), 2)


def tempo_changes(beats: Sequence[Beat], min_change: float) -> list[tuple[float, float]]:
    """Where a beat grid's tempo changes: ``[(time, bpm), ...]``, the first at the first beat.

    The local tempo is the median beat period over a bar's worth of beats (4) on either side,
    so one late or early beat is not a change; a new entry starts where that tempo differs
    from the last entry's by more than ``min_change`` (a fraction) for a whole bar. Between
    entries the tempo stays within ``min_change`` of the entry's, whose tempo is the median of
    its stretch.

    Returns:
        ``[]`` below 2 beats.
    """
    if len(beats) < 2:
        return []
    times = np.array([b.time for b in beats])
    periods = np.diff(times)
    span = 4
    local = np.array([np.median(periods[max(0, i - span) : i + span]) for i in range(len(periods))])
    changes = [(float(times[0]), 60.0 / float(local[0]))]
    run = 0
    for i, period in enumerate(local):
        if abs(60.0 / period / changes[-1][1] - 1.0) > min_change:
            run += 1
            if run >= span:
                start = i - span + 1
                changes.append((float(times[start]), 60.0 / float(np.median(local[start : i + 1]))))
                run = 0
        else:
            run = 0
    # Each entry's tempo is then its whole stretch's: the median period up to the next entry.
    starts = [int(np.searchsorted(times, t)) for t, _ in changes] + [len(times) - 1]
    return [
        (round(float(times[a]), 6), round(60.0 / float(np.median(periods[a : max(b, a + 1)])), 2))
        for a, b in zip(starts[:-1], starts[1:], strict=True)
    ]
