"""Speed of the sample organiser: files classified per second, folder streamed from disk.

    python experiments/bench_samples.py [--files 2000] [--workers 2]

Writes a temporary folder of one-shots (the built-in kits' files, re-levelled, as 44.1 kHz WAV,
24-bit FLAC and 48 kHz stereo WAV), a few loops and one 10-minute recording, then times
``drummernet.samples.classify.iter_classify`` over it end to end (header, decode of the excerpt,
resampling, features, network) and reports the peak memory. Run it with OMP_WAIT_POLICY=PASSIVE
on an otherwise idle machine; the figure in the README is from 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drummernet.audio import load_audio  # noqa: E402
from drummernet.model.kits import KIT_DIR, load_manifest  # noqa: E402
from drummernet.samples.classify import iter_classify  # noqa: E402


def make_folder(root: Path, n: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    shots = [
        load_audio(KIT_DIR / file, sr=None)[0]
        for entry in load_manifest()["kits"].values()
        for file in entry["files"].values()
    ]
    files = []
    for i in range(n):
        shot = shots[i % len(shots)] * np.float32(rng.uniform(0.2, 1.0))
        kind = i % 3
        sub = root / f"pack{i % 7}" / ("drums" if i % 2 else "misc")
        sub.mkdir(parents=True, exist_ok=True)
        if kind == 0:
            path = sub / f"sample_{i:05d}.wav"
            sf.write(path, shot, 44100)
        elif kind == 1:
            path = sub / f"sample_{i:05d}.flac"
            sf.write(path, shot, 44100, subtype="PCM_24")
        else:
            path = sub / f"sample_{i:05d}.wav"
            sf.write(path, np.stack([shot, shot * 0.9], axis=1), 48000)
        files.append(path)
    loop = np.concatenate([shots[0], shots[1], shots[0], shots[1]] * 4)
    for j in range(5):
        path = root / f"loop_{j}.wav"
        sf.write(path, loop, 44100)
        files.append(path)
    long = root / "recording_10min.flac"
    with sf.SoundFile(long, "w", 44100, 1, subtype="PCM_16") as file:
        for _ in range(60):
            file.write(rng.standard_normal(441000).astype(np.float32) * 0.05)
    files.append(long)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_folder(Path(tmp), args.files)
        list(iter_classify(files[:20], workers=args.workers))  # load the weights, warm caches
        start, cpu = time.perf_counter(), time.process_time()
        count = sum(1 for _ in iter_classify(files, workers=args.workers))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} files in {seconds:.1f} s: {count / seconds:.0f} files/s "
          f"({args.workers} worker threads); {1000 * cpu / count:.1f} ms of CPU per file; "
          f"peak memory {peak:.0f} MB")  # fmt: skip
    # On a busy machine the wall-clock rate says more about the neighbours than about us.


if __name__ == "__main__":
    main()
