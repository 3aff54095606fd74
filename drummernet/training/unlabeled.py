"""Training data: fixed-length mono crops of unlabeled audio, and the mix of training sources.

Every example is a pure function of ``(seed, index)``: its source and crop (and, for synthetic
stems, the performance and its augmentation) are drawn from a random generator seeded with both.
That makes the stream reproducible, lets data-loader workers and distributed ranks split it
without coordination, and lets a resumed run continue with exactly the examples an uninterrupted
run would have seen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from drummernet.audio import AudioError, audio_info, find_audio_files, read_audio_frames
from drummernet.constants import DEFAULT_TARGET_RMS, SAMPLE_RATE, TRAINING_CROP_SILENCE_RMS
from drummernet.errors import NoAudioError

log = logging.getLogger(__name__)


def normalize_loudness(audio: np.ndarray, target_rms: float = DEFAULT_TARGET_RMS) -> np.ndarray:
    """Scale ``audio: (samples,)`` to ``target_rms``, then down so that its peak is at most 0.99."""
    rms = float(np.sqrt(np.mean(audio**2))) + 1e-12
    audio = audio * (target_rms / rms)
    peak = float(np.abs(audio).max())
    return (audio * (0.99 / peak) if peak > 0.99 else audio).astype(np.float32)


class ExampleSource(Protocol):
    """A training source: example ``index`` of an endless, seeded stream."""

    def example(self, index: int) -> Any:
        """Item ``index``: a ``(samples,)`` or ``(2, samples)`` tensor, or an
        ``(audio, targets)`` pair."""
        ...


@dataclass
class _FileInfo:
    path: Path
    frames: int
    sr: int


class UnlabeledAudio:
    """Random crops of a collection of audio files (any rate, channels, wav/flac/ogg/mp3).

    Args:
        paths: files and/or directories (searched recursively).
        clip_seconds: crop length.
        sr: output sample rate.
        seed: stream seed; crop ``index`` is drawn with ``default_rng([seed, index])``.

    Unreadable files are logged once, skipped and counted in :attr:`skipped`.

    Raises:
        NoAudioError: none of the paths holds usable audio.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        clip_seconds: float = 2.0,
        sr: int = SAMPLE_RATE,
        seed: int = 0,
    ) -> None:
        self.sr = sr
        self.seed = seed
        self.clip_seconds = clip_seconds
        self.files: list[_FileInfo] = []
        self.skipped: list[tuple[Path, str]] = []
        for path in find_audio_files(list(paths)):
            try:
                info = audio_info(path)
                self.files.append(_FileInfo(path, info.frames, info.sample_rate))
            except Exception as error:  # one bad file must not end a long training run
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                self.skipped.append((path, reason))
                log.warning("skipping unreadable audio %s (%s)", path, reason)
        if not self.files:
            where = ", ".join(str(p) for p in paths) or "(no paths given)"
            raise NoAudioError(f"no usable audio found in {where}")
        lengths = np.array([f.frames / f.sr for f in self.files])
        self._weights = lengths / lengths.sum()  # longer files are cropped more often

    @property
    def seconds(self) -> float:
        """Total duration of the usable files."""
        return float(sum(f.frames / f.sr for f in self.files))

    def example(self, index: int, attempts: int = 10) -> torch.Tensor:
        """Crop ``index``: loudness-normalised ``(clip_seconds * sr,)``, a function of (seed, index).

        Raises:
            NoAudioError: ``attempts`` crops in a row were silent or unreadable.
        """
        rng = np.random.default_rng([self.seed, int(index)])
        n_out = int(round(self.clip_seconds * self.sr))
        for _ in range(attempts):
            info = self.files[rng.choice(len(self.files), p=self._weights)]
            n_in = int(round(self.clip_seconds * info.sr))
            start = int(rng.integers(0, max(1, info.frames - n_in + 1)))
            try:
                audio = read_audio_frames(info.path, start, n_in, self.sr)
            except AudioError as error:
                log.warning("failed to read %s (%s)", info.path, error)
                continue
            audio = np.pad(audio, (0, max(0, n_out - audio.size)))[:n_out]
            if (
                not np.isfinite(audio).all()
                or np.sqrt(np.mean(audio**2)) < TRAINING_CROP_SILENCE_RMS
            ):
                continue
            return torch.from_numpy(normalize_loudness(audio))
        raise NoAudioError(
            f"{attempts} crops in a row of the training audio ({len(self.files)} files) were "
            "silent or unreadable: is the audio silent?"
        )


class TrainingClips(torch.utils.data.Dataset):
    """Map-style dataset mixing sources: ``default_rng([seed, index])`` picks the source of example
    ``index``, which then renders its own example ``index``.

    Args:
        sources: objects with an ``example(index) -> (samples,) tensor`` method:
            :class:`UnlabeledAudio` and/or
            :class:`drummernet.training.stems.SyntheticStems`.
        weights: relative probability of drawing from each source (default: equal).
        seed: stream seed.

    Returns from ``__getitem__``: ``(samples,)`` float32 tensor, loudness-normalised; when a
    source's items are ``(input, target)`` rows (its ``pairs``: synthetic stems with
    ``clean_target`` or ``accompaniment``), every item is ``(2, samples)``, and the other
    sources' audio is its own target.
    """

    def __init__(
        self,
        sources: Sequence[ExampleSource],
        weights: Sequence[float] | None = None,
        seed: int = 0,
    ) -> None:
        if not sources:
            raise NoAudioError("no training audio: give audio files or enable synthetic stems")
        self.sources = list(sources)
        w = np.ones(len(self.sources)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()
        self.seed = seed
        self.pairs = any(getattr(source, "pairs", False) for source in self.sources)

    def __len__(self) -> int:
        return 2**62  # an endless stream, indexed by global example number

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, int(index)])
        source = self.sources[rng.choice(len(self.sources), p=self.weights)]
        item = source.example(int(index))
        if self.pairs and isinstance(item, torch.Tensor) and item.ndim == 1:
            item = torch.stack([item, item])
        return item
