"""The result of a transcription and its exports: MIDI, JSON, CSV and a resynthesis.

:class:`Transcription` holds the note events (:mod:`drummernet.transcription.events`) with the
activations they were read from, and writes them as a General MIDI drum track (through
:func:`drummernet.midi.drum_midi`), JSON, CSV, or audio rendered with any drum kit; its plot is
:func:`drummernet.transcription.plot.plot_transcription`.

Nothing here needs torch except :meth:`Transcription.resynthesize` (to load a kit), which imports
the kits lazily; plotting needs the optional matplotlib.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drummernet.audio import atomic_write, resample, write_audio
from drummernet.constants import (
    COMPONENTS,
    DEFAULT_KIT,
    DEFAULT_NOTE_DURATION,
    DEFAULT_TEMPO_CHANGE,
    SAMPLE_RATE,
)
from drummernet.midi import DrumNote, drum_midi
from drummernet.transcription.events import NoteEvent, velocity_to_amplitude
from drummernet.transcription.plot import plot_transcription
from drummernet.transcription.tempo import Beat, estimate_tempo, tempo_changes, tempo_of_beats

if TYPE_CHECKING:
    import pretty_midi

    from drummernet.model.kits import DrumKit
    from drummernet.transcription.source import SourceDecision

#: Columns of :meth:`Transcription.write_csv`.
CSV_COLUMNS: tuple[str, ...] = ("time", "component", "note", "velocity")

#: Version of the JSON written by :meth:`Transcription.to_json`.
JSON_FORMAT_VERSION = 1


@dataclass(eq=False)  # holds arrays: compare events, not objects
class Transcription:
    """A drum transcription: note events plus the activations they were read from.

    Attributes:
        events: the hits, sorted by time.
        activations: ``(n_components, frames)`` impulse activations, frame ``t`` at time
            ``t / frame_rate`` (``(n_components, 0)`` when read back from JSON/CSV).
        frame_rate: activation frames per second.
        components: component code of each activation row.
        duration: length of the recording in seconds.
        source: the transcribed file, if any.
        gain: the factor the recording was scaled by before analysis (loudness normalisation);
            velocities and :meth:`resynthesize` refer to the scaled recording.
        beats: the beat grid, once tracked (``drummernet.notation.track_beats``); ``()`` when
            the music has no steady beat, ``None`` when none was tracked. The MIDI tempo map,
            the JSON ``"beats"`` and :attr:`tempo` follow it.
        source_decision: what :func:`~drummernet.transcription.inference.transcribe` took the
            recording for (a drum stem or a full mix, detected or given) and how a mix's drums
            were brought forward; ``None`` when not transcribed here (read back from a file).
        adaptation: how the activations were adapted to the recording: ``"wide"`` (up to
            16 kHz), ``"narrow"`` (within the analyzer's 8 kHz), ``None`` (not adapted, or read
            back from a file).
    """

    events: list[NoteEvent]
    activations: np.ndarray
    frame_rate: float
    components: tuple[str, ...]
    duration: float
    source: str | None = None
    gain: float = 1.0
    beats: tuple[Beat, ...] | None = None
    source_decision: SourceDecision | None = None
    adaptation: str | None = None
    _tempo: float | None = field(default=None, init=False, repr=False, compare=False)
    _tempo_done: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = {code: i for i, code in enumerate(COMPONENTS)}
        self.events = sorted(self.events, key=lambda e: (e.time, order.get(e.component, 99)))
        self.components = tuple(self.components)
        self.duration = float(self.duration)
        if self.beats is not None:
            self.beats = tuple(self.beats)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[NoteEvent]:
        return iter(self.events)

    def __repr__(self) -> str:
        return (
            f"Transcription({len(self.events)} events, {self.duration:.2f} s, "
            f"components={self.components}, source={self.source!r})"
        )

    def notes_by_component(self) -> dict[str, list[NoteEvent]]:
        """Component code -> its events in time order (every component, possibly empty)."""
        grouped: dict[str, list[NoteEvent]] = {code: [] for code in self.components}
        for event in self.events:
            grouped.setdefault(event.component, []).append(event)
        return grouped

    def onsets(self) -> dict[str, np.ndarray]:
        """Component code -> ``(hits,)`` onset times in seconds (every component)."""
        return {
            code: np.array([e.time for e in events], dtype=np.float64)
            for code, events in self.notes_by_component().items()
        }

    @property
    def tempo(self) -> float | None:
        """Tempo in bpm: the median of the :attr:`beats` grid, once tracked (``None`` without a
        steady beat), else :func:`estimate_tempo` of the events (``None`` if there is none)."""
        if self.beats is not None:
            return tempo_of_beats(self.beats)
        if not self._tempo_done:
            self._tempo = estimate_tempo(
                np.array([e.time for e in self.events]), np.array([e.velocity for e in self.events])
            )
            self._tempo_done = True
        return self._tempo

    # --------------------------------------------------------------------------------- MIDI

    def to_midi(self, note_duration: float = DEFAULT_NOTE_DURATION) -> pretty_midi.PrettyMIDI:
        """The events as a General MIDI drum track.

        One instrument (``is_drum=True``, program 0, name "Drums", MIDI channel 10 when written);
        every note lasts ``note_duration`` or until the next note of the same pitch, so that no two
        notes of one pitch overlap. With :attr:`beats`, the tempo map and time signatures follow
        them, beat for beat; else the tempo is :attr:`tempo` when one can be estimated
        (pretty_midi's 120 bpm otherwise). Either sets only the file's grid, not note times.
        """
        notes = (DrumNote(event.time, event.note, event.velocity) for event in self.events)
        beats = [(b.time, b.beat) for b in self.beats] if self.beats else None
        return drum_midi(notes, note_duration, self.tempo, beats)

    def write_midi(
        self,
        path: str | os.PathLike,
        note_duration: float = DEFAULT_NOTE_DURATION,
        *,
        overwrite: bool = True,
    ) -> Path:
        """Write :meth:`to_midi` to ``path`` atomically; without ``overwrite``, an existing
        ``path`` is an :class:`~drummernet.errors.OutputExistsError` (see
        :func:`drummernet.audio.atomic_write`, as for every writer here)."""
        midi = self.to_midi(note_duration)
        return atomic_write(path, lambda tmp: midi.write(str(tmp)), overwrite=overwrite)

    # ----------------------------------------------------------------------------- JSON/CSV

    def to_json(self, indent: int | None = 1) -> str:
        """The events and metadata as JSON (activations are left out: they are large).

        ``"tempo"`` is :attr:`tempo`; ``"beats"`` lists the beat grid as ``{"time", "bar",
        "beat"}`` (``[]`` when the music has no steady beat, ``null`` when none was tracked) and
        ``"tempo_changes"`` its tempo as ``{"time", "bpm"}`` wherever it changes by more than
        :data:`~drummernet.constants.DEFAULT_TEMPO_CHANGE`.
        """
        beats = self.beats or ()
        return json.dumps(
            {
                "format": "drummernet-transcription",
                "version": JSON_FORMAT_VERSION,
                "source": self.source,
                "duration": round(self.duration, 6),
                "frame_rate": self.frame_rate,
                "components": list(self.components),
                "gain": self.gain,
                "tempo": self.tempo,
                "tempo_changes": [
                    {"time": time, "bpm": bpm}
                    for time, bpm in tempo_changes(beats, DEFAULT_TEMPO_CHANGE)
                ],
                "beats": None if self.beats is None else [b.to_dict() for b in beats],
                "events": [e.to_dict() for e in self.events],
            },
            indent=indent,
        )

    def write_json(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        text = self.to_json() + "\n"
        return atomic_write(
            path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite
        )

    @classmethod
    def from_json(cls, text: str) -> Transcription:
        """Read back :meth:`to_json` output (with empty activations)."""
        data = json.loads(text)
        components = tuple(data["components"])
        return cls(
            events=[NoteEvent(float(e["time"]), str(e["component"]), int(e["note"]),
                              int(e["velocity"])) for e in data["events"]],
            activations=np.zeros((len(components), 0), dtype=np.float32),
            frame_rate=float(data["frame_rate"]),
            components=components,
            duration=float(data["duration"]),
            source=data.get("source"),
            gain=float(data.get("gain", 1.0)),
            beats=tuple(Beat(float(b["time"]), int(b["bar"]), int(b["beat"]))
                        for b in data["beats"]) if data.get("beats") is not None else None,
        )  # fmt: skip

    def to_csv(self) -> str:
        """The events as CSV text with the header ``time,component,note,velocity``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in self.events:
            writer.writerow([f"{e.time:.6f}", e.component, e.note, e.velocity])
        return buffer.getvalue()

    def write_csv(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically."""
        text = self.to_csv()
        return atomic_write(
            path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite
        )

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        components: Sequence[str] = COMPONENTS,
        frame_rate: float = SAMPLE_RATE / 80,
    ) -> Transcription:
        """Read a file written by :meth:`write_csv` (empty activations; the duration is taken to
        end with the last note)."""
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        events = [
            NoteEvent(float(r["time"]), r["component"], int(r["note"]), int(r["velocity"]))
            for r in rows
        ]
        duration = max((e.time for e in events), default=0.0) + (
            DEFAULT_NOTE_DURATION if events else 0.0
        )
        return cls(events, np.zeros((len(components), 0), dtype=np.float32), frame_rate,
                   tuple(components), duration)  # fmt: skip

    # ------------------------------------------------------------------------ resynthesis

    def resynthesize(
        self, kit: DrumKit | str | os.PathLike | None = None, sr: int | None = None
    ) -> np.ndarray:
        """Render the events with a drum kit: drum replacement in one line.

        Each event places its component's one-shot at its time, scaled by
        :func:`~drummernet.transcription.events.velocity_to_amplitude` of its velocity: the synthesizer's contract (impulse times
        one-shot), applied to the notes rather than the raw activations.

        Args:
            kit: a built-in kit name, a kit folder or a :class:`~drummernet.model.kits.DrumKit`;
                default :data:`~drummernet.constants.DEFAULT_KIT`.
            sr: output sample rate; default :data:`~drummernet.constants.SAMPLE_RATE`.

        Returns:
            ``(round(duration * sr),)`` float32 audio at the level of the normalised recording
            (not limited: it may exceed 1 where many hits coincide).

        Raises:
            KitError: the kit cannot be loaded.
        """
        from drummernet.model.kits import DrumKit  # imports torch, which nothing else here needs

        sr = sr or SAMPLE_RATE
        kit = kit if isinstance(kit, DrumKit) else DrumKit.load(kit or DEFAULT_KIT, sr=sr)
        shots = {code: resample(np.asarray(kit.samples[code], dtype=np.float32), kit.sr, sr)
                 for code in self.components if code in kit.samples}  # fmt: skip
        out = np.zeros(int(round(self.duration * sr)), dtype=np.float32)
        amplitudes = velocity_to_amplitude([e.velocity for e in self.events])
        for event, amplitude in zip(self.events, amplitudes, strict=True):
            shot = shots.get(event.component)
            start = int(round(event.time * sr))
            if shot is None or start >= len(out):
                continue
            end = min(len(out), start + len(shot))
            out[start:end] += np.float32(amplitude) * shot[: end - start]
        return out

    def write_wav(
        self,
        path: str | os.PathLike,
        kit: DrumKit | str | os.PathLike | None = None,
        sr: int | None = None,
        *,
        overwrite: bool = True,
    ) -> Path:
        """Write :meth:`resynthesize` to a wav/flac file atomically, scaled down if it would clip."""
        sr = sr or SAMPLE_RATE
        audio = self.resynthesize(kit, sr)
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 0.99:
            audio = audio * np.float32(0.99 / peak)
        return write_audio(path, audio, sr, overwrite=overwrite)

    # ------------------------------------------------------------------------------- plot

    def plot(
        self,
        path: str | os.PathLike,
        audio: np.ndarray | None = None,
        sr: int | None = None,
        *,
        overwrite: bool = True,
    ) -> Path:
        """Write a PNG: a mel spectrogram with each component's hits marked over it.

        See :func:`~drummernet.transcription.plot.plot_transcription` (``audio: (samples,)``
        at ``sr``, default the source file, else the resynthesis).
        """
        return plot_transcription(self, path, audio, sr, overwrite=overwrite)
