"""Full mixes: stem mode vs mix mode vs auto, side by side, with detection, speed and memory.

    OMP_WAIT_POLICY=PASSIVE python -m experiments.bench_mix [--count 12] [--seconds 30]
        [--threads 2] [--speed-minutes 3] [--memory-minutes 60] [--detect 24]
        [--mix-model FILE] [--accuracy-only] [--no-adapt]

Prints, in one run (asserts nothing):

1. **Accuracy**: onset F1 per class (50 ms, macro over the tracks that have the class, as
   :mod:`drummernet.evaluation` scores it), the KD/SD/HH mean, the five-class mean and phantom
   notes, for ``transcribe(source="drums")`` (stem mode: the audio as it is), ``source="mix"``
   (the drums brought forward by HPSS first) and ``source="auto"``, on: the MDB Drums dev mixes
   (``../shared/data/mdb_dev_mix``, labels from ``mdb_dev``) and dev stems (``mdb_dev``) when
   present, and the synthetic sets of :mod:`experiments.mix_sets` (Groove-validation drums with
   exact labels for every class; alone, with an additive band, with a SoundFont band). The
   ``auto->mix`` column counts the tracks auto took for mixes. With ``--mix-model``, three more
   rows score that model: ``mix+M`` (HPSS, then the mix model: ``transcribe(source="mix",
   mix_model=...)``), ``raw+M`` (the mix model on the audio as it is) and ``auto+M`` (auto, the
   mix model for what it takes for mixes, the shipped one for stems). ``--no-adapt`` scores
   the analyzers alone (``transcribe(adapt=False)``) in every row.
2. **Detection**: how often ``auto`` takes an input for a mix, on real drum loops
   (``../shared/data/loops``), procedural drum stems in every style, and procedural mixes whose
   band is 15 dB below to 10 dB above the drums.
3. **Speed**: compute alone (model loaded, audio in memory, after a warm-up), real-time factor,
   stem vs mix mode, on a ``--speed-minutes`` synthetic mix at ``--threads`` threads; and the
   fixed cost of the detection.
4. **Memory**: peak RSS of a fresh process transcribing a ``--memory-minutes`` 44.1 kHz stereo
   WAV file in each mode.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from experiments.mix_sets import data_root, mix_sets

MODES = ("drums", "mix", "auto")
CLASSES = ("KD", "SD", "HH", "TT", "CY")


def score(net, tracks, source: str, **options):
    """Evaluate ``transcribe(source=source, **options)`` on ``tracks``: (result, tracks taken
    for mixes)."""
    from drummernet.evaluation.scoring import evaluate
    from drummernet.evaluation.systems import transcription_labels
    from drummernet.transcription.inference import transcribe

    mixes = []
    options = {"model": net, **options}

    def system(track):
        result = transcribe(track.audio_path, source=source, **options)
        mixes.append(result.source_decision.source == "mix")
        return transcription_labels(result)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(system, tracks, progress=False)
    return result, sum(mixes)


def accuracy(net, sets: dict[str, Path], mix_net=None, adapt: bool | None = None) -> None:
    from drummernet.evaluation.datasets import read_dataset

    systems: list[tuple[str, str, dict]] = [(mode, mode, {}) for mode in MODES]
    if mix_net is not None:
        systems += [
            ("mix+M", "mix", {"mix_model": mix_net}),
            ("raw+M", "drums", {"model": mix_net}),
            ("auto+M", "auto", {"mix_model": mix_net}),
        ]

    head = " ".join(f"{c:>6s}" for c in CLASSES)
    print(f"{'data':44s} {'mode':6s} {head} {'KSH':>6s} {'all 5':>6s} {'ph HH':>6s} "
          f"{'ph TT':>6s} {'auto->mix':>10s}")  # fmt: skip
    for label, folder in sets.items():
        tracks = read_dataset(folder)
        for name, mode, options in systems:
            if adapt is not None:
                options = {**options, "adapt": adapt}
            result, mixes = score(net, tracks, mode, **options)
            f1 = " ".join(f"{result.macro(c)['f1']:6.3f}" for c in CLASSES)
            taken = f"{mixes}/{len(tracks)}" if mode == "auto" else ""
            print(
                f"{label if name == 'drums' else '':44s} {name:6s} {f1} "
                f"{result.core_mean_f1:6.3f} {result.mean_f1:6.3f} {result.phantom('HH'):6d} "
                f"{result.phantom('TT'):6d} {taken:>10s}",
                flush=True,
            )
    print("KSH: mean F1 over KD/SD/HH; all 5: over the five classes; ph: phantom notes (notes "
          "of a class on tracks without it)")  # fmt: skip


def detection(count: int) -> None:
    from drummernet.audio import load_input
    from drummernet.constants import DEFAULT_MIX_THRESHOLD, SAMPLE_RATE
    from drummernet.model.kits import DrumKit, list_kits
    from drummernet.training.accompaniment import accompaniment_notes, synthesize_notes
    from drummernet.training.grooves import PROCEDURAL_STYLES, procedural_groove
    from drummernet.training.render import render
    from drummernet.transcription.source import pitch_change

    sr = SAMPLE_RATE
    groups: dict[str, list[float]] = {}
    loops = sorted((data_root() / "loops").glob("*/*/*.mp3"))
    if loops:
        groups["real drum loops (shared/data/loops)"] = [
            pitch_change(load_input(p, None, sr)[0], sr) for p in loops
        ]
    rng = np.random.default_rng(77)
    kits = [DrumKit.load(k) for k in list_kits()]
    levels = (-15.0, -10.0, -5.0, 0.0, 5.0, 10.0)
    stems, mixes = [], {db: [] for db in levels}
    for i in range(count):
        style = PROCEDURAL_STYLES[i % len(PROCEDURAL_STYLES)]
        drums = render(procedural_groove(rng, 20.0, style=style), kits, rng, sr=sr)
        stems.append(pitch_change(drums, sr))
        band = synthesize_notes(accompaniment_notes(rng, 20.0, float(rng.uniform(80, 160))), 20.0,
                                rng, sr)  # fmt: skip
        for db in levels:
            scaled = band * np.float32(10 ** (db / 20) * np.std(drums) / (np.std(band) + 1e-9))
            mixes[db].append(pitch_change(drums + scaled, sr))
    groups["procedural drum stems, all styles and kits"] = stems
    for db in levels:
        groups[f"procedural mixes, band {db:+g} dB vs drums"] = mixes[db]
    print(f"threshold {DEFAULT_MIX_THRESHOLD}: share of inputs taken for mixes (score quartiles)")
    for name, scores in groups.items():
        taken = np.mean(np.array(scores) >= DEFAULT_MIX_THRESHOLD)
        q = np.percentile(scores, [0, 25, 50, 75, 100])
        print(f"  {name:46s} {taken:6.1%} of {len(scores):3d}   "
              f"[{' '.join(f'{v:.3f}' for v in q)}]")  # fmt: skip


def speed(net, folder: Path, minutes: float) -> None:
    from drummernet.audio import load_input
    from drummernet.transcription.inference import transcribe
    from drummernet.transcription.separation import hpss_drums
    from drummernet.transcription.source import pitch_change

    sr = net.sample_rate
    piece = load_input(sorted(folder.glob("*.wav"))[0], None, sr)[0]
    audio = np.resize(piece, int(minutes * 60 * sr))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mode in MODES:  # warm-up: numba's cached median, first-call allocations
            transcribe(audio[: 30 * sr], sr, model=net, source=mode)
        print(f"{minutes:g}-minute synthetic mix, compute only (model loaded, audio in memory):")
        for mode in MODES:
            start = time.perf_counter()
            transcribe(audio, sr, model=net, source=mode)
            elapsed = time.perf_counter() - start
            print(
                f"  source={mode:6s} {elapsed:6.2f} s   {len(audio) / sr / elapsed:6.0f}x real time"
            )
        start = time.perf_counter()
        hpss_drums(audio.copy(), sr)
        front = time.perf_counter() - start
        start = time.perf_counter()
        pitch_change(audio, sr)
        detect = time.perf_counter() - start
    print(
        f"  of which HPSS {front:.2f} s ({len(audio) / sr / front:.0f}x real time); the "
        f"detection {detect:.2f} s whatever the length (it reads a bounded excerpt)"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def worker(path: str, source: str, threads: int) -> None:
    """Runs in a fresh process: transcribe one file; print time and peak RSS as JSON."""
    import torch

    from drummernet.transcription.inference import transcribe

    torch.set_num_threads(threads)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = transcribe(path, source=source)
    print(json.dumps({"seconds": time.perf_counter() - start, "notes": len(result),
                      "rss_mb": _peak_rss_mb()}))  # fmt: skip


def memory(folder: Path, minutes: float, threads: int, workdir: Path) -> None:
    from drummernet.audio import load_input, resample

    path = workdir / f"mix_{minutes:g}min_44k_stereo.wav"
    if not path.exists():
        piece = resample(load_input(sorted(folder.glob("*.wav"))[0], None, 16000)[0], 16000,
                         44100)  # fmt: skip
        stereo = np.stack([piece, 0.9 * piece], axis=1)
        total = int(minutes * 60 * 44100)
        with sf.SoundFile(path.with_suffix(".part.wav"), "w", 44100, 2, subtype="PCM_16") as out:
            written = 0
            while written < total:
                out.write(stereo[: total - written])
                written += min(len(stereo), total - written)
        path.with_suffix(".part.wav").rename(path)
    print(
        f"{minutes:g}-minute 44.1 kHz stereo WAV, end to end in a fresh process (decode included):"
    )
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    for mode in ("drums", "mix"):
        done = subprocess.run(
            [sys.executable, "-m", "experiments.bench_mix", "--worker", str(path), mode,
             "--threads", str(threads)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if done.returncode:
            print(f"  source={mode:6s} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"  source={mode:6s} peak RSS {r['rss_mb']:6.0f} MB, {r['seconds']:6.1f} s "
            f"({minutes * 60 / r['seconds']:.0f}x real time), {r['notes']} notes"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="synthetic tracks per set")
    parser.add_argument("--seconds", type=float, default=30.0, help="synthetic track length")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-minutes", type=float, default=3.0)
    parser.add_argument("--memory-minutes", type=float, default=60.0, help="0 skips it")
    parser.add_argument("--detect", type=int, default=28, help="procedural tracks to classify")
    parser.add_argument("--workdir", type=Path, default=Path("out/bench_mix"))
    parser.add_argument("--mix-model", type=Path, help="also score this model for mixes")
    parser.add_argument(
        "--accuracy-only", action="store_true", help="skip detection, speed and memory"
    )
    parser.add_argument("--no-adapt", action="store_true", help="score the analyzers alone")
    parser.add_argument("--worker", nargs=2, metavar=("FILE", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.threads)
        return

    import torch

    from drummernet.transcription.inference import load_model

    torch.set_num_threads(args.threads)
    print(f"cores: {os.cpu_count()}, torch threads: {args.threads}, "
          f"load average: {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    net = load_model(load_kit=False)
    folder = mix_sets(args.workdir, args.count, args.seconds)
    shared = data_root()
    sets: dict[str, Path] = {}
    if (shared / "mdb_dev_mix").is_dir():
        sets["MDB dev mixes (2 real songs)"] = shared / "mdb_dev_mix"
    if (shared / "mdb_dev").is_dir():
        sets["MDB dev stems (4 real drum stems)"] = shared / "mdb_dev"
    names = {
        "mix_synth": "synthetic mixes, additive band",
        "mix_sf": "synthetic mixes, SoundFont band",
        "stems": "synthetic stems (the same drums alone)",
    }
    for name, title in names.items():
        if (folder / name).is_dir():
            sets[f"{title} ({args.count})"] = folder / name
    mix_net = None if args.mix_model is None else load_model(args.mix_model, load_kit=False)
    accuracy(net, sets, mix_net, adapt=False if args.no_adapt else None)
    if args.accuracy_only:
        return
    print()
    detection(args.detect)
    print()
    speed(net, folder / "mix_synth", args.speed_minutes)
    if args.memory_minutes > 0:
        print()
        memory(folder / "mix_synth", args.memory_minutes, args.threads, args.workdir)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
