"""Training throughput: audio-seconds trained per wall-second, default vs paper-sized config.

    python experiments/bench_train.py [--steps 20] [--threads 2]

Both configs train on the same synthetic stream (procedural grooves through the built-in kits,
rendered in a data-loader worker) in the same run, so their figures are comparable. The
"paper-sized" config follows DrummerNet (ISMIR 2019): raw-waveform front end, 1 kHz activation
frames, a deeper U-Net and two GRU layers. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from drummernet.model.analyzer import AnalyzerConfig
from drummernet.model.network import ModelConfig
from drummernet.training.config import TrainConfig
from drummernet.training.datasets import build_dataset

CONFIGS = {
    "default (log-mel, 5 ms frames)": TrainConfig(),
    "paper-sized (waveform, 1 ms frames)": TrainConfig(
        model=ModelConfig(
            analyzer=AnalyzerConfig(
                frontend="waveform",
                hop_length=16,
                depth=6,
                channels=16,
                rnn_hidden=32,
                rnn_layers=2,
                time_window=64,
            )
        )
    ),
}


def measure(config: TrainConfig, steps: int, warmup: int = 3) -> tuple[float, int]:
    """Run ``warmup + steps`` training steps; return (audio-seconds per second, parameters)."""
    from drummernet.model.network import DrummerNet
    from drummernet.training.losses import SpectralLoss

    config = config.replace(steps=warmup + steps, val_every=0)
    dataset = build_dataset(config, synthetic=True)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=range(10**9),
        num_workers=1,
        prefetch_factor=4,
    )
    model = DrummerNet(config.model)
    optimizer = torch.optim.AdamW(model.analyzer.parameters(), lr=config.lr)
    loss_fn = SpectralLoss(config.loss, model.sample_rate)
    batches = iter(loader)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        audio = next(batches)
        recon, _ = model(audio, kit_index=None)
        loss = loss_fn(recon, audio)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    elapsed = time.perf_counter() - start
    seconds = steps * config.batch_size * config.clip_seconds
    return seconds / elapsed, sum(p.numel() for p in model.analyzer.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cores, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )
    print(f"{'config':40s} {'params':>9s} {'batch':>6s} {'audio-s/s':>10s}")
    with tempfile.TemporaryDirectory():
        for name, config in CONFIGS.items():
            speed, params = measure(config, args.steps)
            print(f"{name:40s} {params:9,d} {config.batch_size:6d} {speed:10.1f}")


if __name__ == "__main__":
    main()
