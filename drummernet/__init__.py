"""drummernet: unsupervised drum transcription by analysis-by-synthesis.

After Choi & Cho, "Deep Unsupervised Drum Transcription" (DrummerNet, ISMIR 2019).

    >>> import drummernet
    >>> result = drummernet.transcribe("drums.wav")
    >>> result.write_midi("drums.mid")

The public names are imported lazily, so ``import drummernet`` (and ``drummernet --help``) stays
fast and has no side effects.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "transcribe": "transcription.inference",
    "load_model": "transcription.inference",
    "Transcription": "transcription.result",
    "NoteEvent": "transcription.events",
    "DrummerNet": "model.network",
    "ModelConfig": "model.network",
    "ModelLoadError": "model.network",
    "AnalyzerConfig": "model.analyzer",
    "LossConfig": "training.losses",
    "DrumKit": "model.kits",
    "list_kits": "model.kits",
    "train": "training.trainer",
    "TrainConfig": "training.config",
    "evaluate": "evaluation.scoring",
    "read_dataset": "evaluation.datasets",
    "AudioError": "audio",
    "load_audio": "audio",
    "COMPONENTS": "constants",
    "GM_NOTES": "constants",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drummernet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
