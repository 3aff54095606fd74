"""The trainer's data: the training stream a config asks for, the order it is read in, and the
fixed validation set.

Example ``i`` of the stream is a pure function of ``(seed, i)``, so the sampler only has to name
global example indices: each rank reads its share of every global batch, and a resumed run starts
at the indices of its next step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from drummernet.audio import files_in
from drummernet.errors import NoAudioError
from drummernet.midi import MIDI_EXTENSIONS
from drummernet.model.kits import list_kits
from drummernet.training.config import TrainConfig
from drummernet.training.performances import groove_midi_files
from drummernet.training.stems import LabelledStems, SyntheticStems
from drummernet.training.unlabeled import ExampleSource, TrainingClips, UnlabeledAudio

#: First example index of the validation set: far beyond any training step, so the model never
#: trains on it.
VALIDATION_BASE_INDEX = 2**60


def build_dataset(
    config: TrainConfig,
    audio: Sequence[str | os.PathLike] = (),
    synthetic: bool = True,
    synthetic_midi: Sequence[str | os.PathLike] | None = None,
) -> TrainingClips:
    """The training stream: user audio and/or synthetic stems, mixed by ``synthetic_fraction``.

    With ``config.loss.onset_supervision > 0`` (the supervised reference point) the stream holds
    synthetic stems only, and its items are ``(audio, onset targets)`` pairs.

    Args:
        config: the run's config.
        audio: unlabeled audio files or folders.
        synthetic: include synthetic stems.
        synthetic_midi: drum MIDI files or folders to perform; None for procedural grooves.

    Raises:
        ValueError: onset supervision asked with ``clean_target``, ``accompaniment`` or
            unlabeled audio.
        NoAudioError: no usable audio or MIDI files in the given paths.
    """
    sr = config.model.analyzer.sample_rate
    supervised = config.loss.onset_supervision > 0
    if supervised and (config.clean_target or config.accompaniment > 0):
        raise ValueError("onset supervision cannot be combined with clean_target or accompaniment")
    if supervised and (audio or not synthetic):
        raise ValueError(
            "onset supervision trains on labelled synthetic stems only: give no unlabeled audio "
            "(synthetic_fraction 1.0 in the experiments)"
        )
    sources: list[ExampleSource] = []
    weights: list[float] = []
    if audio:
        sources.append(UnlabeledAudio(audio, config.clip_seconds, sr, seed=config.seed))
        weights.append(1.0 - config.synthetic_fraction if synthetic else 1.0)
    if synthetic:
        kits = (
            list(config.render_kits)
            or [k for k in list_kits() if k not in config.model.kits]
            or list_kits()
        )
        midi = expand_midi_paths(synthetic_midi) if synthetic_midi else None
        stems = SyntheticStems(
            kits=kits,
            midi_files=midi,
            clip_seconds=config.clip_seconds,
            sr=sr,
            augment=config.augment,
            seed=config.seed,
            voices=config.render_voices,
            clean_target=config.clean_target,
            stem_eq=config.stem_eq,
            natural_balance=config.natural_balance,
            accompaniment=config.accompaniment,
            accompaniment_db=config.accompaniment_db,
        )
        if supervised:
            analyzer = config.model.analyzer
            sources.append(LabelledStems(stems, analyzer.components, analyzer.hop_length))
        else:
            sources.append(stems)
        weights.append(config.synthetic_fraction if audio else 1.0)
    return TrainingClips(sources, weights, seed=config.seed)


def expand_midi_paths(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The MIDI files of files and folders; a Groove MIDI Dataset root gives its train split.

    Raises:
        NoAudioError: no MIDI file found.
    """
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir() and (item / "info.csv").is_file():
            files.extend(groove_midi_files(item, split="train"))
        elif item.is_dir():
            files.extend(files_in(item, MIDI_EXTENSIONS))
        elif item.is_file():
            files.append(item)
    if not files:
        raise NoAudioError(f"no MIDI files found in {', '.join(map(str, paths))}")
    return files


class IndexSampler(torch.utils.data.Sampler):
    """Global example indices for one rank, from step ``start_step`` to ``steps`` (for exact
    resume): step ``s`` reads examples ``s * batch .. (s + 1) * batch - 1``, each of ``world``
    ranks a contiguous share."""

    def __init__(self, start_step: int, steps: int, batch: int, rank: int, world: int) -> None:
        self.start, self.steps, self.batch = start_step, steps, batch
        self.rank, self.world = rank, world

    def __iter__(self) -> Iterator[int]:
        per_rank = self.batch // self.world
        for step in range(self.start, self.steps):
            base = step * self.batch + self.rank * per_rank
            yield from range(base, base + per_rank)

    def __len__(self) -> int:
        return (self.steps - self.start) * (self.batch // self.world)


def input_and_target(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(batch, samples)`` is its own target; ``(batch, 2, samples)`` holds input and target."""
    return (batch[:, 0], batch[:, 1]) if batch.ndim == 3 else (batch, batch)


def validation_set(dataset: torch.utils.data.Dataset, examples: int) -> torch.Tensor:
    """The first ``examples`` items from :data:`VALIDATION_BASE_INDEX` on, their audio stacked:
    ``(examples, samples)`` or ``(examples, 2, samples)``."""
    items = (dataset[VALIDATION_BASE_INDEX + i] for i in range(examples))
    return torch.stack([item[0] if isinstance(item, tuple) else item for item in items])
