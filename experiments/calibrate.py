"""Choose a model's note thresholds on labelled *synthetic* audio and store them in the model file.

    python -m experiments.calibrate MODEL.safetensors [--write] [--tracks 32]

The analyzer is trained on reconstruction alone; the thresholds that turn its impulses into notes
are post-processing settings. This script picks them on a synthetic set rendered from the Groove
MIDI Dataset's *validation* split through the built-in kits (with the training augmentation), so
no real recording's labels are involved; the dev set is only evaluated afterwards:

- the absolute floor, one for every drum (``extra["threshold"]``);
- the relative threshold per drum class (``extra["relative_threshold"]``, e.g. ``{"KD": 0.3,
  "HH": 0.1}``): how far below a drum's strong hits in the same recording a hit may be. Drums
  differ here: hi-hats are played with a wide range of accents, kicks rarely.

Each class keeps the fraction that scores best for it at the floor that scores best over KD, SD
and HH (a class's F1 depends only on its own fraction), ties going to the value closest to
:data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD`. With ``--write`` the choices are saved
in the model file, which ``drummernet.transcribe`` then uses by default.

With ``--adapt`` (after a plain calibration) the floor stays, and the relative thresholds of the
adapted classes (:data:`~drummernet.transcription.adapt.DEFAULT_ADAPT_CLASSES`) are chosen again
on adapted activations and stored as ``extra["adapt_relative_threshold"]``, which
``transcribe(adapt=True)`` uses for those classes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from drummernet.constants import COARSE_CLASSES, DEFAULT_RELATIVE_THRESHOLD
from drummernet.evaluation.datasets import read_dataset
from drummernet.evaluation.scoring import evaluate
from drummernet.evaluation.systems import transcription_labels
from drummernet.model.network import DrummerNet
from drummernet.transcription.adapt import DEFAULT_ADAPT_CLASSES
from drummernet.transcription.events import activations_to_events
from drummernet.transcription.inference import model_threshold, transcribe
from drummernet.transcription.result import Transcription
from experiments.__main__ import synthetic_eval_tracks

CANDIDATES = tuple(np.round(np.geomspace(0.02, 0.5, 15), 4))
RELATIVE_CANDIDATES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
#: The classes whose mean F1 chooses the floor (the benchmark's).
SCORED = ("KD", "SD", "HH")


def choose(
    scores: Mapping[tuple[float, float], Mapping[str, float]],
) -> tuple[float, dict[str, float], float]:
    """Pick the floor and the relative threshold per class.

    Args:
        scores: ``(floor, relative) -> {class: F1}`` with one relative threshold for every class;
            a class without reference onsets is missing or NaN.

    Returns:
        ``(floor, {class: relative}, mean F1 over SCORED at those settings)``.
    """
    best: tuple[float, float, dict[str, float]] | None = None
    for floor in sorted({f for f, _ in scores}):
        chosen, f1s = {}, {}
        classes = {c for (f, _), row in scores.items() if f == floor for c in row}
        for label in sorted(classes):
            options = [
                (row[label], -abs(rel - DEFAULT_RELATIVE_THRESHOLD), rel)
                for (f, rel), row in scores.items()
                if f == floor and label in row and not math.isnan(row[label])
            ]
            if options:
                f1, _, rel = max(options)
                chosen[label], f1s[label] = rel, f1
        mean = float(np.mean([f1s[c] for c in SCORED if c in f1s])) if f1s else float("nan")
        if best is None or mean > best[0]:
            best = (mean, floor, chosen)
    if best is None:
        raise ValueError("no scores")
    return best[1], best[2], best[0]


def _repick(results: Mapping[Path, Transcription], floor: float, relative: float, window: float):
    """``evaluate``'s system re-reading cached activations with other thresholds."""

    def system(track) -> dict[str, np.ndarray]:
        result = results[track.audio_path]
        events = activations_to_events(
            result.activations,
            result.frame_rate,
            result.components,
            floor,
            relative_threshold=relative,
            analysis_window=window,
        )
        return transcription_labels(
            Transcription(
                events, result.activations, result.frame_rate, result.components, result.duration
            )  # fmt: skip
        )

    return system


def scan(
    model: DrummerNet,
    tracks: Sequence,
    adapt: bool = False,
    floors: Sequence[float] = CANDIDATES,
) -> dict[tuple[float, float], dict[str, float]]:
    """Per-class F1 on ``tracks`` for every floor and relative threshold candidate (on adapted
    activations with ``adapt``)."""
    results = {
        track.audio_path: transcribe(track.audio_path, model=model, adapt=adapt) for track in tracks
    }
    scores = {}
    for floor in floors:
        for relative in RELATIVE_CANDIDATES:
            system = _repick(results, float(floor), relative, model.window_seconds)
            result = evaluate(system, tracks, labels=COARSE_CLASSES, progress=False)
            scores[float(floor), relative] = {c: result.macro(c)["f1"] for c in COARSE_CLASSES}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--tracks", type=int, default=32)
    parser.add_argument("--folder", type=Path, default=Path("runs/synthetic_calibration"))
    parser.add_argument("--write", action="store_true", help="store the thresholds in the model")
    parser.add_argument(
        "--adapt", action="store_true", help="choose the adapted classes' relative thresholds"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = DrummerNet.load(args.model)
    tracks = read_dataset(
        synthetic_eval_tracks(args.folder, count=args.tracks, sr=model.sample_rate)
    )[: args.tracks]
    if args.adapt:
        calibrate_adapted(model, tracks, args.model, args.write)
        return
    scores = scan(model, tracks)
    for floor in CANDIDATES:
        row = scores[float(floor), DEFAULT_RELATIVE_THRESHOLD]
        print(f"floor {floor:.4f}, relative {DEFAULT_RELATIVE_THRESHOLD} everywhere: "
              + "  ".join(f"{c} {row[c]:.3f}" for c in SCORED))  # fmt: skip
    floor, relative, mean = choose(scores)
    print(f"chosen floor {floor}, relative thresholds {relative} (synthetic mean F1 {mean:.3f})")
    if args.write:
        model.save(
            args.model,
            extra={
                "threshold": floor,
                "relative_threshold": relative,
                "threshold_synthetic_f1": mean,
                "calibration_tracks": len(tracks),
            },
        )
        print(f"written to {args.model}")


def calibrate_adapted(model: DrummerNet, tracks: Sequence, path: Path, write: bool) -> None:
    """The ``--adapt`` mode: relative thresholds of the adapted classes at the stored floor."""
    floor = model_threshold(model)
    scores = scan(model, tracks, adapt=True, floors=(floor,))
    _, relative, _ = choose(scores)
    chosen = {c: relative[c] for c in DEFAULT_ADAPT_CLASSES if c in relative}
    print(f"adapted classes at floor {floor}: relative thresholds {chosen}")
    if write:
        model.save(path, extra={"adapt_relative_threshold": chosen})
        print(f"written to {path}")


if __name__ == "__main__":
    main()
