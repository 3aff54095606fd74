"""Evaluation reports: per-track and aggregate onset scores, as a text table or JSON.

Two averages are reported for every class:

* **macro**: the mean of per-track precision, recall and F1 over the tracks whose reference has
  at least one onset of the class. A track without, say, hi-hats is left out of the HH mean,
  since its F1 would be 0 or undefined whatever the system did.
* **micro**: precision, recall and F1 of the true/false positives and false negatives summed over
  all tracks, so false positives on tracks without the class do count.

The headline figures are the mean macro F1 over the evaluated classes
(:attr:`EvaluationResult.mean_f1`) and over the 3-class task KD/SD/HH
(:attr:`EvaluationResult.core_mean_f1`), the figure published systems report. **Phantom notes**
(:meth:`EvaluationResult.phantom`) are the notes of a class written on tracks whose reference has
none of it: what a musician deletes by hand. Components, when scored, are reported separately.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drummernet.audio import atomic_write
from drummernet.constants import CORE_CLASSES
from drummernet.evaluation.metrics import OnsetScore, json_float, nanmean


@dataclass
class TrackResult:
    """Scores of one track: ``scores`` for the evaluated classes, ``component_scores`` for the
    components (empty when the track or the system has none)."""

    name: str
    scores: dict[str, OnsetScore]
    component_scores: dict[str, OnsetScore] = field(default_factory=dict)

    def f1(self, label: str) -> float:
        """F1 of a class, NaN when the reference has none of it (the track is left out)."""
        score = self.scores.get(label, self.component_scores.get(label))
        return score.f1 if score is not None and score.n_reference else math.nan

    @property
    def mean_f1(self) -> float:
        """Mean F1 over the evaluated classes the reference has; NaN if it has none."""
        return nanmean([self.f1(label) for label in self.scores])


@dataclass
class EvaluationResult:
    """Per-track and aggregate onset scores of one system on one dataset.

    Attributes:
        tracks: one :class:`TrackResult` per track, in dataset order.
        labels: the evaluated classes.
        components: the evaluated components (those the system predicts, scored on the tracks
            that annotate components); empty when the system predicts no fine components.
        window: onset tolerance in seconds.
    """

    tracks: list[TrackResult]
    labels: tuple[str, ...]
    components: tuple[str, ...]
    window: float

    def _scores(self, label: str) -> list[OnsetScore]:
        key = "scores" if label in self.labels else "component_scores"
        return [getattr(t, key)[label] for t in self.tracks if label in getattr(t, key)]

    def macro(self, label: str) -> dict[str, float]:
        """Mean precision, recall and F1 over the tracks whose reference has ``label``.

        Returns:
            ``{"precision", "recall", "f1", "tracks"}``; NaN scores when no track has the label.
        """
        scores = [s for s in self._scores(label) if s.n_reference]
        return {
            "precision": nanmean([s.precision for s in scores]),
            "recall": nanmean([s.recall for s in scores]),
            "f1": nanmean([s.f1 for s in scores]),
            "tracks": len(scores),
        }

    def micro(self, label: str) -> OnsetScore:
        """Counts of ``label`` summed over all scored tracks, with and without the label."""
        return sum(self._scores(label), OnsetScore())

    @property
    def mean_f1(self) -> float:
        """Mean over the evaluated classes of their macro F1 (classes no track has are skipped)."""
        return nanmean([self.macro(label)["f1"] for label in self.labels])

    @property
    def core_mean_f1(self) -> float:
        """Mean macro F1 over the evaluated classes of the 3-class task (KD, SD, HH)."""
        return nanmean([self.macro(label)["f1"] for label in self.labels if label in CORE_CLASSES])

    def phantom(self, label: str) -> int:
        """Notes of ``label`` on tracks whose reference has none of it, summed over tracks."""
        return sum(s.n_estimated for s in self._scores(label) if not s.n_reference)

    def phantom_tracks(self, label: str) -> int:
        """How many scored tracks have no reference onset of ``label``."""
        return sum(1 for s in self._scores(label) if not s.n_reference)

    @property
    def micro_mean_f1(self) -> float:
        """Mean over the evaluated classes of their micro F1."""
        return nanmean([self.micro(label).f1 for label in self.labels])

    def to_dict(self) -> dict:
        """A JSON-ready summary: settings, macro and micro scores, and every track's counts.

        Undefined scores (NaN) become ``null``.
        """

        def aggregate(labels: Sequence[str]) -> dict:
            summary = {}
            for label in labels:
                macro = self.macro(label)
                summary[label] = {
                    "macro": {
                        "precision": json_float(macro["precision"]),
                        "recall": json_float(macro["recall"]),
                        "f1": json_float(macro["f1"]),
                        "tracks": macro["tracks"],
                    },
                    "micro": self.micro(label).to_dict(),
                    "phantom": self.phantom(label),
                    "phantom_tracks": self.phantom_tracks(label),
                }
            return summary

        return {
            "window": self.window,
            "labels": list(self.labels),
            "components": list(self.components),
            "mean_f1": json_float(self.mean_f1),
            "core_mean_f1": json_float(self.core_mean_f1),
            "micro_mean_f1": json_float(self.micro_mean_f1),
            "classes": aggregate(self.labels),
            "component_scores": aggregate(self.components),
            "tracks": [
                {
                    "name": t.name,
                    "mean_f1": json_float(t.mean_f1),
                    "scores": {k: v.to_dict() for k, v in t.scores.items()},
                    "component_scores": {k: v.to_dict() for k, v in t.component_scores.items()},
                }
                for t in self.tracks
            ],
        }

    def to_json(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_dict` as JSON, atomically; without ``overwrite``, an existing ``path``
        is an :class:`~drummernet.errors.OutputExistsError`."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return atomic_write(
            path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite
        )

    def table(self) -> str:
        """A plain-text report: a row per track, then macro and micro rows, with P/R/F per
        class and the mean F; then, if components were scored, a row per component.

        A ``-`` marks a class the track's reference lacks (left out of the macro mean).
        """
        name_width = max([len(t.name) for t in self.tracks] + [12])

        def number(value: float) -> str:
            return "    -" if math.isnan(value) else f"{value:5.3f}"

        def row(name: str, cells: Sequence[float], mean: float) -> str:
            groups = [
                " ".join(number(c) for c in cells[i : i + 3]) for i in range(0, len(cells), 3)
            ]
            return f"{name:<{name_width}}  " + "  ".join(groups) + f"  {number(mean):>6}"

        header1 = " " * (name_width + 2) + "  ".join(f"{label:^17}" for label in self.labels)
        columns = "  ".join("    P     R     F" for _ in self.labels)
        header2 = f"{'track':<{name_width}}  {columns}  mean F"
        lines = [
            f"Onset scores, window +-{self.window * 1000:g} ms, {len(self.tracks)} tracks",
            header1,
            header2,
        ]
        for track in self.tracks:
            cells = []
            for label in self.labels:
                score = track.scores[label]
                has = score.n_reference > 0
                cells += [score.precision, score.recall, score.f1] if has else [math.nan] * 3
            lines.append(row(track.name, cells, track.mean_f1))
        lines.append("-" * len(header2))
        macro = [self.macro(label) for label in self.labels]
        cells = [m[k] for m in macro for k in ("precision", "recall", "f1")]
        lines.append(row("macro", cells, self.mean_f1))
        micro = [self.micro(label) for label in self.labels]
        cells = [v for s in micro for v in (s.precision, s.recall, s.f1)]
        lines.append(row("micro", cells, self.micro_mean_f1))
        phantoms = "  ".join(
            (
                f"{self.phantom(label)} ({self.phantom_tracks(label)} track"
                + ("s)" if self.phantom_tracks(label) > 1 else ")")
                if self.phantom_tracks(label)
                else "-"
            ).rjust(17)
            for label in self.labels
        )
        lines.append(f"{'phantom':<{name_width}}  {phantoms}")
        core = [label for label in self.labels if label in CORE_CLASSES]
        if core and len(core) < len(self.labels):
            lines.append(f"mean F over {'/'.join(core)}: {number(self.core_mean_f1)}")
        lines.append(
            "macro: mean over tracks that have the class; micro: counts summed over all tracks;\n"
            "phantom: notes of the class on tracks whose reference has none"
        )
        if self.components:
            n_tracks = sum(1 for t in self.tracks if t.component_scores)
            lines += [
                "",
                f"Components ({n_tracks} tracks annotate them)",
                f"{'component':<10} {'tracks':>6} {'onsets':>6}    macro P     R     F"
                "    micro P     R     F",
            ]
            for component in self.components:
                m, s = self.macro(component), self.micro(component)
                lines.append(
                    f"{component:<10} {m['tracks']:>6} {s.n_reference:>6}    "
                    f"{number(m['precision'])} {number(m['recall'])} {number(m['f1'])}    "
                    f"{number(s.precision)} {number(s.recall)} {number(s.f1)}"
                )
        return "\n".join(line.rstrip() for line in lines)
