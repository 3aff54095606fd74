"""Quantisation: every hit to a bar, a beat and a slot of a musical grid.

Each beat is written in straight 16ths or in 8th-note triplets, whichever puts its hits
closer to the grid (triplets must halve the error, since most grooves are straight). A piece
whose off-beat 8ths lean late (:data:`~drummernet.constants.DEFAULT_SWING_RATIO`) is swung: a
beat of swung 8ths is written as straight 8ths under a "Swing" mark, and its quantised time
keeps the swing. Ghost notes (soft snare hits) are marked, not dropped; a soft hit just before
a louder one of the same drum in the same slot is a flam's grace note.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from drummernet.constants import (
    DEFAULT_FLAM_GAP,
    DEFAULT_GHOST_VELOCITY,
    DEFAULT_SUBDIVISIONS,
    DEFAULT_SWING_RATIO,
)
from drummernet.transcription.events import NoteEvent
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import Beat

#: Drums whose soft hits are written as ghost notes.
GHOST_DRUMS: tuple[str, ...] = ("SD",)

#: A swing estimate needs this many off-beat 8ths.
MIN_SWING_NOTES = 8

#: The written grid of a swung beat: straight 8ths (played at the swing ratio).
_SWING = 0


@dataclass(frozen=True)
class GridNote:
    """A hit placed on the grid.

    Attributes:
        event: the hit as transcribed.
        bar: its bar (1 at the first downbeat, 0 for a pickup).
        beat: its beat in the bar, from 1.
        position: where in the beat it is written, in ``[0, 1)`` (``1/2`` for a swung 8th).
        time: the time of its grid slot in seconds (a grace note: its own time, kept as far
            before its main note's slot as it was played).
        ghost: a ghost note (written in brackets).
        grace: a flam's grace note, written before the note of the same drum in its slot.
    """

    event: NoteEvent
    bar: int
    beat: int
    position: Fraction
    time: float
    ghost: bool = False
    grace: bool = False


def _beat_coordinates(times: np.ndarray, beat_times: np.ndarray) -> np.ndarray:
    """Each time as a fractional beat index, linear between beats and extrapolated at the
    first and last period beyond them."""
    index = np.arange(len(beat_times), dtype=np.float64)
    head, tail = beat_times[1] - beat_times[0], beat_times[-1] - beat_times[-2]
    grid = np.concatenate([[beat_times[0] - 100 * head], beat_times, [beat_times[-1] + 100 * tail]])
    return np.interp(times, grid, np.concatenate([[-100.0], index, [len(index) - 1 + 100.0]]))


def swing_ratio(coordinates: np.ndarray) -> float | None:
    """The swing of a piece: the median place, within its beat, of the off-beat 8ths (hits in
    the middle of a beat that has no 16ths or triplets), or ``None`` with fewer than
    :data:`MIN_SWING_NOTES` of them."""
    beat = np.floor(coordinates + 1 / 12)
    phase = coordinates - beat
    # A beat whose hits include a 16th, or a triplet's first off-beat, is not in swung 8ths.
    busy = set(beat[(np.abs(phase - 0.25) < 0.06) | (np.abs(phase - 1 / 3) < 0.05)].tolist())
    middle = (phase > 0.42) & (phase < 0.76) & ~np.isin(beat, list(busy))
    if middle.sum() < MIN_SWING_NOTES:
        return None
    return float(np.median(phase[middle]))


def _grid(phases: np.ndarray, weights: np.ndarray, swing: float | None) -> tuple[int, np.ndarray]:
    """The grid of one beat: ``(grid, slot of each hit)``; a grid is a subdivision count or
    :data:`_SWING`, a slot an index into :func:`_slot_positions`."""
    best: tuple[float, int, np.ndarray] | None = None
    choices = ([_SWING] if swing is not None else []) + list(DEFAULT_SUBDIVISIONS)
    for rank, grid in enumerate(choices):
        places = _slot_places(grid, swing)
        distance = np.abs(phases[:, None] - places[None, :])
        slots = distance.argmin(axis=1)
        error = float(np.sum(weights * distance.min(axis=1) ** 2))
        # A later choice must halve the error to win: straight before triplets.
        if best is None or error < 0.5 * best[0] - 1e-9 * rank:
            best = (error, grid, slots)
    assert best is not None
    return best[1], best[2]


def _slot_places(grid: int, swing: float | None) -> np.ndarray:
    """Where each slot of a grid is played, in beats (the next beat's downbeat last)."""
    if grid == _SWING:
        return np.array([0.0, swing or 0.5, 1.0])
    return np.arange(grid + 1) / grid


def _slot_positions(grid: int) -> list[Fraction]:
    """Where each slot of a grid is written, in beats."""
    if grid == _SWING:
        return [Fraction(0), Fraction(1, 2), Fraction(1)]
    return [Fraction(k, grid) for k in range(grid + 1)]


def quantize_notes(
    events: Sequence[NoteEvent],
    beats: Sequence[Beat],
    *,
    swing_threshold: float = DEFAULT_SWING_RATIO,
    ghost_velocity: float = DEFAULT_GHOST_VELOCITY,
    flam_gap: float = DEFAULT_FLAM_GAP,
) -> tuple[list[GridNote], float | None]:
    """Place hits on the grid of a beat list.

    Args:
        events: the hits.
        beats: at least 2 beats, covering the hits (hits beyond them are placed by
            extrapolating the first or last period, and take the bar numbering on).
        swing_threshold: a swing ratio at least this large makes the piece swung.
        ghost_velocity: a hit of :data:`GHOST_DRUMS` softer than this fraction of its drum's
            median velocity is a ghost note.
        flam_gap: the longest gap (seconds) between a flam's grace note and its main note.

    Returns:
        ``(notes, swing)``: the notes in time order (a hit that lands in the slot of a louder
        earlier hit of the same drum is dropped); ``swing`` is the swing ratio of a swung piece,
        else ``None``.
    """
    if len(beats) < 2:
        raise ValueError("quantisation needs at least 2 beats")
    beat_times = np.array([b.time for b in beats])
    times = np.array([e.time for e in events], dtype=np.float64)
    coordinates = _beat_coordinates(times, beat_times)
    ratio = swing_ratio(coordinates) if len(events) else None
    swing = ratio if ratio is not None and ratio >= swing_threshold else None
    medians = {
        code: float(np.median([e.velocity for e in events if e.component == code]))
        for code in {e.component for e in events}
    }

    # Hits go to beats by the finest grid first; a grid may then round a hit to the next beat.
    beat_of = np.floor(coordinates + 1 / 24).astype(np.int64)
    placed: dict[int, list[tuple[int, Fraction]]] = {}
    carried: list[int] = []
    occupied = set(beat_of.tolist())
    for beat in sorted(occupied):
        members = [*carried, *np.flatnonzero(beat_of == beat).tolist()]
        carried = []
        phases = np.clip(coordinates[members] - beat, 0.0, 1.0)
        weights = np.array([events[i].velocity for i in members], dtype=np.float64)
        grid, slots = _grid(phases, weights, swing)
        positions = _slot_positions(grid)
        places = _slot_places(grid, swing)
        for i, slot in zip(members, slots, strict=True):
            if positions[slot] == 1:
                carried.append(i)
            else:
                placed.setdefault(beat, []).append((i, positions[slot]))
                coordinates[i] = beat + places[slot]
        if carried and beat + 1 not in occupied:
            placed.setdefault(beat + 1, []).extend((i, Fraction(0)) for i in carried)
            coordinates[carried] = beat + 1
            carried = []

    # Slot times, bars and beats in bar; beats before the first or after the last beat take
    # the numbering on.
    slot_times = np.interp(
        coordinates,
        np.arange(len(beat_times), dtype=np.float64),
        beat_times,
        left=np.nan,
        right=np.nan,
    )
    period_head, period_tail = beat_times[1] - beat_times[0], beat_times[-1] - beat_times[-2]
    slot_times = np.where(coordinates < 0, beat_times[0] + coordinates * period_head, slot_times)
    last = len(beat_times) - 1
    slot_times = np.where(
        coordinates > last, beat_times[-1] + (coordinates - last) * period_tail, slot_times
    )
    notes: list[GridNote] = []
    meter = max(b.beat for b in beats)
    for beat, members in placed.items():
        bar, place = _bar_and_place(beats, beat, meter)
        by_slot: dict[tuple[Fraction, str], list[int]] = {}
        for i, position in members:
            by_slot.setdefault((position, events[i].component), []).append(i)
        for (position, code), hits in by_slot.items():
            hits.sort(key=lambda i: events[i].time)
            main = max(hits, key=lambda i: events[i].velocity)
            ghost = code in GHOST_DRUMS and events[main].velocity < ghost_velocity * medians[code]
            notes.append(
                GridNote(events[main], bar, place, position, float(slot_times[main]), ghost)
            )
            grace = [
                i
                for i in hits
                if events[main].time - flam_gap <= events[i].time < events[main].time
            ]
            if grace:
                i = grace[-1]
                offset = events[i].time - events[main].time
                notes.append(
                    GridNote(events[i], bar, place, position, max(0.0, notes[-1].time + offset),
                             grace=True)
                )  # fmt: skip
    notes.sort(key=lambda n: (n.time, not n.grace))
    return notes, swing


def _bar_and_place(beats: Sequence[Beat], index: int, meter: int) -> tuple[int, int]:
    """Bar and beat in bar of beat ``index`` of ``beats``, counting on past either end."""
    if 0 <= index < len(beats):
        return beats[index].bar, beats[index].beat
    anchor = beats[0] if index < 0 else beats[-1]
    steps = index if index < 0 else index - (len(beats) - 1)
    total = (anchor.bar * meter + anchor.beat - 1) + steps
    return total // meter, total % meter + 1


def quantize(result: Transcription, **options) -> Transcription:
    """A copy of ``result`` with every hit moved to its grid slot (:func:`quantize_notes`;
    ``options`` are its keyword arguments); flams keep their grace notes ahead of the beat.

    ``result`` needs its :attr:`~Transcription.beats` (``drummernet.notation.with_beats``);
    without a steady beat (no beats) it is returned as it is: there is no grid to quantise to.
    """
    if not result.beats or len(result.beats) < 2:
        return result
    notes, _ = quantize_notes(result.events, result.beats, **options)
    events = [dataclasses.replace(n.event, time=round(n.time, 6)) for n in notes]
    return dataclasses.replace(result, events=events)
