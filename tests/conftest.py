"""Shared fixtures: tiny models and generated audio, so the core suite needs no external data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from drummernet.model.analyzer import AnalyzerConfig
from drummernet.model.network import DrummerNet, ModelConfig

# One thread: the suite's tensors are small, and OpenMP's spinning threads make timings bimodal
# on shared 2-core machines (and tests slow when something else runs beside them).
torch.set_num_threads(1)

SR = 16000
REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The shared development data (``$DRUMMERNET_DATA`` or ``../shared/data``), if present."""
    path = Path(os.environ.get("DRUMMERNET_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def synthetic_kit(length: int = 4000, seed: int = 1) -> torch.Tensor:
    """Three clearly different one-shots (kick-, snare- and hat-like): ``(3, length)``."""
    t = torch.arange(length, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    kick = torch.sin(2 * torch.pi * torch.cumsum(60 + 100 * torch.exp(-t / 300), 0) / SR)
    kick = kick * torch.exp(-t / 1500)
    snare = torch.randn(length, generator=g) * 0.7 + torch.sin(2 * torch.pi * 200 * t / SR)
    snare = snare * torch.exp(-t / 900)
    hat = torch.randn(length, generator=g)
    hat = (hat - torch.roll(hat, 1)) * torch.exp(-t / 250)
    kit = torch.stack([kick, snare, hat])
    return kit / kit.abs().amax(dim=1, keepdim=True)


TINY_COMPONENTS = ("KD", "SD", "HH_CHH")


def tiny_config(**analyzer) -> ModelConfig:
    params = dict(components=TINY_COMPONENTS, channels=8, depth=2, rnn_hidden=8, n_mels=32)
    params.update(analyzer)
    return ModelConfig(analyzer=AnalyzerConfig(**params))


@pytest.fixture
def tiny_model() -> DrummerNet:
    torch.manual_seed(0)
    return DrummerNet(tiny_config(), kits=synthetic_kit())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def drum_loop(seconds: float = 3.0, sr: int = SR, seed: int = 0) -> tuple[np.ndarray, list]:
    """A loop of the synthetic kit's kick/snare/hat at 120 bpm in 16ths: ``(audio, hits)``.

    ``hits`` are ``(time, component index, amplitude)``; the audio peaks below 1.
    """
    kit = synthetic_kit().numpy()
    if sr != SR:
        from drummernet.audio import resample

        kit = np.stack([resample(shot, SR, sr) for shot in kit])
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * sr), dtype=np.float32)
    hits = []
    for step, time in enumerate(np.arange(0.05, seconds - 0.05, 0.125)):
        for c in ([0] if step % 4 == 0 else []) + ([1] if step % 8 == 4 else []) + [2]:
            amp = float(rng.uniform(0.4, 0.9))
            start = int(round(time * sr))
            n = min(kit.shape[1], len(audio) - start)
            audio[start : start + n] += amp * kit[c, :n]
            hits.append((float(time), c, amp))
    return audio / (np.abs(audio).max() / 0.8), hits


@pytest.fixture
def tiny_model_file(tmp_path_factory, tiny_model) -> Path:
    """The tiny model saved as a model file (for ``--model``)."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    tiny_model.save(path)
    return path


def record_keyword(monkeypatch, module, name: str, keyword: str) -> list:
    """Wrap ``module.name`` so that each call records its ``keyword`` argument (``"default"``
    when not passed) in the returned list, then runs as before."""
    seen: list = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get(keyword, "default"))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen
