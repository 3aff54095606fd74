"""Synthetic drum stems: a stream of rendered crops for training, with labels only when asked.

Users without drum stems can train on audio rendered here. :class:`SyntheticStems` streams random
crops of performances (drum MIDI files, or procedural grooves) rendered by
:func:`drummernet.training.render.render` as a torch ``IterableDataset``; with ``accompaniment``,
some crops are full mixes: a procedural band (:mod:`drummernet.training.accompaniment`) on the
drums' beat grid is added to the input, and the dry drums stay the target.

The trainer never sees labels; :class:`SyntheticStems` returns them only when asked, for
evaluation, or as frame-level onset targets (:func:`onset_targets`, :class:`LabelledStems`) for
the supervised upper bound, a reference point outside the method.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drummernet.constants import SAMPLE_RATE
from drummernet.midi import read_tempo
from drummernet.model.kits import DrumKit
from drummernet.training.accompaniment import accompaniment_notes, synthesize_notes
from drummernet.training.grooves import procedural_groove
from drummernet.training.performances import COMPONENT_INDEX, Performance, read_drum_midi
from drummernet.training.render import NATURAL_BALANCE_DB, PreparedKit, prepare_kit, render

#: Length of a training crop, in seconds.
DEFAULT_CLIP_SECONDS = 2.0
#: Earlier hits rendered before a crop so that their tails ring into it, in seconds.
DEFAULT_PREROLL_SECONDS = 1.5
#: Loudness that every crop of :class:`SyntheticStems` is normalised to (RMS, dB full scale).
DEFAULT_TARGET_DBFS = -20.0
#: Crops quieter than this (RMS, dBFS, before normalisation) are skipped as near-silent.
DEFAULT_SILENCE_DBFS = -60.0
#: Level of a crop's accompaniment above its drums, in dB of RMS, drawn uniformly per crop
#: (the two MDB Drums dev mixes measure +5.7 and +10.6 dB).
DEFAULT_ACCOMPANIMENT_DB: tuple[float, float] = (-6.0, 10.0)
#: Tempo range (bpm) of the accompaniment of a procedural groove, whose tempo is not kept.
ACCOMPANIMENT_TEMPO_RANGE: tuple[float, float] = (70.0, 180.0)
#: The accompaniment is played from this many seconds before a crop, so that notes held into
#: the crop and the band's room are already sounding at its start.
ACCOMPANIMENT_LEAD_SECONDS = 0.5

_MIDI_CACHE_SIZE = 4096
_MAX_SILENT_RETRIES = 50


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


class SyntheticStems(torch.utils.data.IterableDataset):
    """An endless (or fixed-length) stream of rendered drum crops for unsupervised training.

    Each item is a random ``clip_seconds`` window of a performance, either from a random file of
    ``midi_files`` or from :func:`~drummernet.training.grooves.procedural_groove`, rendered by
    :func:`~drummernet.training.render.render` together with :data:`DEFAULT_PREROLL_SECONDS` of
    earlier hits so that their tails ring into the window. Near-silent crops are skipped; the
    others are normalised to ``target_dbfs`` RMS, scaled down if that would clip.

    Item ``i`` of the stream is a pure function of ``(seed, epoch, rank, i)`` (see
    :meth:`example`): DataLoader worker ``w`` of ``W`` makes items ``w, w + W, ...``, which the
    loader interleaves back into order, so the stream is the same for any number of workers; each
    DDP rank draws its own stream; and a resumed run can skip ahead without rendering. Call
    :meth:`set_epoch` before creating the DataLoader iterator (workers copy the dataset when
    iteration starts).

    Args:
        kits: kit names (loaded with :func:`drummernet.model.kits.load_with_voices`) or kit
            objects.
        midi_files: drum MIDI files, or ``None`` for procedural grooves.
        clip_seconds: crop length in seconds.
        sr: sample rate.
        seed: base seed.
        augment: per-hit variation and mix augmentation (see
            :func:`~drummernet.training.render.render`).
        return_labels: also yield the crop's :class:`~drummernet.training.performances.Performance`
            (for evaluation only; batch with :func:`collate_with_labels`).
        rank: this process's DDP rank.
        world_size: number of DDP processes.
        clips_per_epoch: items per epoch per process (shared among workers), or ``None`` for an
            endless stream.
        target_dbfs: RMS loudness of each item.
        voices: built-in kits named in ``kits`` also load their extra voices, so MIDI notes that
            name one (a side stick...) sound it.
        clean_target: items are ``(2, samples)``: the augmented crop and its dry mix (see
            :func:`~drummernet.training.render.render`) at the same RMS, the input and the target
            of denoising reconstruction.
        stem_eq: a random EQ per drum as well.
        natural_balance: with ``augment``, each crop's drums play at
            :data:`~drummernet.training.render.NATURAL_BALANCE_DB` times a factor drawn
            uniformly from ``[0, 1]`` (0: the one-shots' own levels).
        accompaniment: probability that a crop becomes a full mix: a procedural band
            (:func:`~drummernet.training.accompaniment.accompaniment_notes`, played by
            :func:`~drummernet.training.accompaniment.synthesize_notes`) at a level drawn from
            ``accompaniment_db`` is added to the input. Its beat grid is the MIDI file's (tempo
            and time 0), or, for procedural grooves, a random tempo with a downbeat on the
            crop's first kick. Items are then ``(2, samples)`` pairs whose target is the drums
            alone (the dry mix with ``clean_target``, else the augmented drums), at the
            loudness the drums have inside the normalised input.
        accompaniment_db: ``(low, high)``: the band's RMS above the drums' (the augmented
            crop's), in dB.

    Raises:
        ValueError: no kits, an invalid rank, an empty ``midi_files``, ``accompaniment``
            outside ``[0, 1]``, or ``accompaniment_db`` not a ``(low, high)`` pair.

    Yields:
        ``audio: (samples,)`` float32 tensor (``(2, samples)``: input and target, with
        ``clean_target`` or ``accompaniment``), or
        ``(audio, labels)`` with ``return_labels``.
    """

    def __init__(
        self,
        kits: Sequence[str | DrumKit | PreparedKit],
        midi_files: Sequence[str | os.PathLike] | None = None,
        clip_seconds: float = DEFAULT_CLIP_SECONDS,
        sr: int = SAMPLE_RATE,
        seed: int = 0,
        augment: bool = True,
        return_labels: bool = False,
        rank: int = 0,
        world_size: int = 1,
        clips_per_epoch: int | None = None,
        target_dbfs: float = DEFAULT_TARGET_DBFS,
        voices: bool = False,
        clean_target: bool = False,
        stem_eq: bool = False,
        natural_balance: bool = False,
        accompaniment: float = 0.0,
        accompaniment_db: tuple[float, float] = DEFAULT_ACCOMPANIMENT_DB,
    ) -> None:
        super().__init__()
        if not kits:
            raise ValueError("SyntheticStems needs at least one kit")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, not {rank}")
        if midi_files is not None and len(midi_files) == 0:
            raise ValueError("midi_files is empty (pass None for procedural grooves)")
        check_accompaniment(accompaniment, accompaniment_db)
        self.kits = [prepare_kit(kit, sr, voices) for kit in kits]
        self.midi_files = None if midi_files is None else [Path(p) for p in midi_files]
        self.clip_seconds = float(clip_seconds)
        self.sr = int(sr)
        self.seed = int(seed)
        self.augment = augment
        self.return_labels = return_labels
        self.rank = rank
        self.world_size = world_size
        self.clips_per_epoch = clips_per_epoch
        self.target_dbfs = float(target_dbfs)
        self.clean_target = clean_target
        self.stem_eq = stem_eq
        self.natural_balance = natural_balance
        self.accompaniment = float(accompaniment)
        self.accompaniment_db = (float(accompaniment_db[0]), float(accompaniment_db[1]))
        #: Items are (input, target) pairs.
        self.pairs = clean_target or self.accompaniment > 0
        self.epoch = 0
        # Components no kit can play would be labelled yet silent, so they are never rendered.
        self._playable = sorted({c for kit in self.kits for c in kit.shots})
        self._midi_cache: dict[Path, tuple[Performance, float]] = {}

    def set_epoch(self, epoch: int) -> None:
        """Select the stream of an epoch (as with ``DistributedSampler.set_epoch``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.clips_per_epoch is None:
            raise TypeError("an endless SyntheticStems has no length (set clips_per_epoch)")
        return self.clips_per_epoch

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        end = self.clips_per_epoch
        indices = itertools.count(worker, workers) if end is None else range(worker, end, workers)
        for index in indices:
            yield self.example(index)

    def example(self, index: int) -> Any:
        """Item ``index`` of the current epoch's stream (what iteration yields)."""
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, index])
        for _ in range(_MAX_SILENT_RETRIES):
            audio, dry, labels, grid = self._render_crop(rng)
            rms = _rms(audio)
            if rms > 10 ** (DEFAULT_SILENCE_DBFS / 20):
                break
        else:
            raise RuntimeError(
                f"{_MAX_SILENT_RETRIES} crops in a row were silent: do the kits and MIDI files "
                "have drum hits?"
            )
        drums = audio
        if self.accompaniment > 0 and rng.random() < self.accompaniment:
            audio = drums + self._band(rng, grid, labels, len(drums), rms)
            rms = _rms(audio)
        gain = 10 ** (self.target_dbfs / 20) / rms
        peak = float(np.max(np.abs(audio))) * gain
        if peak > 1.0:
            gain /= peak
        audio = audio * np.float32(gain)
        if self.pairs:
            # The target at the loudness of the drums in the input: the analyzer's gains follow
            # the input, whose drums are quieter when a band plays along.
            target = drums if dry is None else dry
            target = target * np.float32(_rms(drums) * gain / max(_rms(target), 1e-12))
            audio = np.stack([audio, target])
        tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        return (tensor, labels) if self.return_labels else tensor

    def _performance(self, rng: np.random.Generator) -> tuple[Performance, float, float | None]:
        """A performance, the start of the crop in it and its tempo (None: unknown); a MIDI
        file's beat grid starts at time 0."""
        if self.midi_files is None:
            duration = DEFAULT_PREROLL_SECONDS + self.clip_seconds
            return procedural_groove(rng, duration), DEFAULT_PREROLL_SECONDS, None
        path = self.midi_files[rng.integers(len(self.midi_files))]
        cached = self._midi_cache.get(path)
        if cached is None:
            cached = read_drum_midi(path), (read_tempo(path) if self.accompaniment > 0 else 0.0)
            if len(self._midi_cache) >= _MIDI_CACHE_SIZE:
                self._midi_cache.pop(next(iter(self._midi_cache)))
            self._midi_cache[path] = cached
        performance, tempo = cached
        start = rng.uniform(0.0, max(performance.duration - self.clip_seconds, 0.0))
        return performance, start, tempo

    def _band(
        self,
        rng: np.random.Generator,
        grid: tuple[float, float] | None,
        labels: Performance,
        samples: int,
        drums_rms: float,
    ) -> np.ndarray:
        """An accompaniment of ``samples`` on the beat ``grid`` (``(tempo, time of a beat 1)``
        in the crop, or None), at a level drawn from ``accompaniment_db`` above ``drums_rms``."""
        if grid is None:
            kicks = labels.times[labels.components == COMPONENT_INDEX["KD"]]
            grid = (
                float(rng.uniform(*ACCOMPANIMENT_TEMPO_RANGE)),
                float(kicks[0]) if len(kicks) else 0.0,
            )
        tempo, downbeat = grid
        lead = int(ACCOMPANIMENT_LEAD_SECONDS * self.sr)
        seconds = (lead + samples) / self.sr
        notes = accompaniment_notes(rng, seconds, tempo, offset=downbeat + lead / self.sr)
        band = synthesize_notes(notes, seconds, rng, self.sr)[lead : lead + samples]
        band = np.pad(band, (0, samples - len(band)))
        level = 10 ** (rng.uniform(*self.accompaniment_db) / 20) * drums_rms
        return band * np.float32(level / max(_rms(band), 1e-12))

    def _render_crop(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None, Performance, tuple[float, float] | None]:
        """The crop's audio, its dry mix (with ``clean_target``, else None), its hits and its
        beat grid (``(tempo, time of a beat 1 in the crop)``, None when unknown)."""
        performance, start, tempo = self._performance(rng)
        grid = None if not tempo else (tempo, -start)
        clip = int(round(self.clip_seconds * self.sr))
        preroll = min(int(DEFAULT_PREROLL_SECONDS * self.sr), int(start * self.sr))
        first = start - preroll / self.sr
        window = performance.crop(first, first + (preroll + clip) / self.sr)
        window = window.select(self._playable)
        labels = window.crop(preroll / self.sr, (preroll + clip) / self.sr)
        if len(window) == 0:  # silent: skipped without rendering
            silent = np.zeros(clip, np.float32)
            return silent, (silent if self.clean_target else None), labels, grid
        balance = None
        if self.natural_balance and self.augment:
            share = rng.uniform()
            balance = {code: db * share for code, db in NATURAL_BALANCE_DB.items()}
        rendered = render(
            window,
            self.kits,
            rng,
            self.sr,
            self.augment,
            stem_eq=self.stem_eq,
            balance_db=balance,
            return_dry=self.clean_target,
        )
        audio, dry = rendered if isinstance(rendered, tuple) else (rendered, None)

        def crop(x: np.ndarray) -> np.ndarray:
            x = x[preroll : preroll + clip]
            return np.pad(x, (0, clip - len(x)))

        return crop(audio), (None if dry is None else crop(dry)), labels, grid


def check_accompaniment(probability: float, level_db: Sequence[float]) -> None:
    """Refuse an invalid accompaniment setting (see :class:`SyntheticStems`).

    Raises:
        ValueError: ``probability`` outside ``[0, 1]``, or ``level_db`` not a ``(low, high)``
            pair of finite dB with ``low <= high``.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"accompaniment is a probability in [0, 1], not {probability}")
    if len(level_db) != 2 or not -math.inf < level_db[0] <= level_db[1] < math.inf:
        raise ValueError(
            f"accompaniment_db must be a (low, high) pair of dB with low <= high, not {list(level_db)}"
        )


def collate_with_labels(
    batch: Sequence[tuple[torch.Tensor, Performance]],
) -> tuple[torch.Tensor, list[Performance]]:
    """DataLoader ``collate_fn`` for ``return_labels=True``: stack audio, keep labels as a list.

    Returns:
        ``(audio, labels)`` with ``audio: (batch, samples)``.
    """
    return torch.stack([audio for audio, _ in batch]), [labels for _, labels in batch]


def onset_targets(
    performance: Performance, components: Sequence[str], frames: int, frame_rate: float
) -> torch.Tensor:
    """Frame-level onset trains of a performance, on the analyzer's frame grid.

    A hit at ``t`` seconds marks frame ``round(t * frame_rate)`` (the analyzer's frame ``i``
    stands for the sample ``i * hop``). Hits of components not in ``components`` and hits outside
    the frames are dropped.

    Args:
        performance: the hits (e.g. the labels of a :class:`SyntheticStems` crop).
        components: component codes, in the analyzer's output order.
        frames: number of frames.
        frame_rate: frames per second.

    Returns:
        ``(len(components), frames)`` float32 tensor of 0s and 1s.
    """
    row = {COMPONENT_INDEX[code]: i for i, code in enumerate(components)}
    targets = torch.zeros(len(components), frames)
    rows = np.array([row.get(int(c), -1) for c in performance.components], dtype=np.int64)
    cols = np.round(performance.times * frame_rate).astype(np.int64)
    keep = (rows >= 0) & (cols >= 0) & (cols < frames)
    targets[torch.from_numpy(rows[keep]), torch.from_numpy(cols[keep])] = 1.0
    return targets


class LabelledStems:
    """The items of a :class:`SyntheticStems` with their onset targets, for the supervised upper
    bound (a reference point: the method itself never trains on labels).

    Args:
        stems: the synthetic stream (its ``return_labels`` is switched on).
        components: component codes, in the analyzer's output order.
        hop_length: samples per analyzer frame.
    """

    def __init__(self, stems: SyntheticStems, components: Sequence[str], hop_length: int) -> None:
        stems.return_labels = True
        self.stems = stems
        self.components = tuple(components)
        self.hop_length = int(hop_length)

    def example(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``index``: ``audio: (samples,)`` and ``targets: (n_components, frames)``, with
        ``frames = ceil(samples / hop_length)`` as in the analyzer."""
        audio, labels = self.stems.example(index)
        frames = max(1, math.ceil(audio.shape[-1] / self.hop_length))
        rate = self.stems.sr / self.hop_length
        return audio, onset_targets(labels, self.components, frames, rate)
