"""`make bench`: accuracy and speed of the shipped model and of the band-wise onset baseline.

    python experiments/bench.py [--dataset ../shared/data/mdb_dev] [--model PATH] [--threads 2]

Both systems run in the same process on the same tracks: onset F1 per class (KD/SD/HH, 50 ms,
macro mean over tracks that have the class, as in drummernet.evaluation) and speed in
audio-seconds per wall-second, end to end from the audio file (decoding included; the model is
loaded before timing starts). Prints one table; asserts nothing.
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
from drummernet.transcription.inference import load_model

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
    args = parser.parse_args()
    if not args.dataset.is_dir():
        raise SystemExit(
            f"bench: dataset {args.dataset} not found (set --dataset or DRUMMERNET_DATA)"
        )
    torch.set_num_threads(args.threads)
    tracks = read_dataset(args.dataset)
    model = load_model(args.model)
    rows = [
        ("drummernet (unsupervised)", *timed(transcription_system(model), tracks, args.window)),
        ("band-wise spectral flux", *timed(bandwise_system, tracks, args.window)),
    ]
    total = sum(sf.info(str(t.audio_path)).duration for t in tracks)
    print(
        f"{args.dataset} ({len(tracks)} tracks, {total:.1f} s), onset F1 at "
        f"{args.window * 1000:.0f} ms, macro over tracks; {args.threads} threads"
    )
    print(f"{'system':28s} {'KD':>6s} {'SD':>6s} {'HH':>6s} {'mean':>6s} {'audio-s/s':>10s}")
    for name, result, speed in rows:
        f1 = [result.macro(c)["f1"] for c in ("KD", "SD", "HH")]
        print(
            f"{name:28s} {f1[0]:6.3f} {f1[1]:6.3f} {f1[2]:6.3f} {result.mean_f1:6.3f} {speed:10.1f}"
        )


if __name__ == "__main__":
    main()
