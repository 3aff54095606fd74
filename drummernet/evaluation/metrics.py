"""Onset metrics: label sets of onset times, and their one-to-one matching within a tolerance.

Matching is :func:`mir_eval.util.match_events`, the matching behind
:func:`mir_eval.onset.f_measure`, as in DrummerNet (Choi & Cho, "Deep Unsupervised Drum
Transcription", ISMIR 2019) and most drum-transcription work. Labels are coarse classes
(:data:`~drummernet.constants.COARSE_CLASSES`) and component codes
(:data:`~drummernet.constants.COMPONENTS`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from drummernet.constants import (
    COARSE_CLASSES,
    COMPONENTS,
    DEFAULT_ONSET_WINDOW,
    GM_TO_CLASS,
    GM_TO_COMPONENT,
    component_class,
)

#: Onsets of one class closer than this (s) are merged when a class is assembled from several
#: sources (several GM notes, or several predicted components): a stroke annotated as both closed
#: and pedal hi-hat, or a drum module's double trigger, is one onset, not a hit and a false one.
DEFAULT_MERGE_TOLERANCE = 0.01

#: Components that are not also a coarse class (KD and SD are both).
FINE_COMPONENTS: tuple[str, ...] = tuple(c for c in COMPONENTS if c not in COARSE_CLASSES)


def sorted_onsets(times: Iterable[float]) -> np.ndarray:
    """Onset times as a sorted ``(onsets,)`` float64 array.

    Raises:
        ValueError: a time is not finite.
    """
    onsets = np.sort(np.asarray(list(times), dtype=np.float64).reshape(-1))
    if not np.isfinite(onsets).all():
        raise ValueError("onset times must be finite")
    return onsets


def merge_onsets(
    *onsets: Iterable[float], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> np.ndarray:
    """Union of onset lists, keeping the first of onsets closer than ``tolerance``.

    Returns:
        ``(onsets,)`` sorted float64 times in seconds.
    """
    times = sorted_onsets(t for group in onsets for t in np.asarray(group).reshape(-1))
    if times.size < 2:
        return times
    keep = np.ones(times.size, dtype=bool)
    last = times[0]
    for i in range(1, times.size):
        if times[i] - last < tolerance:
            keep[i] = False
        else:
            last = times[i]
    return times[keep]


def events_to_labels(
    events: Iterable[tuple[float, int]], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> dict[str, np.ndarray]:
    """Turn (time, General MIDI note) drum events into onsets per class and component.

    Notes map to coarse classes by :data:`~drummernet.constants.GM_TO_CLASS` and to components by
    :data:`~drummernet.constants.GM_TO_COMPONENT`; other notes are dropped. Onsets of one label
    closer than ``tolerance`` merge (two notes of one class at once are one stroke).

    Args:
        events: ``(time_seconds, note)`` pairs, any order.
        tolerance: merge distance in seconds.

    Returns:
        label -> ``(onsets,)`` sorted times, only labels that occur.
    """
    grouped: dict[str, list[float]] = {}
    for time, note in events:
        note = int(note)
        component = GM_TO_COMPONENT.get(note)
        coarse = GM_TO_CLASS.get(note) or (component and component_class(component))
        for label in {label for label in (coarse, component) if label is not None}:
            grouped.setdefault(label, []).append(float(time))
    return {
        label: merge_onsets(times, tolerance=tolerance) for label, times in sorted(grouped.items())
    }


def complete_classes(
    predictions: Mapping[str, Iterable[float]], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> dict[str, np.ndarray]:
    """Sort predictions and add each coarse class that is missing but has predicted components.

    A model that outputs only components (HH_CHH, HH_OHH, ...) is thereby scored on the classes
    too: HH is the merged union of the three hi-hat components, and so on.

    Args:
        predictions: label -> onset times in seconds.
        tolerance: merge distance for the unions.

    Returns:
        label -> ``(onsets,)`` sorted float64 times.
    """
    completed = {label: sorted_onsets(times) for label, times in predictions.items()}
    for coarse in COARSE_CLASSES:
        parts = [
            v for k, v in completed.items() if k in FINE_COMPONENTS and component_class(k) == coarse
        ]
        if coarse not in completed and parts:
            completed[coarse] = merge_onsets(*parts, tolerance=tolerance)
    return completed


def nanmean(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN; NaN when there are none."""
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def json_float(value: float) -> float | None:
    """A score for JSON: rounded to 6 decimals, NaN (undefined) as ``None``."""
    return None if math.isnan(value) else round(value, 6)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class OnsetScore:
    """Matched onset counts of one label, on one track or summed over many.

    Precision, recall and F1 follow :func:`mir_eval.onset.f_measure`: 0 when either side is
    empty, and NaN when both are (nothing to score).
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def n_reference(self) -> int:
        return self.tp + self.fn

    @property
    def n_estimated(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return math.nan if self._empty else _ratio(self.tp, self.n_estimated)

    @property
    def recall(self) -> float:
        return math.nan if self._empty else _ratio(self.tp, self.n_reference)

    @property
    def f1(self) -> float:
        if self._empty:
            return math.nan
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def _empty(self) -> bool:
        return self.n_reference == 0 and self.n_estimated == 0

    def __add__(self, other: OnsetScore) -> OnsetScore:
        return OnsetScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": json_float(self.precision),
            "recall": json_float(self.recall),
            "f1": json_float(self.f1),
        }


def score_onsets(
    reference: Iterable[float], estimated: Iterable[float], window: float = DEFAULT_ONSET_WINDOW
) -> OnsetScore:
    """Match estimated onsets to reference onsets one-to-one within ``+-window`` seconds.

    Args:
        reference: ``(n_ref,)`` onset times in seconds.
        estimated: ``(n_est,)`` onset times in seconds.
        window: tolerance in seconds (inclusive, as in :func:`mir_eval.onset.f_measure`).

    Returns:
        the true positive, false positive and false negative counts.
    """
    import mir_eval.util  # imported lazily: mir_eval's import takes about a second

    ref, est = sorted_onsets(reference), sorted_onsets(estimated)
    tp = len(mir_eval.util.match_events(ref, est, window)) if ref.size and est.size else 0
    return OnsetScore(tp=tp, fp=est.size - tp, fn=ref.size - tp)
