"""Scoring: run a transcription system on every track of a dataset and score its onsets.

Scoring follows DrummerNet (Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019) and
most drum-transcription work: an onset F-measure per class with a +-50 ms tolerance
(:func:`~drummernet.evaluation.metrics.score_onsets`) on the 3-class task kick (KD), snare (SD)
and hi-hat (HH), here with toms (TT) and cymbals (CY) as well. When the dataset annotates the 11 DrummerNet components (open/closed/pedal
hi-hat, three toms, ride, crash, tambourine) and the system predicts them, those are scored the
same way and reported separately (:class:`~drummernet.evaluation.report.EvaluationResult`).

A *system* is any ``system(track) -> {label: onset times}``: :func:`audio_system` wraps a function
of audio, :func:`drummernet.evaluation.systems.transcription_system` a DrummerNet model and
:func:`drummernet.evaluation.baselines.bandwise_system` is the band-wise spectral-flux baseline.
``drummernet evaluate`` runs this on a dataset folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from drummernet.audio import load_audio
from drummernet.constants import COMPONENTS, DEFAULT_ONSET_WINDOW, SCORED_CLASSES
from drummernet.evaluation.datasets import Track
from drummernet.evaluation.metrics import (
    FINE_COMPONENTS,
    OnsetScore,
    complete_classes,
    nanmean,
    score_onsets,
)
from drummernet.evaluation.report import EvaluationResult, TrackResult

#: Classes scored by default: kick, snare, hi-hat, toms and cymbals.
DEFAULT_LABELS: tuple[str, ...] = SCORED_CLASSES

#: A transcription system to evaluate: ``system(track) -> {label: onset times in seconds}``.
System = Callable[[Track], Mapping[str, np.ndarray]]


def _score_track(
    track: Track,
    predictions: Mapping[str, np.ndarray],
    labels: Sequence[str],
    window: float,
) -> dict[str, OnsetScore]:
    empty = np.zeros(0)
    return {
        label: score_onsets(
            track.reference.get(label, empty), predictions.get(label, empty), window
        )
        for label in labels
    }


def evaluate(
    system: System,
    tracks: Sequence[Track],
    window: float = DEFAULT_ONSET_WINDOW,
    labels: Sequence[str] = DEFAULT_LABELS,
    progress: bool = True,
) -> EvaluationResult:
    """Run a transcription system on every track and score its onsets.

    Args:
        system: ``system(track) -> {label: onset times}``; labels are classes and/or components.
            Missing classes are filled from predicted components
            (:func:`~drummernet.evaluation.metrics.complete_classes`); a label the system omits
            counts as "predicted no onsets". :func:`audio_system` turns an ``(audio, sr)``
            function into a system.
        tracks: the dataset, e.g. from :func:`~drummernet.evaluation.datasets.read_dataset`.
        window: onset tolerance in seconds.
        labels: classes to score (default KD, SD, HH, TT, CY).
        progress: show a progress bar over tracks (on stderr).

    Returns:
        the scores. Components are scored too, on tracks that annotate them, if the system
        predicts any component that is not also a class (a hi-hat opening, a tom, ...).
    """
    from tqdm.auto import tqdm

    if not tracks:
        raise ValueError("no tracks to evaluate")
    labels = tuple(labels)
    all_predictions = []
    class_scores = []
    f1s: dict[str, list[float]] = {label: [] for label in labels}  # for the running mean shown
    bar = tqdm(tracks, desc="evaluating", unit="track", disable=not progress)
    for track in bar:
        predictions = complete_classes(system(track))
        scores = _score_track(track, predictions, labels, window)
        all_predictions.append(predictions)
        class_scores.append(scores)
        for label, score in scores.items():
            if score.n_reference:
                f1s[label].append(score.f1)
        bar.set_postfix_str(f"mean F {nanmean([nanmean(v) for v in f1s.values()]):.3f}")
    predicted = {label for p in all_predictions for label in p}
    components: tuple[str, ...] = ()
    if predicted & set(FINE_COMPONENTS):
        components = tuple(c for c in COMPONENTS if c in predicted)
    results = [
        TrackResult(
            track.name,
            scores,
            _score_track(track, predictions, components, window) if track.has_components else {},
        )
        for track, predictions, scores in zip(tracks, all_predictions, class_scores, strict=True)
    ]
    return EvaluationResult(results, labels, components, window)


def audio_system(
    transcribe: Callable[[np.ndarray, int], Mapping[str, np.ndarray]], sr: int | None = None
) -> System:
    """Make an :func:`evaluate` system from a function of audio.

    Args:
        transcribe: ``transcribe(audio, sr) -> {label: onset times}`` with ``audio: (samples,)``.
        sr: rate to load each track at; ``None`` keeps the file's own rate.

    Returns:
        ``system(track)`` that loads ``track.audio_path`` and calls ``transcribe``.
    """

    def system(track: Track) -> Mapping[str, np.ndarray]:
        audio, rate = load_audio(track.audio_path, sr=sr)
        return transcribe(audio, rate)

    return system
