"""Transcription: the analyzer's impulse activations -> drum note events, and their exports.

DrummerNet (Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019) analyses audio into
sparse non-negative activations, one row per drum component, whose nonzero frames are impulses
that the fixed synthesizer turns into one-shots: "component c was hit at frame t with amplitude
a". :func:`activations_to_events` reads them as notes (peak picking, duplicate merging, velocity
calibration) and :class:`Transcription` holds the result with its exports: MIDI, JSON, CSV, a
resynthesis with any drum kit, and a plot.

The velocity calibration: an impulse of amplitude ``a`` (in the recording normalised to
:data:`~drummernet.constants.DEFAULT_TARGET_RMS`) becomes

    ``velocity = clip(round(127 * (a / reference) ** (1 / gamma)), 1, 127)``

with ``reference = DEFAULT_REFERENCE_AMPLITUDE`` (velocity 127) and ``gamma =
DEFAULT_VELOCITY_GAMMA`` (2: amplitude grows as velocity squared, so halving the velocity is
-12 dB). :func:`velocity_to_amplitude` is its inverse, which :meth:`Transcription.resynthesize`
uses.

Nothing here needs torch except :meth:`Transcription.resynthesize` (to load a kit), which imports
it lazily; plotting needs the optional matplotlib.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drummernet.audio import atomic_write
from drummernet.constants import (
    COMPONENT_NAMES,
    COMPONENTS,
    DEFAULT_ANALYSIS_WINDOW,
    DEFAULT_CONTRAST_WINDOW,
    DEFAULT_DECAY_MASK,
    DEFAULT_EXCLUSIVE_GROUPS,
    DEFAULT_MIN_GAP,
    DEFAULT_NOTE_DURATION,
    DEFAULT_ONSET_CONTRAST,
    DEFAULT_REFERENCE_AMPLITUDE,
    DEFAULT_RELATIVE_THRESHOLD,
    DEFAULT_THRESHOLD,
    DEFAULT_VELOCITY_GAMMA,
    GM_NOTES,
    RELATIVE_MIN_CANDIDATES,
    RELATIVE_QUANTILE,
    SAMPLE_RATE,
    component_class,
    voice_component,
)
from drummernet.midi import DrumNote, drum_midi

if TYPE_CHECKING:
    import pretty_midi

#: Columns of :meth:`Transcription.write_csv`.
CSV_COLUMNS: tuple[str, ...] = ("time", "component", "note", "velocity")

#: Version of the JSON written by :meth:`Transcription.to_json`.
JSON_FORMAT_VERSION = 1

#: Tempo estimation needs at least this many events; fewer give no tempo.
MIN_EVENTS_FOR_TEMPO = 4

#: Tempo estimation: onset-envelope frame rate, longest beat period considered (s), and the
#: log-normal prior over tempi librosa uses (centre in bpm, spread in octaves).
_TEMPO_FPS = 100
_TEMPO_MAX_PERIOD = 4.0
_TEMPO_PRIOR_BPM = 120.0
_TEMPO_PRIOR_OCTAVES = 1.0
_TEMPO_RANGE_BPM = (30.0, 300.0)

#: Height (Hz) at which :meth:`Transcription.plot` marks each component's hits on the
#: spectrogram: roughly where each drum has its energy, so the marks sit on the strokes.
_PLOT_HZ: dict[str, float] = {
    "KD": 60.0, "TT_HFT": 90.0, "TT_MHT": 130.0, "TT_HIT": 180.0, "SD": 250.0,
    "OT_TMB": 2500.0, "CY_RDC": 3500.0, "HH_PHH": 4500.0, "HH_CHH": 5500.0, "HH_OHH": 6500.0,
    "CY_CRC": 7500.0,
}  # fmt: skip


@dataclass(frozen=True)
class NoteEvent:
    """One drum hit.

    Attributes:
        time: onset in seconds from the start of the recording.
        component: component code (see :data:`~drummernet.constants.COMPONENTS`).
        note: General MIDI drum note.
        velocity: MIDI velocity, 1..127.
    """

    time: float
    component: str
    note: int
    velocity: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": round(self.time, 6),
            "component": self.component,
            "note": self.note,
            "velocity": self.velocity,
        }


# --------------------------------------------------------------------------------------------
# Velocity calibration


def amplitude_to_velocity(
    amplitude: np.ndarray | float,
    reference: float = DEFAULT_REFERENCE_AMPLITUDE,
    gamma: float = DEFAULT_VELOCITY_GAMMA,
) -> np.ndarray:
    """Impulse amplitudes -> MIDI velocities (see the module docstring).

    Args:
        amplitude: ``(n,)`` non-negative impulse amplitudes (or a scalar).
        reference: the amplitude of velocity 127; louder hits are clipped to 127.
        gamma: amplitude grows as ``velocity ** gamma``.

    Returns:
        ``(n,)`` int64 velocities in 1..127, non-decreasing in ``amplitude``.
    """
    ratio = np.maximum(np.asarray(amplitude, dtype=np.float64), 0.0) / reference
    return np.clip(np.round(127.0 * ratio ** (1.0 / gamma)), 1, 127).astype(np.int64)


def velocity_to_amplitude(
    velocity: np.ndarray | int,
    reference: float = DEFAULT_REFERENCE_AMPLITUDE,
    gamma: float = DEFAULT_VELOCITY_GAMMA,
) -> np.ndarray:
    """MIDI velocities -> impulse amplitudes: the inverse of :func:`amplitude_to_velocity`."""
    return reference * (np.asarray(velocity, dtype=np.float64) / 127.0) ** gamma


# --------------------------------------------------------------------------------------------
# Peak picking


def _suppress(times: np.ndarray, strengths: np.ndarray, min_gap: float) -> np.ndarray:
    """Greedy non-maximum suppression in time: strongest first, drop any candidate closer than
    ``min_gap`` to one already kept.

    Only candidates with a neighbour closer than ``min_gap`` need the greedy pass, and they come
    in clusters, so the Python loop runs over the clustered ones only.

    Args:
        times: ``(n,)`` seconds, sorted ascending.
        strengths: ``(n,)``.
        min_gap: seconds.

    Returns:
        ``(n,)`` boolean mask of the kept candidates.
    """
    n = len(times)
    keep = np.ones(n, dtype=bool)
    if n < 2 or min_gap <= 0:
        return keep
    close = np.diff(times) < min_gap
    if not close.any():
        return keep
    # Clusters are maximal runs of candidates linked by gaps < min_gap.
    starts = np.flatnonzero(np.concatenate([[True], ~close]))
    ends = np.append(starts[1:], n)
    for start, end in zip(starts, ends, strict=True):
        if end - start < 2:
            continue
        kept: list[float] = []
        # Stable sort on -strength: among equals, the earlier onset wins.
        for i in start + np.argsort(-strengths[start:end], kind="stable"):
            t = times[i]
            j = bisect.bisect_left(kept, t)
            if (j < len(kept) and kept[j] - t < min_gap) or (j > 0 and t - kept[j - 1] < min_gap):
                keep[i] = False
            else:
                kept.insert(j, t)
    return keep


def _decay_mask(times: np.ndarray, strengths: np.ndarray, tau: float) -> np.ndarray:
    """Keep hits that rise above the decaying envelope of the previous kept hit.

    Args:
        times: ``(n,)`` seconds, sorted ascending (one component).
        strengths: ``(n,)``.
        tau: decay time constant in seconds; ``<= 0`` keeps everything.

    Returns:
        ``(n,)`` boolean mask.
    """
    keep = np.ones(len(times), dtype=bool)
    if tau <= 0 or len(times) < 2:
        return keep
    last_time, last_strength = times[0], strengths[0]
    for i in range(1, len(times)):
        if strengths[i] < last_strength * np.exp(-(times[i] - last_time) / tau):
            keep[i] = False
        else:
            last_time, last_strength = times[i], strengths[i]
    return keep


def _recent_level(
    activations: np.ndarray,
    rows: np.ndarray,
    frames: np.ndarray,
    window: float,
    unit: float,
    gap: int,
) -> np.ndarray:
    """Mean impulse mass per ``unit`` frames of ``activations[rows]`` over the ``window`` frames
    that end ``gap`` frames before ``frames`` (fewer at the start of the recording; 0 when
    there are none)."""
    cumulative = np.zeros((activations.shape[0], activations.shape[1] + 1))
    np.cumsum(activations, axis=1, out=cumulative[:, 1:])
    stop = np.maximum(frames - gap, 0)
    start = np.maximum(stop - max(int(round(window)), 1), 0)
    span = np.maximum(stop - start, 1)
    mass = cumulative[rows, stop] - cumulative[rows, start]
    return np.where(stop > start, mass / (span / unit), 0.0)


def merge_voices(
    activations: np.ndarray, codes: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Add the rows of extra voices (:data:`~drummernet.constants.VOICES`) into their components.

    A voice-aware analyzer has a row per voice (the snare and its side stick, the crash and its
    China...); a note is the component's, whichever of its voices made it.

    Args:
        activations: ``(len(codes), frames)``.
        codes: component or voice code of each row.

    Returns:
        ``(n, frames)`` float32 activations and their ``n`` component codes, in the order the
        components first appear in ``codes``. Without extra voices the input comes back as is.
    """
    components = tuple(dict.fromkeys(voice_component(code) for code in codes))
    if components == tuple(codes):
        return activations, components
    activations = np.asarray(activations, dtype=np.float32)
    out = np.zeros((len(components), activations.shape[-1]), dtype=np.float32)
    row = {code: i for i, code in enumerate(components)}
    for i, code in enumerate(codes):
        out[row[voice_component(code)]] += activations[i]
    return out, components


def relative_threshold_of(relative_threshold: float | Mapping[str, float], component: str) -> float:
    """A component's relative threshold: the value itself, or from a mapping its code's entry,
    else its class's (:func:`~drummernet.constants.component_class`), else
    :data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD`."""
    if not isinstance(relative_threshold, Mapping):
        return float(relative_threshold)
    default = relative_threshold.get(component_class(component), DEFAULT_RELATIVE_THRESHOLD)
    return float(relative_threshold.get(component, default))


def activations_to_events(
    activations: np.ndarray,
    frame_rate: float,
    components: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    min_gap: float = DEFAULT_MIN_GAP,
    *,
    decay_mask: float = DEFAULT_DECAY_MASK,
    relative_threshold: float | Mapping[str, float] = DEFAULT_RELATIVE_THRESHOLD,
    onset_contrast: float = DEFAULT_ONSET_CONTRAST,
    contrast_window: float = DEFAULT_CONTRAST_WINDOW,
    analysis_window: float = DEFAULT_ANALYSIS_WINDOW,
    refine: bool = True,
    reference_amplitude: float = DEFAULT_REFERENCE_AMPLITUDE,
    velocity_gamma: float = DEFAULT_VELOCITY_GAMMA,
    exclusive_groups: Sequence[Sequence[str]] = DEFAULT_EXCLUSIVE_GROUPS,
) -> list[NoteEvent]:
    """Turn impulse activations into note events.

    Per component: every local maximum (the first frame of a plateau) whose strength reaches
    ``threshold`` is a candidate; of candidates closer than ``min_gap`` only the strongest is
    kept. Then, within each exclusive group (the hi-hat's closed, pedal and open strokes), hits
    closer than ``min_gap`` keep only the strongest.

    A candidate must also rise above its component's recent level (``onset_contrast``): the
    analyzer's time-wise sparsemax puts one impulse in every window while a component sounds, so a
    sustained sound reads as a run of similar impulses, and only the ones that rise out of the run
    are strokes.

    With ``refine``, a candidate's strength is the sum of its frame and its two neighbours and its
    time their amplitude-weighted centre: the synthesizer places impulses on the frame grid, so an
    onset between two frames shows as two adjacent impulses that together make one hit.

    Args:
        activations: ``(n_components, frames)`` non-negative impulse amplitudes, frame ``t`` at
            time ``t / frame_rate``.
        frame_rate: activation frames per second.
        components: component code of each row.
        threshold: smallest strength that makes a note.
        min_gap: seconds; closer candidates of one component (or one exclusive group) merge.
        relative_threshold: a hit must also reach this fraction of the 95th percentile of its
            component's candidate strengths in this recording (0 disables; see
            :data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD`); or a fraction per
            component code or class (``{"HH": 0.1, "KD": 0.4}``, see
            :func:`relative_threshold_of`).
        decay_mask: seconds; a hit weaker than the exponentially decaying strength of the
            component's previous kept hit is an echo and is dropped (0 disables; see
            :data:`~drummernet.constants.DEFAULT_DECAY_MASK`).
        onset_contrast: a hit must reach this multiple of its component's recent level, the
            impulse mass per ``analysis_window`` seconds over the ``contrast_window`` seconds
            before it (0 disables; see :data:`~drummernet.constants.DEFAULT_ONSET_CONTRAST`).
        contrast_window, analysis_window: seconds (see ``onset_contrast``).
        refine: sub-frame timing and neighbour-summed strengths (see above).
        reference_amplitude, velocity_gamma: the velocity calibration of
            :func:`amplitude_to_velocity`.
        exclusive_groups: component groups of which only one sounds at a time.

    Returns:
        events sorted by time (then by component order).
    """
    activations = np.asarray(activations, dtype=np.float32)
    if activations.ndim != 2 or activations.shape[0] != len(components):
        raise ValueError(
            f"activations must be (n_components={len(components)}, frames), "
            f"got shape {activations.shape}"
        )
    unknown = [c for c in components if c not in GM_NOTES]
    if unknown:
        raise ValueError(f"unknown components {unknown}")
    if onset_contrast > 0 and not (contrast_window > 0 and analysis_window > 0):
        raise ValueError("contrast_window and analysis_window must be > 0")
    n_comp, n_frames = activations.shape
    padded = np.pad(activations, ((0, 0), (1, 1)))
    left, centre, right = padded[:, :-2], padded[:, 1:-1], padded[:, 2:]
    strength = left + centre + right if refine else centre
    is_peak = (centre > left) & (centre >= right) & (strength >= threshold)
    rows, frames = np.nonzero(is_peak)
    amps = strength[rows, frames].astype(np.float64)
    if refine:
        offsets = (right[rows, frames] - left[rows, frames]) / np.maximum(amps, 1e-12)
        times = (frames + offsets) / frame_rate
    else:
        times = frames / frame_rate
    times = np.maximum(times, 0.0)
    rising = np.ones(len(rows), dtype=bool)
    if onset_contrast > 0:
        level = _recent_level(activations, rows, frames, contrast_window * frame_rate,
                              analysis_window * frame_rate, gap=2 if refine else 1)  # fmt: skip
        rising = amps >= onset_contrast * level

    keep = np.zeros(len(rows), dtype=bool)
    for c in range(n_comp):
        idx = np.flatnonzero(rows == c)  # already in time order
        fraction = relative_threshold_of(relative_threshold, components[c])
        if fraction > 0 and len(idx) >= RELATIVE_MIN_CANDIDATES:
            floor = fraction * np.quantile(amps[idx], RELATIVE_QUANTILE)
            idx = idx[amps[idx] >= floor]
        idx = idx[rising[idx]]
        kept = idx[_suppress(times[idx], amps[idx], min_gap)]
        keep[kept[_decay_mask(times[kept], amps[kept], decay_mask)]] = True
    rows, times, amps = rows[keep], times[keep], amps[keep]

    index = {code: i for i, code in enumerate(components)}
    for group in exclusive_groups:
        members = [index[code] for code in group if code in index]
        if len(members) < 2:
            continue
        idx = np.flatnonzero(np.isin(rows, members))
        idx = idx[np.argsort(times[idx], kind="stable")]
        drop = idx[~_suppress(times[idx], amps[idx], min_gap)]
        keep = np.ones(len(rows), dtype=bool)
        keep[drop] = False
        rows, times, amps = rows[keep], times[keep], amps[keep]

    velocities = amplitude_to_velocity(amps, reference_amplitude, velocity_gamma)
    order = np.lexsort((rows, times))
    return [
        NoteEvent(float(times[i]), components[rows[i]], GM_NOTES[components[rows[i]]],
                  int(velocities[i]))
        for i in order
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Tempo


def estimate_tempo(times: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Global tempo of a list of onsets, in beats per minute.

    The method of :func:`librosa.feature.tempo` applied to an onset envelope made of the events:
    autocorrelation of the envelope, weighted by a log-normal prior around 120 bpm, arg-max. The
    autocorrelation is global (not per window as librosa's tempogram), so hour-long inputs cost
    little memory; and it is numpy's FFT, because importing librosa's core for two one-line
    functions costs the command line half a second.

    Args:
        times: ``(n,)`` onset times in seconds.
        weights: ``(n,)`` onset strengths (e.g. velocities); default all ones.

    Returns:
        the tempo, or ``None`` with fewer than :data:`MIN_EVENTS_FOR_TEMPO` onsets or no
        periodicity.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) < MIN_EVENTS_FOR_TEMPO:
        return None
    weights = np.ones(len(times)) if weights is None else np.asarray(weights, dtype=np.float64)
    envelope = np.zeros(int(math.ceil(times.max() * _TEMPO_FPS)) + 2)
    np.add.at(envelope, np.round(times * _TEMPO_FPS).astype(np.int64), weights)
    # A short smoothing lets onsets a frame off each other still reinforce one lag.
    envelope = np.convolve(envelope, np.hanning(5)[1:-1], mode="same")
    envelope -= envelope.mean()
    lags = min(len(envelope), int(_TEMPO_MAX_PERIOD * _TEMPO_FPS))
    spectrum = np.fft.rfft(envelope, 2 * len(envelope))
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[:lags]
    lag = np.arange(1, lags)
    bpm = 60.0 * _TEMPO_FPS / lag
    prior = np.exp(-0.5 * ((np.log2(bpm) - np.log2(_TEMPO_PRIOR_BPM)) / _TEMPO_PRIOR_OCTAVES) ** 2)
    prior[(bpm < _TEMPO_RANGE_BPM[0]) | (bpm > _TEMPO_RANGE_BPM[1])] = 0.0
    score = np.maximum(autocorrelation[1:], 0.0) * prior
    if not np.any(score > 0):
        return None
    return round(float(bpm[int(np.argmax(score))]), 2)


# --------------------------------------------------------------------------------------------
# The result


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
    """

    events: list[NoteEvent]
    activations: np.ndarray
    frame_rate: float
    components: tuple[str, ...]
    duration: float
    source: str | None = None
    gain: float = 1.0
    _tempo: float | None = field(default=None, init=False, repr=False, compare=False)
    _tempo_done: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = {code: i for i, code in enumerate(COMPONENTS)}
        self.events = sorted(self.events, key=lambda e: (e.time, order.get(e.component, 99)))
        self.components = tuple(self.components)
        self.duration = float(self.duration)

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
        """Estimated tempo in bpm (:func:`estimate_tempo` of the events), or ``None``."""
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
        notes of one pitch overlap. The initial tempo is :attr:`tempo` when one can be estimated
        (pretty_midi's 120 bpm otherwise); it sets only the file's beat grid, not note times.
        """
        notes = (DrumNote(event.time, event.note, event.velocity) for event in self.events)
        return drum_midi(notes, note_duration, self.tempo)

    def write_midi(
        self, path: str | os.PathLike, note_duration: float = DEFAULT_NOTE_DURATION
    ) -> Path:
        """Write :meth:`to_midi` to ``path`` atomically."""
        midi = self.to_midi(note_duration)
        return atomic_write(path, lambda tmp: midi.write(str(tmp)))

    # ----------------------------------------------------------------------------- JSON/CSV

    def to_json(self, indent: int | None = 1) -> str:
        """The events and metadata as JSON (activations are left out: they are large)."""
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
                "events": [e.to_dict() for e in self.events],
            },
            indent=indent,
        )

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        text = self.to_json()
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))

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
        )  # fmt: skip

    def to_csv(self) -> str:
        """The events as CSV text with the header ``time,component,note,velocity``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in self.events:
            writer.writerow([f"{e.time:.6f}", e.component, e.note, e.velocity])
        return buffer.getvalue()

    def write_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically."""
        text = self.to_csv()
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

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

    def resynthesize(self, kit: Any = None, sr: int | None = None) -> np.ndarray:
        """Render the events with a drum kit: drum replacement in one line.

        Each event places its component's one-shot at its time, scaled by
        :func:`velocity_to_amplitude` of its velocity: the synthesizer's contract (impulse times
        one-shot), applied to the notes rather than the raw activations.

        Args:
            kit: a built-in kit name, a kit folder or a :class:`~drummernet.kits.DrumKit`;
                default :data:`drummernet.kits.DEFAULT_KIT`.
            sr: output sample rate; default :data:`~drummernet.constants.SAMPLE_RATE`.

        Returns:
            ``(round(duration * sr),)`` float32 audio at the level of the normalised recording
            (not limited: it may exceed 1 where many hits coincide).

        Raises:
            KitError: the kit cannot be loaded.
        """
        from drummernet.audio import resample
        from drummernet.constants import DEFAULT_KIT
        from drummernet.model.kits import DrumKit

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

    def write_wav(self, path: str | os.PathLike, kit: Any = None, sr: int | None = None) -> Path:
        """Write :meth:`resynthesize` to a wav/flac file atomically, scaled down if it would clip."""
        from drummernet.audio import write_audio

        sr = sr or SAMPLE_RATE
        audio = self.resynthesize(kit, sr)
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 0.99:
            audio = audio * np.float32(0.99 / peak)
        return write_audio(path, audio, sr)

    # ------------------------------------------------------------------------------- plot

    def plot(
        self,
        path: str | os.PathLike,
        audio: np.ndarray | None = None,
        sr: int | None = None,
    ) -> Path:
        """Write a PNG: a mel spectrogram with each component's hits marked over it.

        Args:
            path: the PNG to write (atomically).
            audio: ``(samples,)`` audio to show; default the source file if it is readable, else
                the resynthesis with the default kit.
            sr: its sample rate (required with ``audio``).

        Raises:
            ModuleNotFoundError: matplotlib is not installed (``pip install drummernet[plot]``).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise ModuleNotFoundError(
                "plotting needs matplotlib: pip install 'drummernet[plot]' (or matplotlib)"
            ) from None
        import librosa
        import librosa.display

        if audio is None:
            from drummernet.audio import AudioError

            sr = SAMPLE_RATE
            try:
                if self.source is None:
                    raise AudioError("no source")
                from drummernet.transcription.inference import read_audio

                audio, _ = read_audio(self.source, sr)
            except AudioError:
                audio = self.resynthesize(sr=sr)
        elif sr is None:
            raise ValueError("sr is required with audio")
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        # At most ~4000 spectrogram columns, whatever the duration.
        hop = max(256, int(math.ceil(len(audio) / 4000)))
        mel = librosa.feature.melspectrogram(
            y=audio, sr=sr, n_fft=2048, hop_length=hop, n_mels=128, fmin=20.0, center=True
        )
        db = librosa.power_to_db(mel, ref=np.max(mel) if mel.size and mel.max() > 0 else 1.0,
                                 top_db=80.0)  # fmt: skip

        figure = Figure(figsize=(min(30.0, max(10.0, self.duration / 2)), 6), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        librosa.display.specshow(
            db, sr=sr, hop_length=hop, x_axis="time", y_axis="mel", fmin=20.0, ax=ax, cmap="magma"
        )
        colours = figure.colorbar(ax.collections[0], ax=ax, format="%+2.0f dB")
        colours.set_label("level")
        cycle = ["#00e5ff", "#76ff03", "#ffea00", "#ff9100", "#ff1744", "#d500f9", "#2979ff",
                 "#1de9b6", "#ffffff", "#c6ff00", "#f50057"]  # fmt: skip
        default_hz = np.geomspace(80.0, 7000.0, len(self.components))
        for i, (code, events) in enumerate(self.notes_by_component().items()):
            if not events:
                continue
            hz = _PLOT_HZ.get(code, float(default_hz[i % len(default_hz)]))
            ax.scatter(
                [e.time for e in events], [hz] * len(events),
                s=[8 + 40 * e.velocity / 127 for e in events], marker="v",
                color=cycle[i % len(cycle)], edgecolors="black", linewidths=0.4,
                label=f"{code} ({COMPONENT_NAMES.get(code, code)}): {len(events)}",
            )  # fmt: skip
        title = Path(self.source).name if self.source else "transcription"
        ax.set_title(f"{title}: {len(self.events)} hits")
        if self.events:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False,
                      ncol=min(6, len(self.components)))  # fmt: skip
        figure.tight_layout()
        return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"), suffix=".png")
