"""Evaluate the checkpoints of a training run on a labelled dataset: one line per checkpoint
with the F1 of the five classes, their means and the phantom notes per class.

    python experiments/eval_checkpoints.py runs/base1 --dataset ../shared/data/mdb_dev [--last 3]

Evaluation only: the scores are printed, never fed back into training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from drummernet.evaluation.datasets import read_dataset
from drummernet.evaluation.scoring import evaluate
from drummernet.evaluation.systems import transcription_system
from drummernet.training.checkpoints import model_from_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--last", type=int, default=1, help="how many newest checkpoints")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="print the full table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tracks = read_dataset(args.dataset)
    paths = sorted(args.run.glob("checkpoints/step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
    for path in paths[-args.last :]:
        model = model_from_checkpoint(path)
        result = evaluate(transcription_system(model), tracks, progress=False)
        scores = {c: round(result.macro(c)["f1"], 3) for c in result.labels}
        phantom = {f"phantom_{c}": result.phantom(c) for c in result.labels}
        print(
            json.dumps(
                {
                    "checkpoint": path.name,
                    **scores,
                    "KD/SD/HH": round(result.core_mean_f1, 3),
                    "mean": round(result.mean_f1, 3),
                    **phantom,
                }
            )
        )
        if args.table:
            print(result.table())


if __name__ == "__main__":
    main()
