"""Drum performances: when each component is hit, and how hard; read from drum MIDI files.

A :class:`Performance` is what the synthetic training data renders (see
:mod:`drummernet.training.render`). It comes from a drum MIDI file (:func:`read_drum_midi`, e.g.
the Groove MIDI Dataset listed by :func:`groove_midi_files`) or from the procedural generator
(:mod:`drummernet.training.grooves`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from drummernet.constants import (
    COMPONENTS,
    GM_NOTES,
    GM_TO_RENDERED_COMPONENT,
    GM_TO_VOICE,
    VOICE_CODES,
)
from drummernet.midi import DrumNote, read_drum_notes

#: Index of every component code in :data:`~drummernet.constants.COMPONENTS`.
COMPONENT_INDEX: dict[str, int] = {code: i for i, code in enumerate(COMPONENTS)}
#: Index of every voice code in :data:`~drummernet.constants.VOICE_CODES`; the components come
#: first, so their indices are the same as in :data:`COMPONENT_INDEX`.
VOICE_INDEX: dict[str, int] = {code: i for i, code in enumerate(VOICE_CODES)}


@dataclass(eq=False, init=False)
class Performance:
    """A drum performance: when each component is hit, and how hard.

    Hits are kept sorted by time.

    Attributes:
        times: ``(hits,)`` float64 onset times in seconds.
        components: ``(hits,)`` int64 indices into :data:`drummernet.constants.COMPONENTS`.
        velocities: ``(hits,)`` int64 MIDI velocities in 1..127.
        duration: length of the performance in seconds.
        voices: ``(hits,)`` int64 indices into :data:`drummernet.constants.VOICE_CODES`: which
            one-shot of its component a hit is rendered with (a side stick is a snare hit
            played with the ``SD_XS`` voice). Default: each component's main one-shot.
    """

    times: np.ndarray
    components: np.ndarray
    velocities: np.ndarray
    duration: float
    voices: np.ndarray

    def __init__(
        self,
        times: ArrayLike,
        components: ArrayLike,
        velocities: ArrayLike,
        duration: float,
        voices: ArrayLike | None = None,
    ) -> None:
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        components = np.asarray(components, dtype=np.int64).reshape(-1)
        velocities = np.asarray(velocities, dtype=np.int64).reshape(-1)
        voices = np.asarray(components if voices is None else voices, dtype=np.int64).reshape(-1)
        if not len(times) == len(components) == len(velocities) == len(voices):
            raise ValueError("times, components, velocities and voices must have the same length")
        if len(components) and (components.min() < 0 or components.max() >= len(COMPONENTS)):
            raise ValueError(f"component indices must be in 0..{len(COMPONENTS) - 1}")
        if len(voices) and (voices.min() < 0 or voices.max() >= len(VOICE_CODES)):
            raise ValueError(f"voice indices must be in 0..{len(VOICE_CODES) - 1}")
        order = np.argsort(times, kind="stable")
        self.times = times[order]
        self.components = components[order]
        self.velocities = np.clip(velocities[order], 1, 127)
        self.voices = voices[order]
        self.duration = float(duration)

    def __len__(self) -> int:
        return len(self.times)

    def drum_notes(self) -> list[DrumNote]:
        """The hits as General MIDI drum notes (each component's :data:`GM_NOTES` note), the
        exact reference of audio rendered from this performance."""
        return [
            DrumNote(float(t), GM_NOTES[COMPONENTS[c]], int(v))
            for t, c, v in zip(self.times, self.components, self.velocities, strict=True)
        ]

    def crop(self, start: float, end: float) -> Performance:
        """The hits in ``[start, end)``, with times relative to ``start``; duration ``end - start``."""
        keep = (self.times >= start) & (self.times < end)
        return Performance(
            self.times[keep] - start,
            self.components[keep],
            self.velocities[keep],
            end - start,
            self.voices[keep],
        )

    def select(self, components: Sequence[int]) -> Performance:
        """The hits of the given component indices only."""
        keep = np.isin(self.components, np.asarray(components, dtype=np.int64))
        return Performance(
            self.times[keep],
            self.components[keep],
            self.velocities[keep],
            self.duration,
            self.voices[keep],
        )


def read_drum_midi(path: str | os.PathLike) -> Performance:
    """Read the drum notes of a MIDI file as a performance.

    Notes are read by :func:`drummernet.midi.read_drum_notes` (the drum tracks) and mapped to
    components with :data:`~drummernet.constants.GM_TO_RENDERED_COMPONENT`, and to the voice that
    renders them with :data:`~drummernet.constants.GM_TO_VOICE`; other notes are dropped.

    Args:
        path: a standard MIDI file.

    Returns:
        The performance; its duration is the end time of the file.

    Raises:
        drummernet.midi.MidiError: the file cannot be parsed.
    """
    notes, end_time = read_drum_notes(path)
    times, components, velocities, voices = [], [], [], []
    for note in notes:
        code = GM_TO_RENDERED_COMPONENT.get(note.pitch)
        if code is not None:
            times.append(note.time)
            components.append(COMPONENT_INDEX[code])
            velocities.append(note.velocity)
            voices.append(VOICE_INDEX[GM_TO_VOICE.get(note.pitch, code)])
    duration = max(end_time, max(times, default=0.0))
    return Performance(
        np.array(times), np.array(components), np.array(velocities), duration, np.array(voices)
    )


def groove_midi_files(
    root: str | os.PathLike, split: str | None = "train", beat_type: str | None = None
) -> list[Path]:
    """List the MIDI files of the Groove MIDI Dataset from its ``info.csv``.

    Args:
        root: the dataset folder holding ``info.csv`` (or its parent holding ``groove/``).
        split: ``"train"``, ``"validation"``, ``"test"``, or ``None`` for all.
        beat_type: ``"beat"`` or ``"fill"`` to keep only one kind, or ``None`` for both.

    Returns:
        The MIDI paths in ``info.csv`` order.

    Raises:
        FileNotFoundError: no ``info.csv`` under ``root``.
        ValueError: an unknown split.
    """
    root = Path(root)
    if not (root / "info.csv").exists() and (root / "groove" / "info.csv").exists():
        root = root / "groove"
    info = root / "info.csv"
    if not info.exists():
        raise FileNotFoundError(f"{info}: no such file (is {root} the Groove MIDI Dataset?)")
    if split not in (None, "train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation', 'test' or None, not {split!r}")
    with open(info, newline="") as file:
        rows = list(csv.DictReader(file))
    return [
        root / row["midi_filename"]
        for row in rows
        if (split is None or row["split"] == split)
        and (beat_type is None or row["beat_type"] == beat_type)
    ]
