"""Benchmark ``drummernet.transcribe``: real-time factor, peak memory and CLI latency.

Not a test: it prints figures. For each length (default 1, 10 and 60 minutes) it writes a
44.1 kHz stereo WAV of generated drums (a procedural groove rendered with the default kit, tiled),
then, in a fresh subprocess per length so that peak RSS means something:

* **drummernet --no-adapt**: loads the shipped model, streams the file to 16 kHz mono
  (``read``), then times the compute alone (``compute``: loudness, chunked batched analysis,
  peak picking);
* **drummernet** (the default): the same with per-recording adaptation
  (:mod:`drummernet.transcription.adapt`) between analysis and peak picking, which reads the
  file again at 32 kHz as ``transcribe`` does (that read is part of the compute time); the
  kit's templates are made with the model, before timing;
* **band-wise baseline** (:func:`drummernet.evaluation.baselines.bandwise_onsets`) on the same
  audio at the file's rate, as :func:`~drummernet.evaluation.baselines.bandwise_system` runs it,
  for reference.

Finally it times the whole CLI (``python -m drummernet.cli transcribe``, a fresh process) on a
3-minute file. Real-time factor = audio seconds / wall seconds. The machine's load average is
printed too: on a shared machine other processes take cores and the figures drop.

Usage::

    OMP_WAIT_POLICY=PASSIVE python experiments/bench_transcribe.py [--minutes 1,10,60]
        [--threads 2] [--baseline-minutes 10] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FILE_SR = 44100
SEED_SECONDS = 60.0


def make_drums(path: Path, minutes: float, seed: int = 0) -> Path:
    """Write ``minutes`` of 44.1 kHz stereo drums to ``path`` (a 60 s render, tiled)."""
    import soundfile as sf

    from drummernet.constants import DEFAULT_KIT
    from drummernet.model.kits import DrumKit
    from drummernet.training.grooves import procedural_groove
    from drummernet.training.render import render

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    performance = procedural_groove(rng, SEED_SECONDS, style="rock", tempo=110.0)
    mono = render(performance, [DrumKit.load(DEFAULT_KIT, sr=FILE_SR)], rng, FILE_SR, augment=False)
    # Slightly different channels, so mixing to mono is real work.
    stereo = np.stack([mono, 0.9 * mono], axis=1)
    total = int(minutes * 60 * FILE_SR)
    tmp = path.with_suffix(".part.wav")
    with sf.SoundFile(tmp, "w", FILE_SR, 2, subtype="PCM_16") as out:
        written = 0
        while written < total:
            block = stereo[: total - written]
            out.write(block)
            written += len(block)
    os.replace(tmp, path)
    return path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def worker_drummernet(path: str, threads: int, adapt: bool = False) -> dict:
    """Runs in a subprocess: transcribe one file, timing read and compute separately."""
    import warnings

    import torch

    torch.set_num_threads(threads)
    import soundfile as sf

    from drummernet.audio import read_audio
    from drummernet.constants import DEFAULT_MIN_GAP
    from drummernet.dsp import loudness_gain
    from drummernet.transcription.adapt import (
        adapt_activations,
        adaptation_hop,
        adaptation_rate,
        model_templates,
        recording_spectrogram,
        reread_spectrogram,
    )
    from drummernet.transcription.events import activations_to_events
    from drummernet.transcription.inference import (
        analyze_audio,
        load_model,
        model_relative_threshold,
        model_threshold,
        model_tom_masking,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keep the timing output to figures
        model = load_model(load_kit=False)
        model_rate = model.sample_rate
        # as transcribe: the file's upper band when it has one (the second read is timed)
        rate = adaptation_rate(sf.info(path).samplerate, model_rate, model.hop_length)
        templates = model_templates(model, rate) if adapt else None
    # Warm-up (first-call allocations and kernel selection), not timed.
    analyze_audio(model, np.zeros(model_rate * 25, np.float32))

    start = time.perf_counter()
    audio, _ = read_audio(path, model_rate)
    read = time.perf_counter() - start
    seconds = len(audio) / model_rate

    start, cpu = time.perf_counter(), time.process_time()
    gain = np.float32(loudness_gain(audio, model_rate))
    audio *= gain
    activations = analyze_audio(model, audio)
    if templates is not None:  # as transcribe: the file is streamed again for its upper band
        hop = adaptation_hop(model, rate)
        if rate != model_rate:
            del audio
            spectrogram = reread_spectrogram(path, None, rate, hop, float(gain))
        else:
            spectrogram = recording_spectrogram(audio, rate, hop)
        activations = adapt_activations(
            activations, None, templates, rate, hop, model.components, spectrogram=spectrogram
        )  # fmt: skip
    events = activations_to_events(
        activations, model.sample_rate / model.hop_length, model.components,
        model_threshold(model), DEFAULT_MIN_GAP,
        relative_threshold=model_relative_threshold(model, adapted=adapt),
        analysis_window=model.window_seconds, tom_masking=model_tom_masking(model, adapted=adapt),
    )  # fmt: skip
    compute = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {
        "seconds": seconds, "read": read, "compute": compute,
        "cpu": cpu, "events": len(events), "rss_mb": _peak_rss_mb(),
    }  # fmt: skip


def worker_baseline(path: str) -> dict:
    """Runs in a subprocess: the band-wise baseline as ``bandwise_system`` runs it."""
    from drummernet.audio import load_audio
    from drummernet.evaluation.baselines import bandwise_onsets

    audio, sr = load_audio(path, sr=None)
    start = time.perf_counter()
    onsets = bandwise_onsets(audio, sr)
    compute = time.perf_counter() - start
    return {
        "seconds": len(audio) / sr, "compute": compute,
        "events": int(sum(len(v) for v in onsets.values())), "rss_mb": _peak_rss_mb(),
    }  # fmt: skip


def _subprocess(args: list[str]) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _time_cli(path: Path, out_dir: Path, extra: list[str]) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "drummernet.cli", "transcribe", str(path), "-o", str(out_dir),
         "--overwrite", "--no-progress", *extra],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,60", help="comma-separated lengths")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--baseline-minutes", type=float, default=10.0,
        help="skip the baseline above this length (it holds a whole-file STFT: ~12 GB for 60 min)",
    )  # fmt: skip
    parser.add_argument("--cli-minutes", type=float, default=3.0, help="length of the CLI test")
    parser.add_argument("--workdir", type=Path, help="where to keep the generated files")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, path = args.worker
        if kind == "bl":
            result = worker_baseline(path)
        else:
            result = worker_drummernet(path, args.threads, adapt=kind == "dna")
        print(json.dumps(result))
        return

    workdir = args.workdir or Path(tempfile.gettempdir()) / "drummernet_bench"
    workdir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"cores: {os.cpu_count()}, torch threads: {args.threads}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset -> PASSIVE)')}, "
          f"load average before: {load:.2f}")  # fmt: skip
    print()
    header = (f"{'length':>7} | {'system':<22} | {'read s':>7} | {'compute s':>9} | "
              f"{'RTF compute':>11} | {'CPU util':>8} | {'events':>7} | {'peak RSS':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for minutes in [float(m) for m in args.minutes.split(",")]:
        path = make_drums(workdir / f"drums_{minutes:g}min.wav", minutes)
        label = f"{minutes:g} min"
        for kind, system in [("dn", "drummernet --no-adapt"), ("dna", "drummernet (default)")]:
            r = _subprocess(["--threads", str(args.threads), "--worker", kind, str(path)])
            if "error" in r:
                print(f"{label:>7} | {system:<22} | failed: {r['error']}")
            else:
                print(f"{label:>7} | {system:<22} | {r['read']:7.2f} | {r['compute']:9.2f} | "
                      f"{r['seconds'] / r['compute']:10.0f}x | {r['cpu'] / r['compute']:8.2f} | "
                      f"{r['events']:7d} | {r['rss_mb']:6.0f} MB")  # fmt: skip
        if minutes <= args.baseline_minutes:
            b = _subprocess(["--worker", "bl", str(path)])
            if "error" in b:
                print(f"{label:>7} | {'band-wise baseline':<22} | failed: {b['error']}")
            else:
                print(f"{label:>7} | {'band-wise baseline':<22} | {'':>7} | {b['compute']:9.2f} | "
                      f"{b['seconds'] / b['compute']:10.0f}x | {'':>8} | {b['events']:7d} | "
                      f"{b['rss_mb']:6.0f} MB")  # fmt: skip
        else:
            print(f"{label:>7} | {'band-wise baseline':<22} | skipped (--baseline-minutes)")

    cli_file = make_drums(workdir / f"drums_{args.cli_minutes:g}min.wav", args.cli_minutes)
    model_file = workdir / "default_config_untrained.safetensors"
    if not model_file.exists():
        import torch

        from drummernet.model.network import DrummerNet, ModelConfig

        torch.manual_seed(0)
        DrummerNet(ModelConfig()).save(model_file)
    out_dir = workdir / "cli_out"
    print()
    for name, extra in [
        ("--model FILE", ["--model", str(model_file)]),
        ("default model, --no-adapt", ["--no-adapt"]),
        ("default model", []),
    ]:
        times = [_time_cli(cli_file, out_dir, extra) for _ in range(3)]
        print(f"CLI, {args.cli_minutes:g}-minute 44.1 kHz stereo WAV -> MIDI ({name}): "
              f"best {min(times):.2f} s, median {sorted(times)[1]:.2f} s of 3 runs")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
