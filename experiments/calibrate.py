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
``transcribe(adapt=True)`` uses for those classes. The toms' relative threshold is then chosen
again together with the tom masking (``extra["adapt_tom_masking"]``: a tom hit under a snare hit
that many times stronger is dropped): the best tom F1 among the settings that write at most
:data:`PHANTOM_LIMIT` tom notes per track without toms. The F1 alone, macro-averaged over the
tracks that have toms, never counts those phantom notes.

With ``--mix`` (a model for full mixes, ``transcribe(mix_model=...)``) the tracks are synthetic
mixes of :mod:`experiments.mix_sets` instead (the additive and the SoundFont band, Groove
validation drums), rendered with ``--mix-seed``, not the benchmark's seed, and transcribed with
``source="mix"`` (``--source drums``: the model reads the mix as it is). ``--exclude DIR`` leaves
out the tracks whose drums (reference onsets) are a track's of DIR, e.g. the benchmark's set.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from drummernet.constants import COARSE_CLASSES, DEFAULT_RELATIVE_THRESHOLD, DEFAULT_SOURCE
from drummernet.evaluation.datasets import read_dataset
from drummernet.evaluation.scoring import evaluate
from drummernet.evaluation.systems import transcription_labels
from drummernet.model.network import DrummerNet
from drummernet.transcription.adapt import (
    ADAPT_SAMPLE_RATE,
    DEFAULT_ADAPT_CLASSES,
    NARROW_ADAPT_CLASSES,
)
from drummernet.transcription.events import activations_to_events
from drummernet.transcription.inference import (
    model_relative_threshold,
    model_threshold,
    transcribe,
)
from drummernet.transcription.result import Transcription
from experiments.__main__ import BALANCES, synthetic_eval_tracks

CANDIDATES = tuple(np.round(np.geomspace(0.02, 0.5, 15), 4))
#: Floors tried with ``--mix``: lower too, since a mix's drums sit below its normalised loudness.
MIX_CANDIDATES = tuple(np.round(np.geomspace(0.005, 0.5, 21), 4))
RELATIVE_CANDIDATES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
#: Rate of the synthetic calibration tracks: that of most recordings, so that adaptation, which
#: reads a recording's band above the analyzer's 8 kHz when it has one, reads theirs too.
CALIBRATION_RATE = 44100
#: Tom masking ratios tried (0: off).
TOM_MASKING_CANDIDATES = (0.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: Phantom notes per track that the tom settings may write (issue 13's limit).
PHANTOM_LIMIT = 5.0
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


def _repick(
    results: Mapping[Path, Transcription],
    floor: float,
    relative: float | Mapping[str, float],
    window: float,
    tom_masking: float = 0.0,
):
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
            tom_masking=tom_masking,
        )
        return transcription_labels(
            Transcription(
                events, result.activations, result.frame_rate, result.components, result.duration
            )  # fmt: skip
        )

    return system


def transcribe_all(
    model: DrummerNet,
    tracks: Sequence,
    adapt: bool,
    source: str = DEFAULT_SOURCE,
    adapt_classes: Sequence[str] = DEFAULT_ADAPT_CLASSES,
) -> dict[Path, Transcription]:
    """Every track transcribed once, without tom masking (its notes are re-read)."""
    return {
        track.audio_path: transcribe(
            track.audio_path,
            model=model,
            adapt=adapt,
            source=source,
            tom_masking=0.0,
            adapt_classes=adapt_classes,
        )  # fmt: skip
        for track in tracks
    }


def choose_tom_masking(
    results: Mapping[Path, Transcription],
    tracks: Sequence,
    floor: float,
    relative: Mapping[str, float],
    window: float,
) -> tuple[float, float, float, float]:
    """The toms' relative threshold and tom masking: the best tom F1 among the settings that
    write at most :data:`PHANTOM_LIMIT` tom notes per track without toms (else the fewest
    phantoms).

    Returns:
        ``(relative threshold, tom masking, F1, phantom notes per track without toms)``.
    """
    without = sum(1 for track in tracks if not len(track.reference.get("TT", ())))
    options = []
    for rel in RELATIVE_CANDIDATES:
        for ratio in TOM_MASKING_CANDIDATES:
            system = _repick(results, floor, {**relative, "TT": rel}, window, ratio)
            result = evaluate(system, tracks, labels=("TT",), progress=False)
            f1, phantom = result.macro("TT")["f1"], result.phantom("TT") / max(without, 1)
            options.append((phantom <= PHANTOM_LIMIT, f1 if phantom <= PHANTOM_LIMIT else -phantom,
                            -ratio, rel, ratio, f1, phantom))  # fmt: skip
    *_, rel, ratio, f1, phantom = max(options)
    return rel, ratio, f1, phantom


def scan(
    model: DrummerNet,
    tracks: Sequence,
    adapt: bool = False,
    floors: Sequence[float] = CANDIDATES,
    source: str = DEFAULT_SOURCE,
    results: Mapping[Path, Transcription] | None = None,
) -> dict[tuple[float, float], dict[str, float]]:
    """Per-class F1 on ``tracks`` for every floor and relative threshold candidate (on adapted
    activations with ``adapt``), transcribed with ``source``."""
    if results is None:
        results = transcribe_all(model, tracks, adapt, source)
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
    parser.add_argument("--mix", action="store_true", help="calibrate on synthetic full mixes")
    parser.add_argument("--mix-seed", type=int, default=7, help="seed of the --mix tracks")
    parser.add_argument("--source", choices=("mix", "drums"), default="mix", help="with --mix")
    parser.add_argument("--exclude", type=Path, help="leave out the drums of this dataset's tracks")
    parser.add_argument(
        "--sr", type=int, default=CALIBRATION_RATE,
        help="rate of the synthetic tracks (default: %(default)s, so adaptation reads their "
        "upper band as it reads a recording's)",
    )  # fmt: skip
    parser.add_argument(
        "--adapt-classes",
        help="with --adapt: the adapted classes, comma-separated (default: "
        f"{','.join(DEFAULT_ADAPT_CLASSES)}, or {','.join(NARROW_ADAPT_CLASSES)} with --sr below "
        f"{ADAPT_SAMPLE_RATE}, where adaptation reads only the analyzer's band)",
    )  # fmt: skip
    parser.add_argument(
        "--balance", choices=(*BALANCES, "both"), default="flat",
        help="levels of the synthetic tracks' drums: the one-shots as shipped (flat, every "
        "drum peak-normalised), at kit makers' own balance (natural), or both: --tracks of "
        "each, the same performances",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = DrummerNet.load(args.model)
    source, floors = DEFAULT_SOURCE, CANDIDATES
    if args.mix:
        from experiments.mix_sets import mix_sets

        count = math.ceil(args.tracks / 2)  # half with each band
        folder = mix_sets(args.folder, count, seed=args.mix_seed)
        sets = [folder / name for name in ("mix_synth", "mix_sf") if (folder / name).is_dir()]
        tracks = [track for path in sets for track in read_dataset(path)]
        source, floors = args.source, MIX_CANDIDATES
    else:
        balances = BALANCES if args.balance == "both" else (args.balance,)
        tracks = [
            track
            for balance in balances
            for track in read_dataset(
                synthetic_eval_tracks(args.folder, count=args.tracks, sr=args.sr, balance=balance)
            )[: args.tracks]
        ]
    if args.exclude is not None:
        taken = {_drums(track) for track in read_dataset(args.exclude)}
        tracks = [track for track in tracks if _drums(track) not in taken]
        print(f"{len(tracks)} tracks left after excluding the drums of {args.exclude}")
    if args.adapt:
        narrow = args.sr < ADAPT_SAMPLE_RATE
        classes = (
            tuple(c.strip() for c in args.adapt_classes.split(",") if c.strip())
            if args.adapt_classes
            else NARROW_ADAPT_CLASSES
            if narrow
            else DEFAULT_ADAPT_CLASSES
        )
        calibrate_adapted(model, tracks, args.model, args.write, classes, narrow)
        return
    scores = scan(model, tracks, floors=floors, source=source)
    for floor in floors:
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


def _drums(track) -> tuple:
    """What identifies a track's drum performance: its reference onsets, to the millisecond."""
    return tuple(sorted((c, tuple(np.round(t, 3))) for c, t in track.reference.items()))


def calibrate_adapted(
    model: DrummerNet,
    tracks: Sequence,
    path: Path,
    write: bool,
    classes: Sequence[str] = DEFAULT_ADAPT_CLASSES,
    narrow: bool = False,
) -> None:
    """The ``--adapt`` mode: relative thresholds of the adapted ``classes`` at the stored floor,
    then the toms' relative threshold again with the tom masking (:func:`choose_tom_masking`).
    Stored as ``adapt_...``, or with ``narrow`` (tracks below 32 kHz: adaptation within the
    analyzer's band) as ``adapt16_...``."""
    floor = model_threshold(model)
    results = transcribe_all(model, tracks, adapt=True, adapt_classes=classes)
    scores = scan(model, tracks, adapt=True, floors=(floor,), results=results)
    _, relative, _ = choose(scores)
    chosen = {c: relative[c] for c in classes if c in relative}
    best = {c: max(row[c] for (_, rel), row in scores.items() if rel == chosen[c]) for c in chosen}
    print(
        f"adapted classes at floor {floor}: relative thresholds {chosen} (F1 only: "
        + ", ".join(f"{c} {f1:.3f}" for c, f1 in best.items())
        + ")"
    )
    stored = model_relative_threshold(model, adapted=True, narrow=narrow)
    if not isinstance(stored, Mapping):
        stored = {c: stored for c in COARSE_CLASSES}
    base = {**stored, **chosen}
    rel, ratio, f1, phantom = choose_tom_masking(results, tracks, floor, base, model.window_seconds)
    chosen["TT"] = rel
    print(
        f"toms with phantoms at most {PHANTOM_LIMIT:g} per track: relative {rel}, tom masking "
        f"{ratio} (F1 {f1:.3f}, {phantom:.1f} phantom notes per track without toms)"
    )
    if write:
        prefix = "adapt16" if narrow else "adapt"
        model.save(
            path,
            extra={f"{prefix}_relative_threshold": chosen, f"{prefix}_tom_masking": ratio},
        )
        print(f"written to {path}")


if __name__ == "__main__":
    main()
