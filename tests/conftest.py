"""Shared fixtures: tiny models and generated audio, so the core suite needs no external data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from drummernet.analyzer import AnalyzerConfig
from drummernet.model import DrummerNet, ModelConfig

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
