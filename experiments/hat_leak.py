"""How strongly a model's hi-hat rows fire on kick and snare strokes, against hats played alone.

    python experiments/hat_leak.py --dataset ../shared/data/mdb_dev [--model M]

A diagnostic of the hi-hat leak described in ``MODEL.md``: when the synthesizer cannot build a
recording's snare from its one-shots, the analyzer adds hi-hat strokes to it. Per track, the
reference onsets are sorted into four kinds, by what else the reference has within
``--window`` seconds:

- ``hat alone``: a hi-hat with no kick or snare;
- ``hat + KD/SD``: a hi-hat struck together with a kick or snare;
- ``SD, no hat`` and ``KD, no hat``: a snare or kick stroke with no hi-hat.

For each onset the script takes the model's hi-hat strength there: the largest three-frame sum
of its closed, pedal and open hat rows within ``--window`` (the strength a note would get), and
prints the median per kind. A model without leak has a large ``hat alone`` and near-zero
``SD, no hat`` and ``KD, no hat``. Labels are only read here, to sort onsets; nothing is trained.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from drummernet.audio import read_audio
from drummernet.dsp import loudness_gain
from drummernet.evaluation.datasets import read_dataset
from drummernet.transcription.events import merge_voices
from drummernet.transcription.inference import analyze_audio, load_model

HATS = ("HH_CHH", "HH_PHH", "HH_OHH")
KINDS = ("hat alone", "hat + KD/SD", "SD, no hat", "KD, no hat")


def onset_kinds(classes: dict[str, np.ndarray], window: float) -> dict[str, np.ndarray]:
    """Reference onsets ``{class: times}`` (a :class:`~drummernet.evaluation.datasets.Track`'s
    ``reference``) sorted into :data:`KINDS`."""

    def near(times: np.ndarray, others: np.ndarray) -> np.ndarray:
        if len(others) == 0:
            return np.zeros(len(times), dtype=bool)
        return np.min(np.abs(times[:, None] - others[None, :]), axis=1) <= window

    empty = np.zeros(0)
    hh, sd, kd = (np.asarray(classes.get(c, empty), dtype=float) for c in ("HH", "SD", "KD"))
    drums = np.concatenate([sd, kd])
    with_drum = near(hh, drums)
    return {
        "hat alone": hh[~with_drum],
        "hat + KD/SD": hh[with_drum],
        "SD, no hat": sd[~near(sd, hh)],
        "KD, no hat": kd[~near(kd, hh)],
    }


def hat_strength(hats: np.ndarray, times: np.ndarray, frame_rate: float, window: float):
    """Largest three-frame sum of ``hats: (frames,)`` within ``window`` of each time."""
    strength = np.convolve(hats, np.ones(3, dtype=np.float32), mode="same")
    reach = int(round(window * frame_rate))
    out = []
    for t in times:
        centre = int(round(t * frame_rate))
        lo, hi = max(0, centre - reach), min(len(strength), centre + reach + 1)
        out.append(float(strength[lo:hi].max()) if hi > lo else 0.0)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="annotated dataset folder")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--window", type=float, default=0.03, help="seconds (default 0.03)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    frame_rate = model.sample_rate / model.hop_length
    print(f"median hi-hat strength (closed + pedal + open rows) per kind of reference onset; "
          f"window +-{args.window * 1000:.0f} ms; (n) = onsets")  # fmt: skip
    print(f"{'track':24s}" + "".join(f"{kind:>16s}" for kind in KINDS))
    for track in read_dataset(args.dataset):
        audio, _ = read_audio(track.audio_path, model.sample_rate)
        gain = loudness_gain(audio, model.sample_rate) or 1.0
        rows, codes = merge_voices(analyze_audio(model, audio * np.float32(gain)), model.components)
        hats = sum(rows[codes.index(code)] for code in HATS if code in codes)
        cells = []
        for times in onset_kinds(track.reference, args.window).values():
            values = hat_strength(hats, times, frame_rate, args.window)
            cells.append(f"{np.median(values):.3f} ({len(values)})" if len(values) else "-")
        print(f"{track.name:24s}" + "".join(f"{cell:>16s}" for cell in cells))


if __name__ == "__main__":
    main()
