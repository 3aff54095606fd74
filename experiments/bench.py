"""`make bench`: accuracy and speed of the shipped model and of the band-wise onset baseline.

    python -m experiments.bench [--dataset ../shared/data/mdb_dev] [--model PATH] [--threads 2]
        [--synthetic 48] [--other-kits 32] [--tambourine 32] [--no-adapt]

Both systems run in the same process on the same tracks: onset F1 per class (KD, SD, HH, toms TT
and cymbals CY; 50 ms, macro mean over tracks that have the class, as in drummernet.evaluation),
the KD/SD/HH mean and the five-class mean, phantom notes (notes of a class on tracks whose
reference has none) and speed in audio-seconds per wall-second, end to end from the audio file
(decoding included; the model is loaded before timing starts). With ``--synthetic N`` the same
table is printed for N synthetic Groove-test tracks with exact labels for every class
(rendered once by ``experiments.synthetic_eval_tracks``; the note thresholds were calibrated on
the validation split), and with ``--other-kits N`` for N more rendered only with the built-in
kits outside the model's synthesizer pool. ``--tambourine N`` scores N test-split tracks of which
every second one has its hi-hat part played on the tambourine (no Groove performance has one):
its phantom hi-hat notes are tambourine strokes read as hats. The shipped model is scored as ``transcribe`` runs it
by default (with per-recording adaptation); ``--no-adapt`` adds a row for the analyzer alone.
Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import soundfile as sf
import torch

from drummernet.evaluation.baselines import bandwise_system
from drummernet.evaluation.datasets import read_dataset
from drummernet.evaluation.scoring import evaluate
from drummernet.evaluation.systems import transcription_system
from drummernet.model.kits import list_kits
from drummernet.transcription.inference import load_model
from experiments.__main__ import BALANCES, synthetic_eval_tracks

DEFAULT_DATASET = (
    Path(os.environ.get("DRUMMERNET_DATA", Path(__file__).parents[2] / "shared" / "data"))
    / "mdb_dev"
)


def timed(system, tracks, window):
    """Evaluate ``system``; return (result, audio-seconds per wall-second)."""
    audio_seconds = sum(sf.info(str(t.audio_path)).duration for t in tracks)
    system(tracks[0])  # warm-up: imports, caches, lazy initialisation
    start = time.perf_counter()
    result = evaluate(system, tracks, window=window, progress=False)
    return result, audio_seconds / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--window", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--synthetic", type=int, default=0, help="also score N synthetic tracks (0: no)"
    )
    parser.add_argument(
        "--other-kits", type=int, default=0,
        help="also score N synthetic tracks rendered with kits outside the model's pool (0: no)",
    )  # fmt: skip
    parser.add_argument(
        "--tambourine", type=int, default=0,
        help="also score N synthetic test-split tracks, every second one with its hi-hat part "
        "played on the tambourine (phantom hi-hat notes on tracks with a tambourine; 0: no)",
    )  # fmt: skip
    parser.add_argument(
        "--no-adapt", action="store_true", help="also score transcription without adaptation"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path("runs/bench"), help="where the synthetic set is kept"
    )
    parser.add_argument(
        "--sr", type=int, default=44100,
        help="rate of the synthetic tracks (default: %(default)s, as most recordings: "
        "adaptation reads the band above the analyzer's 8 kHz when a recording has it)",
    )  # fmt: skip
    parser.add_argument(
        "--balance", choices=BALANCES, default="flat",
        help="levels of the synthetic tracks' drums: the one-shots as shipped (flat, every "
        "drum peak-normalised) or at a kit maker's own balance (natural)",
    )  # fmt: skip
    args = parser.parse_args()
    if not args.dataset.is_dir():
        raise SystemExit(
            f"bench: dataset {args.dataset} not found (set --dataset or DRUMMERNET_DATA)"
        )
    torch.set_num_threads(args.threads)
    tracks = read_dataset(args.dataset)
    model = load_model(args.model)
    systems = [("drummernet (unsupervised)", transcription_system(model))]
    if args.no_adapt:
        systems.append(("drummernet --no-adapt", transcription_system(model, adapt=False)))
    systems.append(("band-wise spectral flux", bandwise_system))
    rows = [(name, *timed(system, tracks, args.window)) for name, system in systems]
    total = sum(sf.info(str(t.audio_path)).duration for t in tracks)
    print(
        f"{args.dataset} ({len(tracks)} tracks, {total:.1f} s), onset F1 at "
        f"{args.window * 1000:.0f} ms, macro over tracks; {args.threads} threads"
    )
    print_table(rows)
    if args.synthetic:
        # The Groove test split: the note thresholds were calibrated on its validation split.
        folder = synthetic_eval_tracks(
            args.workdir / "synthetic_test", count=args.synthetic, split="test", seed=2026,
            sr=args.sr, balance=args.balance,
        )  # fmt: skip
        score_set(systems, folder, "synthetic Groove-test tracks, exact labels", args.window)
    if args.other_kits:
        # Kits outside the synthesizer's pool: drums its one-shots do not match.
        others = [k for k in list_kits() if k not in model.config.kits]
        folder = synthetic_eval_tracks(
            args.workdir / "synthetic_otherkits", count=args.other_kits, split="test", seed=77,
            kits=others, sr=args.sr, balance=args.balance,
        )  # fmt: skip
        what = f"synthetic Groove-test tracks through {', '.join(others)}"
        score_set(systems, folder, what, args.window)
    if args.tambourine:
        folder = synthetic_eval_tracks(
            args.workdir / "synthetic_test", count=args.tambourine, split="test", seed=2026,
            sr=args.sr, balance=args.balance, tambourine=True,
        )  # fmt: skip
        what = "synthetic Groove-test tracks, every second one's hi-hats on tambourine"
        score_set(systems, folder, what, args.window)


def score_set(systems, folder: Path, what: str, window: float) -> None:
    """Print the table of every system on the synthetic set in ``folder``."""
    tracks = read_dataset(folder)
    rows = [(name, *timed(system, tracks, window)) for name, system in systems]
    print(f"\n{folder} ({len(tracks)} {what})")
    print_table(rows)


def print_table(rows) -> None:
    """One row per system: F1 per class, the two means, phantom notes per class, speed."""
    classes = ("KD", "SD", "HH", "TT", "CY")
    head = " ".join(f"{c:>6s}" for c in classes)
    phantom = " ".join(f"{c:>5s}" for c in classes)
    print(f"{'system':28s} {head} {'KSH':>6s} {'all 5':>6s}   phantom {phantom} {'audio-s/s':>10s}")
    for name, result, speed in rows:
        f1 = " ".join(f"{result.macro(c)['f1']:6.3f}" for c in classes)
        ghosts = " ".join(f"{result.phantom(c):5d}" for c in classes)
        print(
            f"{name:28s} {f1} {result.core_mean_f1:6.3f} {result.mean_f1:6.3f}           "
            f"{ghosts} {speed:10.1f}"
        )
    print("KSH: mean over KD/SD/HH; all 5: mean over the five classes (nan: no track has it)")


if __name__ == "__main__":
    main()
