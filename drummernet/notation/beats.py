"""Beats, downbeats and tempo of a transcription: the grid that charts and MIDI tempo maps use.

Drums make the beat easier to find than in other music: the transcribed hits, each weighted by
its drum (:data:`~drummernet.constants.DEFAULT_BEAT_WEIGHTS`) and velocity, form an onset
envelope without the other instruments' clutter. On it:

1. the tempo is :func:`~drummernet.transcription.tempo.estimate_tempo` of the hits;
2. beats are the dynamic programme of Ellis (2007), as in ``librosa.beat.beat_track``: the
   beat times that best sit on strong onsets while keeping about one period apart, so the
   grid follows gradual tempo changes;
3. a syncopated groove can explain the hits about as well half a beat off: then the grid that
   puts the first hit on a beat wins (:data:`~drummernet.constants.DEFAULT_PHASE_AMBIGUITY`);
   a grid with the snare (or kick) on every beat and the other between them is half the
   tempo, and is tracked again at twice the tempo (up to
   :data:`~drummernet.constants.DEFAULT_MAX_DOUBLED_TEMPO`);
4. downbeats are the beats, every 4th (or 3rd), where the kick, the crash and the start of the
   recording fall and the snare's backbeat does not;
5. hits that do not repeat one beat apart (:func:`pulse_clarity`), or too few beats (free
   time, rubato, a short clip) are no steady beat: no grid and one warning.

The programme is written here in numpy rather than called from ``librosa.beat``: importing that
module compiles its numba kernels, about 3 s on every ``drummernet transcribe`` (which takes 2 s
in all), for a loop of a few lines. It follows librosa's function step by step (local score,
transition cost, last beat, trimming) and is tested against it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping

import numpy as np

from drummernet.constants import (
    DEFAULT_BEAT_TIGHTNESS,
    DEFAULT_BEAT_WEIGHTS,
    DEFAULT_MAX_DOUBLED_TEMPO,
    DEFAULT_MIN_BEATS,
    DEFAULT_MIN_PULSE_CLARITY,
    DEFAULT_PHASE_AMBIGUITY,
    component_class,
)
from drummernet.errors import DrummerNetWarning
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import Beat, estimate_tempo

#: Frame rate (frames per second) of the onset envelope beats are tracked on.
BEAT_FPS = 100

#: Beats per bar that downbeat tracking considers; the first is preferred on a tie.
METERS: tuple[int, ...] = (4, 3)


def hit_strengths(
    result: Transcription, weights: Mapping[str, float] = DEFAULT_BEAT_WEIGHTS
) -> tuple[np.ndarray, np.ndarray]:
    """``(times, strengths)``: every hit's time and its drum class's weight times its velocity
    (over 127), both ``(hits,)``."""
    times = np.array([e.time for e in result.events], dtype=np.float64)
    strengths = np.array(
        [weights.get(component_class(e.component), 0.0) * e.velocity / 127 for e in result.events]
    )
    return times, strengths


def onset_envelope(times: np.ndarray, strengths: np.ndarray, duration: float) -> np.ndarray:
    """The hits as an onset envelope: ``(frames,)`` at :data:`BEAT_FPS`, each hit's strength
    added at its frame and spread over 3 frames."""
    envelope = np.zeros(int(math.ceil(duration * BEAT_FPS)) + 2)
    frames = np.clip(np.round(times * BEAT_FPS).astype(np.int64), 0, len(envelope) - 1)
    np.add.at(envelope, frames, strengths)
    return np.convolve(envelope, np.hanning(5)[1:-1], mode="same")


def _beat_frames(envelope: np.ndarray, period: float, tightness: float) -> np.ndarray:
    """Ellis's dynamic programme (``librosa.beat.beat_track`` with ``trim=True``).

    Args:
        envelope: ``(frames,)`` onset envelope.
        period: the beat period in frames.
        tightness: weight of the log-period-ratio transition cost.

    Returns:
        ``(beats,)`` frame indices, increasing.
    """
    n = len(envelope)
    spread = np.arange(-round(period), round(period) + 1)
    window = np.exp(-0.5 * (spread * 32.0 / period) ** 2)
    local = np.convolve(envelope / (envelope.std(ddof=1) or 1.0), window, mode="same")
    lags = np.arange(max(1, round(period / 2)), round(2 * period) + 1)
    cost = -tightness * np.log(lags / period) ** 2
    cumulative = np.zeros(n)
    backlink = np.full(n, -1, dtype=np.int64)
    # A frame's predecessors lie at least lags[0] frames back, so a block of that many frames
    # depends only on frames before it: the programme runs a block at a time.
    for start in range(0, n, int(lags[0])):
        index = np.arange(start, min(start + int(lags[0]), n))
        previous = index[:, None] - lags[None, :]
        candidates = np.where(previous >= 0, cumulative[np.maximum(previous, 0)] + cost, -np.inf)
        best = candidates.argmax(axis=1)
        score = candidates[np.arange(len(index)), best]
        linked = np.isfinite(score)
        cumulative[index] = local[index] + np.where(linked, score, 0.0)
        backlink[index] = np.where(linked, previous[np.arange(len(index)), best], -1)
    # Frames before the first clear onset start a chain rather than continue one.
    strong = np.flatnonzero(local >= 0.01 * local.max())
    backlink[: strong[0] if len(strong) else n] = -1
    peaks = np.flatnonzero(
        (cumulative[1:-1] > cumulative[:-2]) & (cumulative[1:-1] >= cumulative[2:])
    )
    if not len(peaks):
        return np.zeros(0, dtype=np.int64)
    peaks += 1
    last = peaks[cumulative[peaks] >= 0.5 * np.median(cumulative[peaks])].max()
    beats = [int(last)]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    frames = np.array(beats[::-1])
    # Trim weak beats at either end, as librosa does: those are extrapolations into silence.
    smooth = np.convolve(local[frames], np.hanning(5), mode="same")
    keep = np.flatnonzero(smooth >= 0.5 * np.sqrt(np.mean(smooth**2)))
    return frames[keep[0] : keep[-1] + 1] if len(keep) else frames


def _salience(envelope: np.ndarray, times: np.ndarray) -> float:
    """Mean envelope peak within 2 frames of each time."""
    frames = np.round(times * BEAT_FPS).astype(np.int64)
    frames = frames[(frames >= 2) & (frames < len(envelope) - 2)]
    if not len(frames):
        return 0.0
    return float(np.mean([envelope[f - 2 : f + 3].max() for f in frames]))


def _steady_ends(times: np.ndarray, tolerance: float = 0.1) -> np.ndarray:
    """Drop beats at either end whose period is more than ``tolerance`` off the median: the
    programme's path may take a few uneven steps before it settles on the beat, and the
    extrapolation (:func:`_extend`) then fills the ends at the settled period."""
    periods = np.diff(times)
    if len(periods) < 4:
        return times
    steady = np.flatnonzero(np.abs(periods / np.median(periods) - 1) <= tolerance)
    if not len(steady):
        return times
    return times[steady[0] : steady[-1] + 2]


def _extend(times: np.ndarray, duration: float) -> np.ndarray:
    """Extrapolate a beat grid at its first and last tempo to cover ``[0, duration)``."""
    head = float(np.median(np.diff(times[:5])))
    tail = float(np.median(np.diff(times[-5:])))
    before = np.arange(times[0] - head, -0.05 * head, -head)[::-1]
    after = np.arange(times[-1] + tail, duration, tail)
    return np.maximum(np.concatenate([before, times, after]), 0.0)


def pulse_clarity(envelope: np.ndarray, period: float) -> float:
    """How regularly an onset envelope repeats one beat ``period`` (frames) apart: its
    autocorrelation at that lag (the best within a frame of it), corrected for the shrinking
    overlap and divided by its value at lag 0. 1 for hits that repeat exactly every beat,
    near 0 for hits at random times."""
    centred = envelope - envelope.mean()
    n = len(centred)
    lag = int(round(period))
    if lag + 1 >= n or not np.any(centred):
        return 0.0
    spectrum = np.fft.rfft(centred, 2 * n)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[: lag + 2]
    lags = np.arange(lag - 1, lag + 2)
    return float(np.max(autocorrelation[lags] * n / (n - lags)) / autocorrelation[0])


def _bar_positions(result: Transcription, beat_times: np.ndarray) -> tuple[int, int]:
    """``(meter, first downbeat index)`` of a beat grid.

    The meter is the bar length, among :data:`METERS`, at which the drums' pattern of hits on
    the beats repeats best (3 must repeat clearly better than 4). The phase puts on the downbeats
    the most kick and crash and the least snare, and the snare on the backbeats (2 and 4), with
    a little extra for the recording's first hit falling on a downbeat.
    """
    tolerance = 0.1 * float(np.median(np.diff(beat_times)))
    classes = ("KD", "SD", "HH", "TT", "CY", "OT")
    pattern = np.zeros((len(beat_times), len(classes)))
    crash = np.zeros(len(beat_times))
    for event in result.events:
        i = int(np.argmin(np.abs(beat_times - event.time)))
        if abs(beat_times[i] - event.time) > tolerance:
            continue
        strength = event.velocity / 127
        column = classes.index(component_class(event.component))
        pattern[i, column] = max(pattern[i, column], strength)
        if event.component == "CY_CRC":
            crash[i] = max(crash[i], strength)

    def repetition(lag: int) -> float:
        a, b = pattern[:-lag], pattern[lag:]
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        played = norms > 0
        return float(np.mean(np.sum(a * b, axis=1)[played] / norms[played])) if played.any() else 0

    meter = METERS[0]
    if len(beat_times) > 4 * max(METERS):
        similarity = {lag: repetition(lag) for lag in METERS}
        meter = max(METERS, key=lambda lag: similarity[lag] - 0.1 * (lag != METERS[0]))
    kick, snare = pattern[:, classes.index("KD")], pattern[:, classes.index("SD")]
    hits = pattern.sum(axis=1)
    first_hit = int(np.argmax(hits > 0)) if hits.any() else 0
    scores = []
    for phase in range(meter):
        place = (np.arange(len(beat_times)) - phase) % meter
        down = place == 0
        back = (place % 2 == 1) if meter % 2 == 0 else np.zeros_like(down)
        score = kick[down].sum() + 2 * crash[down].sum() - snare[down].sum() + snare[back].sum()
        scores.append(score / len(beat_times) + 0.05 * (place[first_hit] == 0))
    return meter, int(np.argmax(scores))


def _phased_beats(
    envelope: np.ndarray,
    period: float,
    tightness: float,
    times: np.ndarray,
    strengths: np.ndarray,
) -> np.ndarray:
    """Beat times (s) of :func:`_beat_frames`, or the grid half a beat off when that explains
    the envelope about as well and puts the first hit on a beat."""
    beat_times = _beat_frames(envelope, period, tightness) / BEAT_FPS
    if len(beat_times) < 2:
        return beat_times
    shifted = (beat_times[1:] + beat_times[:-1]) / 2
    if _salience(envelope, shifted) >= DEFAULT_PHASE_AMBIGUITY * _salience(envelope, beat_times):
        # Where the first hit falls in the grid's beat, by the grid's overall phase (its path
        # may start on one phase and settle on the other).
        first = times[np.argmax(strengths > 0)]
        step, offset = np.polyfit(np.arange(len(beat_times)), beat_times, 1)
        if 0.25 < ((first - offset) / step) % 1.0 < 0.75:
            return shifted
    return beat_times


def _half_tempo(result: Transcription, beat_times: np.ndarray) -> bool:
    """Whether a grid looks like half the tempo: one of kick and snare always on its beats (4
    times its strength between them), the other mostly between them (twice its strength on
    them), where the two of a rock beat at twice the tempo fall."""
    if len(beat_times) < 2:
        return False
    strength = {("KD", True): 0.0, ("KD", False): 0.0, ("SD", True): 0.0, ("SD", False): 0.0}
    index = np.clip(np.searchsorted(beat_times, [e.time for e in result.events]) - 1, 0, None)
    for event, i in zip(result.events, index, strict=True):
        drum = component_class(event.component)
        if drum not in ("KD", "SD") or i >= len(beat_times) - 1:
            continue
        phase = (event.time - beat_times[i]) / (beat_times[i + 1] - beat_times[i])
        if phase < 0.1 or phase > 0.9 or 0.4 < phase < 0.6:
            strength[drum, phase < 0.1 or phase > 0.9] += event.velocity
    return any(
        strength[one, True] > 4 * strength[one, False]
        and strength[other, False] > 2 * strength[other, True]
        for one, other in (("SD", "KD"), ("KD", "SD"))
    )


def track_beats(
    result: Transcription,
    *,
    weights: Mapping[str, float] = DEFAULT_BEAT_WEIGHTS,
    tightness: float = DEFAULT_BEAT_TIGHTNESS,
    min_beats: int = DEFAULT_MIN_BEATS,
    min_clarity: float = DEFAULT_MIN_PULSE_CLARITY,
    warn: bool = True,
) -> tuple[Beat, ...]:
    """Beats, bars and downbeats of a transcription (see the module's description).

    Args:
        result: the transcription; only its events and duration are used.
        weights: weight of each drum class in the onset envelope.
        tightness: how strongly beats keep one period apart.
        min_beats: fewer tracked beats are no steady beat.
        min_clarity: a smaller :func:`pulse_clarity` is no steady beat.
        warn: warn when there is no steady beat.

    Returns:
        the beats, covering the recording from its start to its end (extrapolated at the first
        and last tempo where the hits give none), numbered in bars from 1 at the first downbeat
        (0 for a pickup); ``()`` with a :class:`~drummernet.errors.DrummerNetWarning` when the
        music has no steady beat.
    """
    times, strengths = hit_strengths(result, weights)
    tempo = estimate_tempo(times, strengths) if len(times) else None
    beat_times = np.zeros(0)
    clarity = 0.0
    if tempo is not None:
        envelope = onset_envelope(times, strengths, result.duration)
        period = 60.0 * BEAT_FPS / tempo
        clarity = pulse_clarity(envelope, period)
        beat_times = _phased_beats(envelope, period, tightness, times, strengths)
        if _half_tempo(result, beat_times) and 2 * tempo <= DEFAULT_MAX_DOUBLED_TEMPO:
            beat_times = _phased_beats(envelope, period / 2, tightness, times, strengths)
    reason = ""
    if len(beat_times) < min_beats:
        reason = f"{len(beat_times)} beats found, fewer than {min_beats}"
    elif clarity < min_clarity:
        reason = f"pulse clarity {clarity:.2f}, below {min_clarity}"
    if reason and warn:
        warnings.warn(
            f"no steady beat ({reason}): no tempo map; a chart is in free time, without tempo",
            DrummerNetWarning,
            stacklevel=2,
        )
    if reason:
        return ()
    beat_times = _extend(_steady_ends(beat_times), result.duration)
    meter, phase = _bar_positions(result, beat_times)
    index = np.arange(len(beat_times)) - phase
    bars = np.floor_divide(index, meter) + 1
    return tuple(
        Beat(round(float(t), 6), int(bar), int(i % meter) + 1)
        for t, bar, i in zip(beat_times, bars, index, strict=True)
    )


def with_beats(result: Transcription, **options) -> Transcription:
    """A copy of ``result`` with :attr:`~Transcription.beats` from :func:`track_beats`
    (``options`` are its keyword arguments)."""
    return dataclasses.replace(result, beats=track_beats(result, **options))
