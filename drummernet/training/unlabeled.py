"""Training data: fixed-length mono crops of unlabeled audio and of synthetic drum stems.

Every example is a pure function of ``(seed, index)``: the crop, the synthetic performance and its
augmentation are drawn from a random generator seeded with both. That makes the stream
reproducible, lets data-loader workers and distributed ranks split it without coordination, and
lets a resumed run continue with exactly the examples an uninterrupted run would have seen.

Labels never leave this module: the trainer receives audio only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from drummernet.audio import AudioError, find_audio_files, resample
from drummernet.constants import DEFAULT_TARGET_RMS, SAMPLE_RATE
from drummernet.errors import NoAudioError

log = logging.getLogger(__name__)

#: Crops quieter than this RMS (about -50 dBFS) count as silence and are redrawn.
SILENCE_RMS = 0.003
#: Crops are normalised to this RMS (-20 dBFS, the level inference scales recordings to), then
#: scaled down if they would clip.
TARGET_RMS = DEFAULT_TARGET_RMS


def normalize_loudness(audio: np.ndarray, target_rms: float = TARGET_RMS) -> np.ndarray:
    """Scale ``audio: (samples,)`` to ``target_rms``, then down so that its peak is at most 0.99."""
    rms = float(np.sqrt(np.mean(audio**2))) + 1e-12
    audio = audio * (target_rms / rms)
    peak = float(np.abs(audio).max())
    return (audio * (0.99 / peak) if peak > 0.99 else audio).astype(np.float32)


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
                if not path.is_file():
                    raise AudioError(f"{path}: no such file")
                info = sf.info(str(path))
                if info.frames <= 0:
                    raise AudioError(f"{path}: contains no audio samples")
                self.files.append(_FileInfo(path, int(info.frames), int(info.samplerate)))
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
                data, _ = sf.read(
                    str(info.path), start=start, frames=n_in, dtype="float32", always_2d=True
                )
            except Exception as error:
                log.warning("failed to read %s (%s)", info.path, error)
                continue
            audio = resample(data.mean(axis=1), info.sr, self.sr)
            audio = np.pad(audio, (0, max(0, n_out - audio.size)))[:n_out]
            if not np.isfinite(audio).all() or np.sqrt(np.mean(audio**2)) < SILENCE_RMS:
                continue
            return torch.from_numpy(normalize_loudness(audio))
        raise NoAudioError(f"{attempts} crops in a row were silent or unreadable")


class TrainingClips(torch.utils.data.Dataset):
    """Map-style dataset mixing sources: ``default_rng([seed, index])`` picks the source of example
    ``index``, which then renders its own example ``index``.

    Args:
        sources: objects with an ``example(index) -> (samples,) tensor`` method:
            :class:`UnlabeledAudio` and/or :class:`drummernet.synthetic.SyntheticStems`.
        weights: relative probability of drawing from each source (default: equal).
        seed: stream seed.

    Returns from ``__getitem__``: ``(samples,)`` float32 tensor, loudness-normalised; when a
    source has ``clean_target`` (its items are ``(input, target)`` rows), every item is
    ``(2, samples)``, and the other sources' audio is its own target.
    """

    def __init__(
        self, sources: Sequence, weights: Sequence[float] | None = None, seed: int = 0
    ) -> None:
        if not sources:
            raise NoAudioError("no training audio: give audio files or enable synthetic stems")
        self.sources = list(sources)
        w = np.ones(len(self.sources)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()
        self.seed = seed
        self.pairs = any(getattr(source, "clean_target", False) for source in self.sources)

    def __len__(self) -> int:
        return 2**62  # an endless stream, indexed by global example number

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, int(index)])
        source = self.sources[rng.choice(len(self.sources), p=self.weights)]
        item = source.example(int(index))
        if self.pairs and isinstance(item, torch.Tensor) and item.ndim == 1:
            item = torch.stack([item, item])
        return item
