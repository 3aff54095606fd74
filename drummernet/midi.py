"""The one MIDI reader and writer of the package: drum notes in and out of General MIDI files.

Reading serves evaluation (reference onsets) and training (performances to render); writing
serves transcription exports and the experiments' synthetic references.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drummernet.errors import MidiError

if TYPE_CHECKING:
    import pretty_midi

#: File extensions of MIDI files (lower case).
MIDI_EXTENSIONS: tuple[str, ...] = (".mid", ".midi")

#: Ticks per quarter note of written files.
MIDI_RESOLUTION = 960

#: Tempo (bpm) of a written file when none is given: pretty_midi's and the MIDI standard's.
DEFAULT_MIDI_TEMPO = 120.0


@dataclass(frozen=True)
class DrumNote:
    """One drum note: onset ``time`` in seconds, General MIDI ``pitch`` and ``velocity``."""

    time: float
    pitch: int
    velocity: int


def _parse(path: str | os.PathLike) -> pretty_midi.PrettyMIDI:
    """A MIDI file parsed by pretty_midi.

    Raises:
        MidiError: the file cannot be parsed.
    """
    import pretty_midi  # imported lazily: slow to import and only needed for MIDI sources

    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi/mido raise many types on bad files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MidiError(f"{path}: not a readable MIDI file ({reason})") from None


def read_drum_notes(path: str | os.PathLike) -> tuple[list[DrumNote], float]:
    """Read the drum notes of a MIDI file.

    Notes of drum tracks (channel 10) are read; a file with no track flagged as drums is read
    whole, since some exporters drop the channel.

    Returns:
        ``(notes sorted by time, end time of the file in seconds)``.

    Raises:
        MidiError: the file cannot be parsed.
    """
    midi = _parse(path)
    instruments = [i for i in midi.instruments if i.is_drum] or midi.instruments
    notes = [
        DrumNote(float(note.start), int(note.pitch), int(note.velocity))
        for instrument in instruments
        for note in instrument.notes
    ]
    notes.sort(key=lambda note: note.time)
    return notes, float(midi.get_end_time())


def read_tempo(path: str | os.PathLike) -> float:
    """The initial tempo (bpm) of a MIDI file, whose beat grid starts at time 0 (a file that
    sets none is at the standard's :data:`DEFAULT_MIDI_TEMPO`).

    Raises:
        MidiError: the file cannot be parsed.
    """
    _, tempi = _parse(path).get_tempo_changes()
    return float(tempi[0]) if len(tempi) else DEFAULT_MIDI_TEMPO


def drum_midi(
    notes: Iterable[DrumNote],
    note_duration: float,
    tempo: float | None = None,
    beats: Sequence[tuple[float, int]] | None = None,
) -> pretty_midi.PrettyMIDI:
    """Drum notes as a General MIDI file with one drum track.

    One instrument (``is_drum=True``, program 0, name "Drums", MIDI channel 10 when written);
    every note lasts ``note_duration`` or until the next note of the same pitch, so that no two
    notes of one pitch overlap.

    With ``beats``, the file's tempo map puts every beat on a quarter note and its time
    signatures put every downbeat on a bar line (see :func:`_set_tempo_map`), so a MIDI editor's
    bars and beats line up with the music; the notes keep their times either way.

    Args:
        notes: the notes, in any order.
        note_duration: seconds each note lasts at most.
        tempo: the initial tempo (bpm) of the file's beat grid, when no ``beats`` are given; it
            does not move notes.
        beats: ``[(time, beat in bar), ...]`` in time order, the beat in bar counted from 1 at
            each downbeat; fewer than 2 beats are ignored.
    """
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(
        resolution=MIDI_RESOLUTION, initial_tempo=tempo or DEFAULT_MIDI_TEMPO
    )
    if beats is not None and len(beats) >= 2:
        _set_tempo_map(midi, beats)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    next_start: dict[int, float] = {}
    written = []
    for note in reversed(sorted(notes, key=lambda n: n.time)):
        end = min(note.time + note_duration, next_start.get(note.pitch, math.inf))
        end = max(end, note.time + 1e-3)
        written.append(pretty_midi.Note(int(note.velocity), int(note.pitch), note.time, end))
        next_start[note.pitch] = note.time
    drums.notes = written[::-1]
    midi.instruments.append(drums)
    return midi


def _set_tempo_map(midi: pretty_midi.PrettyMIDI, beats: Sequence[tuple[float, int]]) -> None:
    """Give ``midi`` a tempo map with beat ``k`` on quarter note ``k`` and a time signature
    (``n/4``) at every bar whose length differs from the one before.

    A file's bar 1 starts at time 0. A first beat within a quarter period of 0 is taken to be
    at 0; a later one gets a lead-in beat from 0 to it, counted as the beat before it (a pickup).
    After the last beat the last tempo holds.
    """
    import pretty_midi

    times = [float(t) for t, _ in beats]
    places = [int(k) for _, k in beats]
    if times[0] < 0.25 * (times[1] - times[0]):
        times[0] = 0.0
    else:
        times.insert(0, 0.0)
        places.insert(0, places[0] - 1 if places[0] > 1 else 1)
    # pretty_midi keeps its tempo map as (tick, seconds per tick) pairs; a file it reads gets
    # its map the same way (``_load_tempo_changes``), and ``write`` writes it out.
    periods = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    # A file stores whole microseconds per quarter note: a tempo is written where that changes.
    midi._tick_scales = [
        (k * midi.resolution, period / midi.resolution)
        for k, period in enumerate(periods)
        if k == 0 or round(period * 1e6) != round(periods[k - 1] * 1e6)
    ]
    midi._update_tick_to_time(len(times) * midi.resolution)
    bar_starts = [
        k for k, place in enumerate(places) if k == 0 or place == 1 or place <= places[k - 1]
    ]
    lengths = [b - a for a, b in zip(bar_starts, bar_starts[1:] + [len(places)], strict=True)]
    if len(lengths) > 1:  # the last bar goes on past the last beat
        lengths[-1] = max(lengths[-1], lengths[-2])
    midi.time_signature_changes = [
        pretty_midi.TimeSignature(length, 4, times[start])
        for i, (start, length) in enumerate(zip(bar_starts, lengths, strict=True))
        if i == 0 or length != lengths[i - 1]
    ]
