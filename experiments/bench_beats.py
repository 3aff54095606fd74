"""Beat tracking and quantisation, measured: prints figures, asserts nothing.

    python experiments/bench_beats.py [--dataset ../shared/data/mdb_dev] [--model PATH]
        [--synthetic 6]

1. Real drum stems: for every track of the dataset with a beat annotation
   (``annotations/beats/<track>.beats``), the shipped model's transcription goes through
   ``drummernet.notation.track_beats``; printed beside it, librosa's plain beat tracker on the
   audio alone as a reference. Beat F-measure (mir_eval, +-70 ms, nothing skipped), tempo error
   (median beat period over 4 beats, against the annotation's, the same way) and, for ours,
   the downbeat F-measure.
2. Known grids: drum patterns written on a grid (16ths, a triplet fill, ghost notes, crashes),
   played at a known tempo straight and with human timing (Gaussian, 10 ms), and swung. Each is
   placed on the grid twice: from its exact hits (``events``) and from the shipped model's
   transcription of it rendered with a kit the model was not built with (``audio``). A note is
   right when its bar, beat and slot are the pattern's; printed as a fraction of the notes
   found (and, for audio, the fraction of the pattern's hits found at all).
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from drummernet.constants import SAMPLE_RATE
from drummernet.evaluation.beats import read_beats, score_beats
from drummernet.notation import quantize_notes, track_beats
from drummernet.transcription.events import NoteEvent
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import Beat

DEFAULT_DATASET = (
    Path(os.environ.get("DRUMMERNET_DATA", Path(__file__).parents[2] / "shared" / "data"))
    / "mdb_dev"
)
GM = {"KD": 36, "SD": 38, "HH_CHH": 42, "CY_CRC": 49}


@dataclass(frozen=True)
class GridHit:
    """A hit of a known-grid pattern: when it is played and where it is written."""

    time: float
    component: str
    velocity: int
    bar: int
    beat: int
    position: Fraction


def grid_pattern(
    rng: np.random.Generator,
    tempo: float,
    bars: int = 8,
    *,
    jitter: float = 0.0,
    swing: float | None = None,
    start: float = 0.25,
) -> list[GridHit]:
    """A 4/4 rock pattern on a known grid.

    Kick on 1 and 3 (and the "and" of 3 in even bars), snare on 2 and 4 with a ghost note on
    the last 16th of beat 2 in odd bars, closed hi-hat 8ths (16ths in bars 3-4, straight
    patterns only), a crash on the downbeat of bars 1 and 5, and a snare triplet on beat 4 of
    the last bar. ``swing`` plays the off-beat 8ths that far into their beat (written as 8ths).
    ``jitter`` is the standard deviation (s) of Gaussian timing noise, clipped at 2.5 sd.
    """
    beat_seconds = 60.0 / tempo
    hits: list[tuple[int, int, Fraction, str, int]] = []
    for bar in range(1, bars + 1):
        sixteenths = swing is None and bar in (3, 4)
        for beat in range(1, 5):
            for k in range(4 if sixteenths else 2):
                position = Fraction(k, 4 if sixteenths else 2)
                if not (bar == bars and beat == 4):
                    hits.append((bar, beat, position, "HH_CHH", int(rng.integers(70, 90))))
            if beat in (1, 3):
                hits.append((bar, beat, Fraction(0), "KD", int(rng.integers(95, 115))))
            if beat in (2, 4) and not (bar == bars and beat == 4):
                hits.append((bar, beat, Fraction(0), "SD", int(rng.integers(100, 120))))
        if bar % 2 == 0:
            hits.append((bar, 3, Fraction(1, 2), "KD", 95))
        if bar % 2 == 1 and swing is None:
            hits.append((bar, 2, Fraction(3, 4), "SD", 32))
        if bar in (1, 5):
            hits.append((bar, 1, Fraction(0), "CY_CRC", 115))
    hits += [(bars, 4, Fraction(k, 3), "SD", 100) for k in range(3)]
    out = []
    for bar, beat, position, code, velocity in hits:
        played = float(position)
        if swing is not None and position == Fraction(1, 2):
            played = swing
        noise = float(np.clip(rng.normal(0, jitter), -2.5 * jitter, 2.5 * jitter)) if jitter else 0
        time = start + ((bar - 1) * 4 + beat - 1 + played) * beat_seconds + noise
        out.append(GridHit(time, code, velocity, bar, beat, position))
    return sorted(out, key=lambda h: h.time)


def pattern_transcription(hits: list[GridHit], duration: float) -> Transcription:
    """The pattern as a transcription with exactly its hits."""
    events = [NoteEvent(h.time, h.component, GM[h.component], h.velocity) for h in hits]
    return Transcription(events, np.zeros((11, 0), np.float32), 200.0, tuple(GM), duration)


def grid_accuracy(
    hits: list[GridHit], result: Transcription, window: float = 0.05
) -> tuple[float, float]:
    """``(right, found)``: the fraction of the found notes (a transcribed note matched to a
    pattern hit of its drum within ``window`` s) written in the hit's bar, beat and slot, and
    the fraction of the pattern's hits found."""
    beats = result.beats or track_beats(result)
    if len(beats) < 2:
        return 0.0, 0.0
    notes, _ = quantize_notes(result.events, beats)
    notes = [n for n in notes if not n.grace]
    used: set[int] = set()
    right = found = 0
    for hit in hits:
        candidates = [
            (abs(n.event.time - hit.time), i)
            for i, n in enumerate(notes)
            if n.event.component == hit.component
            and i not in used
            and abs(n.event.time - hit.time) <= window
        ]
        if not candidates:
            continue
        _, i = min(candidates)
        used.add(i)
        found += 1
        right += (notes[i].bar, notes[i].beat, notes[i].position) == (
            hit.bar,
            hit.beat,
            hit.position,
        )
    return right / max(1, found), found / max(1, len(hits))


def librosa_beats(path: Path) -> list[Beat]:
    """librosa's plain beat tracker on the audio alone (no downbeats: every beat is beat 2)."""
    import librosa

    audio, sr = librosa.load(str(path), sr=22050)
    _, times = librosa.beat.beat_track(y=audio, sr=sr, units="time")
    return [Beat(float(t), 0, 2) for t in times]


def real_tracks(dataset: Path, model) -> None:
    from drummernet.evaluation.datasets import read_dataset
    from drummernet.transcription.inference import transcribe

    tracks = [t for t in read_dataset(dataset) if (dataset / "annotations" / "beats").is_dir()]
    print(f"beat tracking on {dataset} (F at 70 ms; tempo: median period over 4 beats)")
    print(
        f"{'track':24s} {'ref bpm':>8s} | {'ours F':>7s} {'bpm':>7s} {'err':>6s} {'down F':>7s}"
        f" | {'librosa F':>9s} {'bpm':>7s} {'err':>6s}"
    )
    rows = []
    for track in tracks:
        annotation = dataset / "annotations" / "beats" / f"{track.name}.beats"
        if not annotation.is_file():
            continue
        reference = read_beats(annotation)
        result = transcribe(track.audio_path, model=model)
        ours = score_beats(reference, track_beats(result))
        plain = score_beats(reference, librosa_beats(track.audio_path))
        rows.append((ours, plain))
        print(
            f"{track.name:24s} {ours.reference_tempo:8.1f} | {ours.f_measure:7.3f} "
            f"{ours.tempo or 0:7.1f} {ours.tempo_error:6.1%} {ours.downbeat_f_measure:7.3f} | "
            f"{plain.f_measure:9.3f} {plain.tempo or 0:7.1f} {plain.tempo_error:6.1%}"
        )
    if rows:
        mean = np.mean([[o.f_measure, o.downbeat_f_measure, p.f_measure] for o, p in rows], axis=0)
        worst = max(o.tempo_error for o, _ in rows), max(p.tempo_error for _, p in rows)
        print(
            f"{'mean (worst tempo error)':24s} {'':8s} | {mean[0]:7.3f} {'':7s} {worst[0]:6.1%} "
            f"{mean[1]:7.3f} | {mean[2]:9.3f} {'':7s} {worst[1]:6.1%}"
        )


def synthetic(count: int, model) -> None:
    from drummernet.model.kits import DrumKit
    from drummernet.training.performances import COMPONENT_INDEX, Performance
    from drummernet.training.render import render
    from drummernet.transcription.inference import transcribe

    kit = DrumKit.load("sonicpi_acoustic")
    settings = [("straight", 0.0, None), ("human 10 ms", 0.010, None), ("swing 0.64", 0.0, 0.64)]
    print(f"\nknown grids: {count} patterns of 8 bars per setting, tempi 80-160 bpm")
    print(f"{'setting':14s} {'events right':>12s} | {'audio right':>11s} {'found':>6s}")
    for label, jitter, swing in settings:
        direct, audio, found = [], [], []
        for seed in range(count):
            rng = np.random.default_rng(seed)
            tempo = float(rng.uniform(80, 160))
            hits = grid_pattern(rng, tempo, jitter=jitter, swing=swing)
            duration = hits[-1].time + 1.0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                direct.append(grid_accuracy(hits, pattern_transcription(hits, duration))[0])
                performance = Performance(
                    [h.time for h in hits],
                    [COMPONENT_INDEX[h.component] for h in hits],
                    [h.velocity for h in hits],
                    duration,
                )
                sound = render(performance, [kit], rng, augment=False)
                right, share = grid_accuracy(hits, transcribe(sound, sr=SAMPLE_RATE, model=model))
            audio.append(right)
            found.append(share)
        print(f"{label:14s} {np.mean(direct):12.1%} | {np.mean(audio):11.1%} {np.mean(found):6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--synthetic", type=int, default=6, help="patterns per setting")
    args = parser.parse_args()
    from drummernet.transcription.inference import load_model

    model = load_model(args.model)
    if args.dataset.is_dir():
        real_tracks(args.dataset, model)
    else:
        print(f"{args.dataset}: not found; skipping the real tracks")
    if args.synthetic:
        synthetic(args.synthetic, model)


if __name__ == "__main__":
    main()
