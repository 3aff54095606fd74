"""DrummerNet: the analyzer and the fixed synthesizer joined for analysis-by-synthesis.

After Choi & Cho, "Deep Unsupervised Drum Transcription" (ISMIR 2019). The model analyses audio
into sparse per-component activations, renders them back to audio through the fixed synthesizer,
and is trained only to make that resynthesis match its input.

A model file is a single ``.safetensors`` file: the analyzer's weights, plus metadata holding the
format name, the format version and the JSON model config. Loading never unpickles anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from drummernet.audio import atomic_write
from drummernet.constants import DEFAULT_KIT
from drummernet.errors import ModelLoadError
from drummernet.model.analyzer import Analyzer, AnalyzerConfig, upsample_impulses
from drummernet.model.synthesizer import Synthesizer, load_kit_tensor

FORMAT_NAME = "drummernet"
FORMAT_VERSION = 1

#: The synthesizer's default kit pool: four acoustic kits from three sources. In training a random
#: kit per component is drawn from it each step (as in the paper), so a component is a timbre
#: class; the other built-in kits render the synthetic training audio.
DEFAULT_SYNTH_KITS: tuple[str, ...] = (
    DEFAULT_KIT,
    "gmbank_standard",
    "audiophob",
    "sonicpi_acoustic",
)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a :class:`DrummerNet`.

    Attributes:
        analyzer: the analyzer's hyper-parameters.
        kits: built-in kit names (or folders) loaded into the synthesizer; several make a pool
            from which training draws a random kit per component.
        one_shot_seconds: one-shots are cut to this length.
        class_shot_seconds: shorter lengths for some components, by component code or class
            (``{"CY": 0.25}`` cuts every cymbal voice to 0.25 s); a code's entry beats its
            class's. A one-shot shorter than the recording's drum only undershoots its tail,
            which the analyzer can fill by firing again; a longer one overshoots it, which no
            activation can take back.
        kit_norm: how one-shots are scaled in the synthesizer: ``"peak"`` (unit peak) or
            ``"energy"`` (equal energy, see :data:`~drummernet.synthesizer.KIT_NORMS`).
    """

    analyzer: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    kits: tuple[str, ...] = DEFAULT_SYNTH_KITS
    one_shot_seconds: float = 1.0
    class_shot_seconds: dict[str, float] = field(default_factory=dict)
    kit_norm: str = "peak"

    def __post_init__(self) -> None:
        if isinstance(self.analyzer, dict):
            object.__setattr__(self, "analyzer", AnalyzerConfig(**self.analyzer))
        kits = (self.kits,) if isinstance(self.kits, str) else tuple(self.kits)
        if not kits:
            raise ValueError("a model needs at least one kit")
        object.__setattr__(self, "kits", kits)
        lengths = {str(k): float(v) for k, v in dict(self.class_shot_seconds).items()}
        if any(not 0 < v <= self.one_shot_seconds for v in lengths.values()):
            raise ValueError(f"class_shot_seconds must be in (0, one_shot_seconds], got {lengths}")
        object.__setattr__(self, "class_shot_seconds", lengths)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        analyzer = dict(data.get("analyzer", {}))
        if "components" in analyzer:
            analyzer["components"] = tuple(analyzer["components"])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{**data, "analyzer": AnalyzerConfig(**analyzer)})


class DrummerNet(nn.Module):
    """Analyzer + fixed synthesizer.

    Args:
        config: model configuration.
        kits: optional kit specs overriding ``config.kits`` for the synthesizer (the analyzer does
            not depend on the kit, so this never changes transcriptions).
    """

    def __init__(
        self, config: ModelConfig = ModelConfig(), kits: Sequence | torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.config = config
        #: JSON metadata stored with the weights (training steps, a calibrated note threshold...).
        self.extra: dict = {}
        self.analyzer = Analyzer(config.analyzer)
        self.synthesizer = Synthesizer(config_kit(config, kits))

    @property
    def components(self) -> tuple[str, ...]:
        return self.config.analyzer.components

    @property
    def sample_rate(self) -> int:
        return self.config.analyzer.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.analyzer.hop_length

    @property
    def window_seconds(self) -> float:
        """Length of the analyzer's time-wise normalisation window, in seconds."""
        acfg = self.config.analyzer
        return acfg.time_window * acfg.hop_length / acfg.sample_rate

    def analyze(self, audio: torch.Tensor, alpha: float | None = None) -> torch.Tensor:
        """``audio: (batch, samples)`` -> activations ``(batch, n_components, frames)``."""
        return self.analyzer(audio, alpha=alpha)

    def synthesize(
        self,
        activations: torch.Tensor,
        samples: int,
        kit_index: torch.Tensor | None = None,
        shot_length: int | None = None,
    ) -> torch.Tensor:
        """Activations ``(batch, n_components, frames)`` -> audio ``(batch, samples)``; see
        :meth:`Synthesizer.forward` for ``shot_length``."""
        impulses = upsample_impulses(activations, self.hop_length, samples)
        return self.synthesizer(impulses, kit_index, shot_length)

    def forward(
        self,
        audio: torch.Tensor,
        kit_index: torch.Tensor | None = None,
        alpha: float | None = None,
        shot_length: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Analyse and resynthesise.

        Args:
            audio: ``(batch, samples)``.
            kit_index: ``(batch, n_components)`` synthesizer kit per example and component.
            alpha: optional entmax alpha for the analyzer (training warm-up).
            shot_length: optional one-shot cut in samples (training warm-up).

        Returns:
            ``(reconstruction (batch, samples), activations (batch, n_components, frames))``.
        """
        activations = self.analyze(audio, alpha=alpha)
        recon = self.synthesize(activations, audio.shape[-1], kit_index, shot_length)
        return recon, activations

    # ----------------------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the analyzer weights and config to one ``.safetensors`` file, atomically.

        Args:
            path: destination file.
            extra: JSON-serialisable metadata merged over :attr:`extra` and stored alongside.
        """
        from safetensors.torch import save_file

        metadata = {
            "format": FORMAT_NAME,
            "format_version": str(FORMAT_VERSION),
            "config": json.dumps(self.config.to_dict()),
            "extra": json.dumps({**self.extra, **(extra or {})}),
        }
        state = {k: v.detach().cpu().contiguous() for k, v in self.analyzer.state_dict().items()}
        return atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        kits: Sequence | torch.Tensor | None = None,
        device: str | None = None,
        load_kit: bool = True,
    ) -> DrummerNet:
        """Load a model written by :meth:`save`.

        Args:
            path: the model file.
            kits: kit specs for the synthesizer (default: the config's kits).
            device: torch device.
            load_kit: with ``False`` (and no ``kits``), skip reading the one-shots and give the
                synthesizer a silent one-sample kit: enough for analysis, which never uses it.

        Raises:
            ModelLoadError: the file is missing, not a drummernet model, from a newer format
                version, or its weights don't match its config.
        """
        config, state, extra = read_model_file(path)
        if kits is None and not load_kit:
            kits = silent_kit(config)
        model = cls(config, kits=kits)
        model.extra = extra
        try:
            model.analyzer.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise ModelLoadError(
                f"{path}: weights do not match the model config ({first})"
            ) from None
        model.eval()
        return model.to(device) if device else model


def config_kit(
    config: ModelConfig,
    kits: Sequence | torch.Tensor | None = None,
    sample_rate: int | None = None,
) -> torch.Tensor:
    """The synthesizer's kit tensor ``(n_kits, n_components, samples)``: ``kits`` (default: the
    config's kits) read, cut and scaled as the config says, at ``sample_rate`` (default: the
    analyzer's).

    Raises:
        KitError: a kit cannot be loaded.
    """
    acfg = config.analyzer
    return load_kit_tensor(
        kits if kits is not None else config.kits,
        acfg.components,
        sample_rate or acfg.sample_rate,
        config.one_shot_seconds,
        norm=config.kit_norm,
        class_seconds=config.class_shot_seconds,
    )


def silent_kit(config: ModelConfig) -> torch.Tensor:
    """A silent one-sample kit ``(1, n_components, 1)``, for a model that only analyses."""
    return torch.zeros(1, len(config.analyzer.components), 1)


def read_model_file(
    path: str | os.PathLike,
) -> tuple[ModelConfig, dict[str, torch.Tensor], dict]:
    """Read ``(config, analyzer state_dict, extra metadata)`` from a model file, validating it.

    Raises:
        ModelLoadError: see :meth:`DrummerNet.load`.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(f"{path}: not a readable drummernet model file ({reason})") from None
    if metadata.get("format") != FORMAT_NAME:
        raise ModelLoadError(f"{path}: not a drummernet model file (no drummernet metadata)")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelLoadError(f"{path}: model file has an invalid format version") from None
    if version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: model format version {version} is newer than this drummernet supports "
            f"({FORMAT_VERSION}); upgrade drummernet"
        )
    try:
        config = ModelConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, ValueError, TypeError) as error:
        raise ModelLoadError(f"{path}: model file has an invalid config ({error})") from None
    _check_weights(path, config, state)
    try:
        extra = json.loads(metadata.get("extra", "{}"))
    except ValueError:
        extra = {}
    extra = extra if isinstance(extra, dict) else {}
    _check_note_settings(path, extra)
    return config, state, extra


def _check_weights(path: Path, config: ModelConfig, state: dict[str, torch.Tensor]) -> None:
    """Compare the file's weights with the ones its config asks for, built on the meta device
    (shapes without memory), so that a config asking for 480 GB of GRU fails before allocating.

    Raises:
        ModelLoadError: a weight is missing, unexpected or of another shape.
    """
    with torch.device("meta"):
        expected = Analyzer(config.analyzer).state_dict()
    for key in sorted(set(expected) | set(state)):
        if key not in state:
            problem = f"missing {key}"
        elif key not in expected:
            problem = f"unexpected {key}"
        elif tuple(state[key].shape) != tuple(expected[key].shape):
            problem = (
                f"{key} is {tuple(state[key].shape)}, the config needs {tuple(expected[key].shape)}"
            )
        else:
            continue
        raise ModelLoadError(f"{path}: weights do not match the model config ({problem})")


def _check_note_settings(path: Path, extra: dict) -> None:
    """The note settings a model file recommends must be ones the CLI would accept as options:
    a positive ``threshold``, and ``relative_threshold`` in [0, 1), one value or a mapping.

    Raises:
        ModelLoadError: a stored setting is not a number or out of range.
    """

    def within(value: object, low: float, high: float, low_allowed: bool) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (low <= value if low_allowed else low < value) and value < high

    threshold = extra.get("threshold")
    if threshold is not None and not within(threshold, 0.0, float("inf"), low_allowed=False):
        raise ModelLoadError(
            f"{path}: model file has an invalid threshold ({threshold!r}; a positive number)"
        )
    for key in ("relative_threshold", "adapt_relative_threshold"):
        relative = extra.get(key)
        values = list(relative.values()) if isinstance(relative, dict) else [relative]
        if relative is not None and not all(within(v, 0.0, 1.0, low_allowed=True) for v in values):
            raise ModelLoadError(
                f"{path}: model file has an invalid {key} ({relative!r}; a number in [0, 1), or "
                "a mapping of component codes or classes to such numbers)"
            )
