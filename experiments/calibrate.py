"""Choose a model's note threshold on labelled *synthetic* audio and store it in the model file.

    python -m experiments.calibrate MODEL.safetensors [--write] [--tracks 16]

The analyzer is trained on reconstruction alone; the threshold that turns its impulses into notes
is a post-processing setting. This script picks it on a synthetic set rendered from the Groove
MIDI Dataset's *validation* split through the built-in kits (with the training augmentation), so
no real recording's labels are involved; the dev set is only evaluated afterwards. With
``--write`` the chosen value is saved as ``extra["threshold"]`` in the model file, which
``drummernet.transcribe`` then uses by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from drummernet.evaluation import evaluate, read_dataset
from drummernet.inference import transcription_system
from drummernet.model import DrummerNet
from experiments.__main__ import synthetic_eval_tracks

CANDIDATES = tuple(np.round(np.geomspace(0.02, 0.5, 15), 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--folder", type=Path, default=Path("runs/synthetic_calibration"))
    parser.add_argument("--write", action="store_true", help="store the threshold in the model")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = DrummerNet.load(args.model)
    tracks = read_dataset(
        synthetic_eval_tracks(args.folder, count=args.tracks, sr=model.sample_rate)
    )
    best = (-1.0, None)
    for threshold in CANDIDATES:
        result = evaluate(
            transcription_system(model, threshold=float(threshold)), tracks, progress=False
        )
        f1 = {c: result.macro(c)["f1"] for c in ("KD", "SD", "HH")}
        print(
            f"threshold {threshold:.4f}  KD {f1['KD']:.3f}  SD {f1['SD']:.3f}  "
            f"HH {f1['HH']:.3f}  mean {result.mean_f1:.3f}"
        )
        best = max(best, (result.mean_f1, float(threshold)))
    print(f"chosen threshold {best[1]} (synthetic mean F1 {best[0]:.3f})")
    if args.write:
        model.save(args.model, extra={"threshold": best[1], "threshold_synthetic_f1": best[0]})
        print(f"written to {args.model}")


if __name__ == "__main__":
    main()
