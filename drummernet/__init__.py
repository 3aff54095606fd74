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
    "transcribe": "inference",
    "load_model": "inference",
    "Transcription": "transcription",
    "NoteEvent": "transcription",
    "DrummerNet": "model",
    "ModelConfig": "model",
    "ModelLoadError": "model",
    "AnalyzerConfig": "analyzer",
    "LossConfig": "losses",
    "DrumKit": "kits",
    "list_kits": "kits",
    "train": "trainer",
    "TrainConfig": "trainer",
    "evaluate": "evaluation",
    "read_dataset": "evaluation",
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
