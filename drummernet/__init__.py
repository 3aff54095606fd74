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
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # the real types for type checkers; at run time __getattr__ imports lazily
    from drummernet.audio import load_audio
    from drummernet.constants import COMPONENTS, GM_NOTES
    from drummernet.errors import AudioError, DrummerNetError, ModelLoadError
    from drummernet.evaluation.datasets import read_dataset
    from drummernet.evaluation.scoring import evaluate
    from drummernet.model.analyzer import AnalyzerConfig
    from drummernet.model.kits import DrumKit, list_kits
    from drummernet.model.network import DrummerNet, ModelConfig
    from drummernet.notation.beats import with_beats
    from drummernet.notation.chart import to_chart
    from drummernet.samples.classify import classify_samples
    from drummernet.training.config import TrainConfig
    from drummernet.training.losses import LossConfig
    from drummernet.training.trainer import train
    from drummernet.transcription.events import NoteEvent
    from drummernet.transcription.inference import load_model, transcribe
    from drummernet.transcription.result import Transcription

_EXPORTS = {
    "transcribe": "transcription.inference",
    "load_model": "transcription.inference",
    "Transcription": "transcription.result",
    "NoteEvent": "transcription.events",
    "DrummerNet": "model.network",
    "ModelConfig": "model.network",
    "AnalyzerConfig": "model.analyzer",
    "DrumKit": "model.kits",
    "list_kits": "model.kits",
    "classify_samples": "samples.classify",
    "to_chart": "notation.chart",
    "with_beats": "notation.beats",
    "LossConfig": "training.losses",
    "train": "training.trainer",
    "TrainConfig": "training.config",
    "evaluate": "evaluation.scoring",
    "read_dataset": "evaluation.datasets",
    "load_audio": "audio",
    "DrummerNetError": "errors",
    "AudioError": "errors",
    "ModelLoadError": "errors",
    "COMPONENTS": "constants",
    "GM_NOTES": "constants",
}

__all__ = [
    "AnalyzerConfig",
    "AudioError",
    "COMPONENTS",
    "DrumKit",
    "DrummerNet",
    "DrummerNetError",
    "GM_NOTES",
    "LossConfig",
    "ModelConfig",
    "ModelLoadError",
    "NoteEvent",
    "TrainConfig",
    "Transcription",
    "classify_samples",
    "evaluate",
    "list_kits",
    "load_audio",
    "load_model",
    "read_dataset",
    "to_chart",
    "train",
    "transcribe",
    "with_beats",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drummernet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
