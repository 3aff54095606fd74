"""Synthetic drum stems: drum performances (MIDI or procedural) rendered to audio for training.

DrummerNet (Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019) learns from unlabeled
drum audio by reconstructing it through a fixed drum synthesizer. Users without drum stems can
train on audio rendered here instead. The pipeline:

1. a :class:`Performance` (hit times, components, velocities) comes from a drum MIDI file
   (:func:`read_drum_midi`, e.g. the Groove MIDI Dataset via :func:`groove_midi_files`) or from the
   built-in generator :func:`procedural_groove`, so training works with no external data at all;
2. :func:`render` places one-shots from a random pool of drum kits with per-hit variation
   (velocity response, brightness, tuning, decay, hi-hat choke) and then augments the mix
   (:func:`augment_audio`: room reverb, EQ, compression, noise, gain);
3. :class:`SyntheticStems` streams random crops of such renders as a torch ``IterableDataset``.

The trainer never sees labels; :class:`SyntheticStems` returns them only when asked, for
evaluation, or as frame-level onset targets (:func:`onset_targets`, :class:`LabelledStems`) for
the supervised upper bound, a reference point outside the method. Kits are duck-typed: anything with ``name``, ``sr`` and ``samples`` (component code ->
mono one-shot), such as :class:`drummernet.kits.DrumKit`, works.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.signal
import torch

from drummernet import constants
from drummernet.audio import resample
from drummernet.constants import COMPONENTS, GM_TO_VOICE, SAMPLE_RATE, VOICE_CODES, VOICES

if TYPE_CHECKING:
    from drummernet.model.kits import DrumKit

# --------------------------------------------------------------------------------------------
# Defaults. Every tunable number lives here so the dataset, the trainer and the CLI agree.
# --------------------------------------------------------------------------------------------

#: Length of a training crop, in seconds.
DEFAULT_CLIP_SECONDS = 2.0
#: Earlier hits rendered before a crop so that their tails ring into it, in seconds.
DEFAULT_PREROLL_SECONDS = 1.5
#: Loudness that every crop of :class:`SyntheticStems` is normalised to (RMS, dB full scale).
DEFAULT_TARGET_DBFS = -20.0
#: Crops quieter than this (RMS, dBFS, before normalisation) are skipped as near-silent.
DEFAULT_SILENCE_DBFS = -60.0
#: Largest timing deviation of a humanised procedural hit, in seconds.
DEFAULT_MAX_JITTER = 0.010

#: Velocity response: amplitude = (velocity / 127) ** gamma, gamma drawn from this range ...
VELOCITY_GAMMA_RANGE = (1.5, 2.5)
#: ... or fixed to this value when rendering without augmentation.
DEFAULT_VELOCITY_GAMMA = 2.0
#: Largest tuning change of a one-shot, in semitones.
MAX_PITCH_SEMITONES = 1.0
#: Cutoff of the one-pole lowpass that darkens soft hits, in Hz.
BRIGHTNESS_CUTOFF_HZ = 3000.0
#: Share of the lowpassed one-shot in a hit of velocity 1 (0 at velocity 127).
BRIGHTNESS_DEPTH = 0.5
#: Probability that a (component, kit) pair gets a shortened decay, and its time-constant range
#: in seconds.
DECAY_PROBABILITY = 0.5
DECAY_TIME_RANGE = (0.15, 3.0)
#: Pitch/decay variants of each (component, kit) pair in one render; each hit picks one.
VARIANTS_PER_SHOT = 3
#: Largest random change of a component's level in the mix, in dB.
MIX_LEVEL_DB = 4.0
#: Probability that a component's hits each draw their own kit instead of one per performance.
PER_HIT_KIT_PROBABILITY = 0.15
#: Fade applied when a closed or pedal hat chokes a ringing open hat, in seconds.
CHOKE_FADE_SECONDS = 0.008
#: One-shot tails below this level relative to their peak are trimmed, in dB.
TRIM_DB = -60.0

#: Room reverb: RT60 range in seconds, probability of being applied, wet-mix range.
REVERB_RT60_RANGE = (0.1, 1.2)
REVERB_PROBABILITY = 0.75
REVERB_WET_RANGE = (0.05, 0.4)
#: Random EQ: probability, gain range of each band in dB.
EQ_PROBABILITY = 0.75
EQ_GAIN_DB = 6.0
#: Per-drum EQ of ``stem_eq`` renders: probability per component, gain range of each band in dB.
#: Real drums differ from the kits' one-shots drum by drum (a brighter snare, a boomier kick),
#: which a mix-wide EQ cannot imitate.
STEM_EQ_PROBABILITY = 0.75
STEM_EQ_GAIN_DB = 9.0
#: Compression: probability, threshold below peak (dB) and ratio ranges.
COMPRESSION_PROBABILITY = 0.5
COMPRESSION_THRESHOLD_DB = (-20.0, -6.0)
COMPRESSION_RATIO = (2.0, 6.0)
#: Additive noise: probability and signal-to-noise ratio range in dB.
NOISE_PROBABILITY = 0.8
NOISE_SNR_DB = (30.0, 60.0)
#: Random output gain range in dB (the result is then limited to peak <= 1).
GAIN_DB_RANGE = (-12.0, 0.0)

#: General MIDI / Roland TD-11 drum notes (the Groove MIDI Dataset's) -> component code, for
#: rendering. Rim, edge and bell articulations fold into their drum; notes not listed are dropped.
GM_TO_COMPONENT: dict[int, str] = {
    **constants.GM_TO_COMPONENT,
    # Percussion with no component of its own is rendered as the tambourine, the one "other".
    39: "OT_TMB", 56: "OT_TMB", 69: "OT_TMB", 70: "OT_TMB",  # clap, cowbell, cabasa, maracas
}  # fmt: skip

#: Styles of :func:`procedural_groove`.
PROCEDURAL_STYLES: tuple[str, ...] = (
    "rock",
    "funk",
    "shuffle",
    "half_time",
    "four_on_the_floor",
    "jazz",
    "breakbeat",
)

_INDEX = {code: i for i, code in enumerate(COMPONENTS)}
#: Index of every voice code; the components come first, so their indices are the same.
_VOICE_INDEX = {code: i for i, code in enumerate(VOICE_CODES)}
_MIDI_CACHE_SIZE = 4096
_MAX_SILENT_RETRIES = 50
_NOISE_BANK_SECONDS = 30.0
_NOISE_BANK_SEED = 20190000
_DARK_NOISE_CUTOFF_HZ = 1500.0


# --------------------------------------------------------------------------------------------
# Performances
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
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
    voices: np.ndarray | None = None

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        components = np.asarray(self.components, dtype=np.int64).reshape(-1)
        velocities = np.asarray(self.velocities, dtype=np.int64).reshape(-1)
        voices = components if self.voices is None else self.voices
        voices = np.asarray(voices, dtype=np.int64).reshape(-1)
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
        self.duration = float(self.duration)

    def __len__(self) -> int:
        return len(self.times)

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
    """Read the drum notes of a MIDI file.

    Notes of every drum track are mapped to components with :data:`GM_TO_COMPONENT`, and to the
    voice that renders them with :data:`~drummernet.constants.GM_TO_VOICE`; other notes are
    dropped.

    Args:
        path: a standard MIDI file.

    Returns:
        The performance; its duration is the end time of the file.
    """
    import pretty_midi  # imported lazily: slow to import and only needed for MIDI sources

    midi = pretty_midi.PrettyMIDI(str(path))
    times, components, velocities, voices = [], [], [], []
    for instrument in midi.instruments:
        if not instrument.is_drum:
            continue
        for note in instrument.notes:
            code = GM_TO_COMPONENT.get(note.pitch)
            if code is not None:
                times.append(note.start)
                components.append(_INDEX[code])
                velocities.append(note.velocity)
                voices.append(_VOICE_INDEX[GM_TO_VOICE.get(note.pitch, code)])
    duration = max(midi.get_end_time(), max(times, default=0.0))
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


# --------------------------------------------------------------------------------------------
# Procedural grooves
# --------------------------------------------------------------------------------------------

# Per style: tempo range (bpm), then kick and snare patterns as 16th steps of a 4/4 bar.
_STYLE_TEMPI = {
    "rock": (80.0, 160.0),
    "funk": (80.0, 125.0),
    "shuffle": (70.0, 140.0),
    "half_time": (100.0, 180.0),
    "four_on_the_floor": (110.0, 140.0),
    "jazz": (90.0, 180.0),
    "breakbeat": (85.0, 180.0),
}
_KICKS = {
    "rock": [(0, 8), (0, 8, 10), (0, 6, 8), (0, 2, 8), (0, 7, 8), (0, 8, 14)],
    "funk": [(0, 3, 6, 10), (0, 2, 7, 10), (0, 6, 10, 11), (0, 3, 8, 14), (0, 7, 10), (0, 10, 13)],
    "shuffle": [(0, 8), (0, 6, 8), (0, 8, 14), (0, 10)],
    "half_time": [(0, 10), (0, 7, 10), (0, 2, 11), (0, 3, 10, 11), (0, 6, 14)],
    "four_on_the_floor": [(0, 4, 8, 12)],
    "jazz": [(0,)],
    "breakbeat": [(0, 2, 10), (0, 2, 10, 11), (0, 6, 10), (0, 10, 11)],
}
_SNARES = {
    "half_time": [(8,)],
    "breakbeat": [(4, 12), (4, 7, 9, 12, 15), (4, 12, 15), (4, 9, 12)],
}
# Timekeeping choices per style with their probabilities.
_TIMEKEEPERS = {
    "rock": {"chh8": 0.55, "chh16": 0.1, "chh4": 0.1, "ride8": 0.2, "ride4": 0.05},
    "funk": {"chh16": 0.6, "chh8": 0.4},
    "shuffle": {"chh8": 0.6, "ride8": 0.4},
    "half_time": {"chh8": 0.5, "chh16": 0.3, "ride8": 0.2},
    "four_on_the_floor": {"offbeat_open": 0.5, "chh16": 0.3, "chh8": 0.2},
    "jazz": {"jazz_ride": 1.0},
    "breakbeat": {"chh8": 0.6, "chh16": 0.2, "ride8": 0.2},
}
_GHOST_PROBABILITY = {
    "rock": 0.05, "funk": 0.3, "shuffle": 0.2, "half_time": 0.15,
    "four_on_the_floor": 0.0, "jazz": 0.0, "breakbeat": 0.2,
}  # fmt: skip
_FILL_DRUMS = ("SD", "TT_HIT", "TT_MHT", "TT_HFT")


@dataclass(frozen=True)
class _Feel:
    """What stays fixed for one procedural performance."""

    style: str
    kicks: tuple[int, ...]
    alt_kicks: tuple[int, ...]
    snares: tuple[int, ...]
    timekeeper: str
    swing8: bool  # triplet shuffle of the 8th notes
    swing16: float  # delay of odd 16ths, as a fraction of a 16th
    ghost: float
    open_hat: float
    pedal_hat: tuple[int, ...]  # steps of the foot-closed hi-hat
    tambourine: str | None
    fill: float
    crash: float
    timing_sd: float  # seconds
    velocity_sd: float


def _choose_feel(rng: np.random.Generator, style: str) -> _Feel:
    kick_options = _KICKS[style]
    snare_options = _SNARES.get(style, [(4, 12)])
    keepers = _TIMEKEEPERS[style]
    timekeeper = str(rng.choice(list(keepers), p=np.array(list(keepers.values()))))
    electronic = style == "four_on_the_floor"
    uses_hats = timekeeper.startswith("chh") or timekeeper == "offbeat_open"
    tambourine_p = 0.4 if electronic else 0.15
    return _Feel(
        style=style,
        kicks=kick_options[rng.integers(len(kick_options))],
        alt_kicks=kick_options[rng.integers(len(kick_options))],
        snares=snare_options[rng.integers(len(snare_options))],
        timekeeper=timekeeper,
        swing8=style in ("shuffle", "jazz"),
        swing16=float(rng.uniform(0.0, 0.3))
        if style in ("funk", "half_time", "breakbeat")
        else 0.0,
        ghost=_GHOST_PROBABILITY[style] * float(rng.uniform(0.3, 1.5)),
        open_hat=float(rng.uniform(0.05, 0.25)) if uses_hats and rng.random() < 0.6 else 0.0,
        # A drummer riding the ride keeps time with the hi-hat foot.
        pedal_hat=() if uses_hats else ((4, 12), (0, 4, 8, 12))[int(rng.random() < 0.3)],
        tambourine=str(rng.choice(["backbeat", "eighths", "sixteenths"]))
        if rng.random() < tambourine_p
        else None,
        fill=float(rng.uniform(0.3, 0.8)),
        crash=float(rng.uniform(0.2, 0.6)) if style == "jazz" else float(rng.uniform(0.5, 0.9)),
        timing_sd=float(rng.uniform(0.0, 0.0015))
        if electronic
        else float(rng.uniform(0.002, 0.005)),
        velocity_sd=float(rng.uniform(1.0, 3.0)) if electronic else float(rng.uniform(3.0, 8.0)),
    )


def _timekeeping(timekeeper: str) -> list[tuple[int, str, float]]:
    """(step, component, velocity) of the hat or ride part of one bar, before humanising."""
    if timekeeper == "jazz_ride":
        return [(s, "CY_RDC", 95.0 if s in (4, 12) else 80.0) for s in (0, 4, 6, 8, 12, 14)]
    if timekeeper == "offbeat_open":
        return [(s, "HH_OHH", 90.0) for s in (2, 6, 10, 14)] + [
            (s, "HH_CHH", 70.0) for s in (0, 4, 8, 12)
        ]
    code = "HH_CHH" if timekeeper.startswith("chh") else "CY_RDC"
    spacing = {"4": 4, "8": 2, "16": 1}[timekeeper.removeprefix("chh").removeprefix("ride")]
    accents = {0: 100.0, 2: 75.0}  # quarter notes loud, 8th offbeats softer, 16ths softest
    return [(s, code, accents.get(s % 4, 55.0)) for s in range(0, 16, spacing)]


def _groove_bar(
    rng: np.random.Generator, feel: _Feel, fill: bool, crash: bool
) -> dict[tuple[int, str], float]:
    """One bar of a groove as {(16th step, component): velocity}."""
    hits: dict[tuple[int, str], float] = {}

    def add(step: int, code: str, velocity: float) -> None:
        hits[(step, code)] = max(hits.get((step, code), 0.0), velocity)

    for step, code, velocity in _timekeeping(feel.timekeeper):
        if code == "HH_CHH" and step % 4 == 2 and rng.random() < feel.open_hat:
            code = "HH_OHH"  # the next closed hat chokes it when rendered
        add(step, code, velocity)
    for step in feel.pedal_hat:
        add(step, "HH_PHH", 70.0)

    if feel.style == "jazz":
        # Feathered quarter-note kick and sparse snare comping.
        add(0, "KD", rng.uniform(30, 50))
        for step in (4, 8, 12):
            if rng.random() < 0.6:
                add(step, "KD", rng.uniform(20, 40))
        comping = [s for s in (2, 6, 10, 14, 3, 11) if rng.random() < 0.25]
        for step in comping or [int(rng.choice([6, 14]))]:
            add(step, "SD", rng.uniform(35, 75))
    else:
        kicks = feel.alt_kicks if rng.random() < 0.25 else feel.kicks
        for step in kicks:
            add(step, "KD", 105.0 if step % 4 == 0 else 90.0)
        if feel.style != "four_on_the_floor" and rng.random() < 0.1:
            add(int(rng.integers(16)), "KD", 80.0)  # an extra, off-pattern kick
        for step in feel.snares:
            add(step, "SD", 110.0 if step % 4 == 0 else 90.0)
        # Ghost notes avoid the backbeats and the steps right before them.
        for step in range(16):
            if step not in feel.snares and (step + 1) not in feel.snares:
                if feel.swing8 and step % 2:
                    continue
                if rng.random() < feel.ghost:
                    add(step, "SD", rng.uniform(15, 45))

    if feel.tambourine == "backbeat":
        for step in (4, 12):
            add(step, "OT_TMB", 85.0)
    elif feel.tambourine is not None:
        # Straight 16ths do not fit a triplet (swung) grid.
        straight = feel.tambourine == "sixteenths" and not feel.swing8
        for step in range(0, 16, 1 if straight else 2):
            add(step, "OT_TMB", 85.0 if step % 4 == 0 else 65.0)

    if fill:
        first = int(rng.choice([8, 12]))
        hits = {(s, c): v for (s, c), v in hits.items() if s < first or c in ("KD", "HH_PHH")}
        spacing = 2 if feel.swing8 or rng.random() < 0.4 else 1
        steps = list(range(first, 16, spacing))
        for i, step in enumerate(steps):
            # Fills run down the kit: snare, high tom, mid tom, floor tom.
            drum = min(len(_FILL_DRUMS) - 1, int(i * len(_FILL_DRUMS) / len(steps)))
            drum = int(np.clip(drum + rng.integers(-1, 2) * (rng.random() < 0.2), 0, 3))
            add(step, _FILL_DRUMS[drum], rng.uniform(80, 115))

    if crash:
        for key in [k for k in hits if k[0] == 0 and k[1] in ("HH_CHH", "HH_OHH", "CY_RDC")]:
            del hits[key]  # the crash replaces the timekeeper on the downbeat
        add(0, "CY_CRC", rng.uniform(100, 120))
        add(0, "KD", 110.0)
    return hits


def _step_beats(step: int, feel: _Feel) -> float:
    """Position of a 16th step within the bar in beats, after swing."""
    beat, sub = divmod(step, 4)
    if feel.swing8:
        return beat + (0.0, 1 / 3, 2 / 3, 5 / 6)[sub]
    return beat + sub / 4 + (feel.swing16 / 4 if sub % 2 else 0.0)


def procedural_groove(
    rng: np.random.Generator,
    duration: float,
    style: str | None = None,
    tempo: float | None = None,
) -> Performance:
    """Generate a humanised drum groove in 4/4.

    Kick, snare and hi-hat or ride patterns on a 16th grid (swung for shuffle and jazz), with
    timing jitter of at most :data:`DEFAULT_MAX_JITTER`, velocity accents and jitter, ghost
    notes, occasional open hats, tom fills at the end of phrases and crashes at their start, and
    sometimes a tambourine. The groove starts at a random point of its first bar.

    Args:
        rng: source of randomness; the same state gives the same groove.
        duration: length in seconds.
        style: one of :data:`PROCEDURAL_STYLES`, or ``None`` for a random one.
        tempo: beats per minute, or ``None`` for a random tempo within the style's range
            (all within 70-180 bpm).

    Returns:
        The performance; every hit time is in ``[0, duration)``.
    """
    if style is None:
        style = str(rng.choice(PROCEDURAL_STYLES))
    if style not in PROCEDURAL_STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {PROCEDURAL_STYLES}")
    if tempo is None:
        tempo = float(rng.uniform(*_STYLE_TEMPI[style]))
    feel = _choose_feel(rng, style)
    beat = 60.0 / tempo
    bar = 4 * beat
    phrase = int(rng.choice([2, 4, 4, 8]))
    offset = float(rng.uniform(0.0, bar))
    times, components, velocities = [], [], []
    for index in range(math.ceil((duration + offset) / bar)):
        bar_start = index * bar - offset
        fill = (index + 1) % phrase == 0 and rng.random() < feel.fill
        crash = index % phrase == 0 and rng.random() < feel.crash
        dynamics = rng.normal(0.0, 3.0)  # bars drift louder or softer as a whole
        for (step, code), velocity in sorted(_groove_bar(rng, feel, fill, crash).items()):
            jitter = np.clip(
                rng.normal(0.0, feel.timing_sd), -DEFAULT_MAX_JITTER, DEFAULT_MAX_JITTER
            )
            times.append(bar_start + _step_beats(step, feel) * beat + jitter)
            components.append(_INDEX[code])
            velocities.append(velocity + dynamics + rng.normal(0.0, feel.velocity_sd))
    times_array = np.array(times, dtype=np.float64)
    keep = (times_array >= 0.0) & (times_array < duration)
    return Performance(
        times_array[keep],
        np.array(components, dtype=np.int64)[keep],
        np.clip(np.round(np.array(velocities)[keep]), 1, 127),
        duration,
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _one_pole_lowpass(audio: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    pole = math.exp(-2.0 * math.pi * cutoff / sr)
    return scipy.signal.lfilter([1.0 - pole], [1.0, -pole], audio).astype(np.float32)


@dataclass(frozen=True)
class PreparedKit:
    """A drum kit made ready for :func:`render`: resampled, tails trimmed, darkened copies made.

    Build with :func:`prepare_kit`, once, when the same kits render many performances.

    Attributes:
        name: the kit's name.
        sr: sample rate of the shots.
        shots: voice index (:data:`~drummernet.constants.VOICE_CODES`; a component's index is
            its main voice's) -> ``(samples,)`` float32 one-shot.
        dark: voice index -> ``(samples,)`` the one-shot through a one-pole lowpass at
            :data:`BRIGHTNESS_CUTOFF_HZ`, mixed in for soft hits.
    """

    name: str
    sr: int
    shots: dict[int, np.ndarray]
    dark: dict[int, np.ndarray]


def prepare_kit(kit: DrumKit | PreparedKit, sr: int = SAMPLE_RATE) -> PreparedKit:
    """Prepare a kit (anything with ``name``, ``sr`` and ``samples``) for rendering at ``sr``.

    Keys outside :data:`~drummernet.constants.VOICE_CODES` are ignored; a
    :class:`PreparedKit` already at ``sr`` is returned as is.
    """
    if isinstance(kit, PreparedKit) and kit.sr == sr:
        return kit
    source = kit.shots if isinstance(kit, PreparedKit) else kit.samples
    shots, dark = {}, {}
    for key, shot in source.items():
        index = key if isinstance(key, int) else _VOICE_INDEX.get(key)
        if index is None:
            continue
        shot = resample(np.asarray(shot, dtype=np.float32).reshape(-1), int(kit.sr), sr)
        peak = float(np.max(np.abs(shot), initial=0.0))
        if peak == 0.0:
            continue
        # Trimming inaudible tails keeps every later add and resample short.
        loud = np.flatnonzero(np.abs(shot) > peak * 10 ** (TRIM_DB / 20))
        shot = np.ascontiguousarray(shot[: loud[-1] + 1])
        shots[index] = shot
        dark[index] = _one_pole_lowpass(shot, BRIGHTNESS_CUTOFF_HZ, sr)
    return PreparedKit(str(kit.name), sr, shots, dark)


def _variant(
    kit: PreparedKit, component: int, semitones: float, decay: float | None, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """A retuned, re-decayed copy of a one-shot and of its dark twin, at most ``max_len`` long."""
    shot, dark = kit.shots[component], kit.dark[component]
    ratio = 2.0 ** (semitones / 12.0)  # > 1 plays faster: higher and shorter
    length = min(int(len(shot) / ratio), max_len)
    if decay is not None:
        length = min(length, int(decay * kit.sr * 6.9) + 1)  # the envelope is at -60 dB there
    positions = np.arange(length) * ratio
    source = np.arange(len(shot))
    pair = [np.interp(positions, source, x).astype(np.float32) for x in (shot, dark)]
    if decay is not None:
        envelope = np.exp(np.arange(length, dtype=np.float32) / np.float32(-decay * kit.sr))
        pair = [x * envelope for x in pair]
    return pair[0], pair[1]


def render(
    performance: Performance,
    kits: Sequence[DrumKit | PreparedKit],
    rng: np.random.Generator,
    sr: int = SAMPLE_RATE,
    augment: bool = True,
    *,
    stem_eq: bool = False,
    return_dry: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Render a performance with one-shots from a pool of kits.

    Each component takes its one-shots from one kit of the pool drawn per performance, or with
    probability :data:`PER_HIT_KIT_PROBABILITY` from a kit drawn per hit. Kits lacking a
    component are not drawn for it; a component no kit has stays silent. A hit whose voice (see
    :attr:`Performance.voices`) the drawn kit has is played with it, else with the component's
    main one-shot. An open hat is cut
    (with a :data:`CHOKE_FADE_SECONDS` fade) by the next closed or pedal hat.

    With ``augment=True`` every hit also varies: amplitude ``(velocity / 127) ** gamma`` with
    gamma drawn from :data:`VELOCITY_GAMMA_RANGE`, softer hits mixed towards a lowpassed copy,
    tuning within +-:data:`MAX_PITCH_SEMITONES` (by resampling) and a shortened decay (an
    exponential envelope), both drawn per (component, kit) with :data:`VARIANTS_PER_SHOT` jittered
    variants that the hits pick from, and a per-component mix level within
    +-:data:`MIX_LEVEL_DB`; then the mix goes through :func:`augment_audio`.

    With ``augment=False`` the result is exactly the sum of the placed one-shots scaled by
    ``(velocity / 127) ** DEFAULT_VELOCITY_GAMMA`` (choked open hats apart), divided by its peak
    only if that exceeds 1.

    With ``stem_eq`` (and ``augment``) each component's stem also goes, with probability
    :data:`STEM_EQ_PROBABILITY`, through its own random EQ of up to +-:data:`STEM_EQ_GAIN_DB`
    before the stems are mixed. With ``return_dry`` the dry mix comes too: the same hits, with
    the same per-hit variation, before the per-drum EQ and :func:`augment_audio`. It is what the
    synthesizer's one-shots can rebuild, the target of ``clean_target`` training.

    Args:
        performance: the hits; hits at or after ``performance.duration`` are ignored.
        kits: the pool; :class:`~drummernet.kits.DrumKit` or :class:`PreparedKit` (faster).
        rng: source of randomness; the same state gives the same audio.
        sr: output sample rate.
        augment: vary hits and augment the mix (training) or render plainly.
        stem_eq: a random EQ per drum (see above).
        return_dry: also return the dry mix (see above).

    Returns:
        ``(round(performance.duration * sr),)`` float32 audio with peak <= 1; with
        ``return_dry``, ``(audio, dry)``, the dry mix as summed (not peak-limited).
    """
    if not kits:
        raise ValueError("render needs at least one kit")
    pool = [prepare_kit(kit, sr) for kit in kits]
    n = int(round(performance.duration * sr))
    out = np.zeros(n, dtype=np.float32)
    starts = np.round(performance.times * sr).astype(np.int64)
    valid = (starts >= 0) & (starts < n)
    starts, components = starts[valid], performance.components[valid]
    voices = performance.voices[valid]
    velocities = performance.velocities[valid].astype(np.float32) / 127.0
    gamma = rng.uniform(*VELOCITY_GAMMA_RANGE) if augment else DEFAULT_VELOCITY_GAMMA
    amplitudes = velocities**gamma

    # Open hats end where the next closed or pedal hat starts.
    chokers = np.sort(starts[np.isin(components, [_INDEX["HH_CHH"], _INDEX["HH_PHH"]])])
    fade_len = max(1, int(CHOKE_FADE_SECONDS * sr))
    fade = np.linspace(1.0, 0.0, fade_len + 2, dtype=np.float32)[1:-1]

    stem_eq = stem_eq and augment
    dry_out = np.zeros(n, dtype=np.float32) if return_dry else None
    variants: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for component in np.unique(components):
        component = int(component)
        candidates = [i for i, kit in enumerate(pool) if component in kit.shots]
        hits = np.flatnonzero(components == component)
        if not candidates:
            continue
        # Each drum's own stem when it is kept apart or filtered apart; else straight into the mix.
        stem = np.zeros(n, dtype=np.float32) if (return_dry or stem_eq) else out
        if augment and len(candidates) > 1 and rng.random() < PER_HIT_KIT_PROBABILITY:
            choice = rng.choice(candidates, size=len(hits))
        else:
            choice = np.full(len(hits), candidates[rng.integers(len(candidates))])
        if augment:
            level = np.float32(10 ** (rng.uniform(-MIX_LEVEL_DB, MIX_LEVEL_DB) / 20))
            variant_pick = rng.integers(VARIANTS_PER_SHOT, size=len(hits))
            # Soft hits sound darker: they excite fewer high partials.
            dry = 1.0 - BRIGHTNESS_DEPTH * (1.0 - velocities[hits])
        for j, hit in enumerate(hits):
            kit_index = int(choice[j])
            # The hit's own voice (a side stick, a China) where the kit has it.
            voice = int(voices[hit]) if int(voices[hit]) in pool[kit_index].shots else component
            if augment:
                key = (voice, kit_index)
                if key not in variants:
                    tuning = rng.uniform(-MAX_PITCH_SEMITONES, MAX_PITCH_SEMITONES)
                    decay = math.exp(rng.uniform(*np.log(DECAY_TIME_RANGE)))
                    shortened = rng.random() < DECAY_PROBABILITY
                    variants[key] = [
                        _variant(
                            pool[kit_index],
                            voice,
                            float(np.clip(tuning + rng.normal(0.0, 0.1), -1.0, 1.0)),
                            decay * rng.uniform(0.85, 1.15) if shortened else None,
                            n,
                        )
                        for _ in range(VARIANTS_PER_SHOT)
                    ]
                bright, dark = variants[key][variant_pick[j]]
            else:
                bright = pool[kit_index].shots[voice]
            start = int(starts[hit])
            length = min(len(bright), n - start)
            choke_at = None
            if component == _INDEX["HH_OHH"]:
                k = np.searchsorted(chokers, start, side="right")
                if k < len(chokers) and chokers[k] - start + fade_len < length:
                    choke_at = int(chokers[k] - start)
                    length = choke_at + fade_len
            target = stem[start : start + length]
            if augment:
                gain = amplitudes[hit] * level
                segment = (gain * dry[j]) * bright[:length] + (gain * (1 - dry[j])) * dark[:length]
            else:
                segment = amplitudes[hit] * bright[:length]
            if choke_at is not None:
                segment[choke_at:] *= fade
            target += segment
        if stem is not out:
            if dry_out is not None:
                dry_out += stem
            if stem_eq and rng.random() < STEM_EQ_PROBABILITY:
                stem = scipy.signal.sosfilt(_random_eq(rng, sr, STEM_EQ_GAIN_DB), stem)
            out += stem.astype(np.float32, copy=False)

    if augment:
        out = augment_audio(out, rng, sr)
    peak = float(np.max(np.abs(out), initial=0.0))
    if peak > 1.0:
        out /= peak
    return (out, dry_out) if dry_out is not None else out


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _noise_bank(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """White noise and its lowpassed twin, made once per rate: drawing noise costs more than
    the rest of the augmentation chain, and random slices of a long bank are as good."""
    white = np.random.default_rng(_NOISE_BANK_SEED).standard_normal(
        int(_NOISE_BANK_SECONDS * sr), dtype=np.float32
    )
    return white, _one_pole_lowpass(white, _DARK_NOISE_CUTOFF_HZ, sr)


def _noise(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """``(white, dark)`` noise of length ``n``, the dark one lowpassed from the white one."""
    white, dark = _noise_bank(sr)
    if n > len(white):
        fresh = rng.standard_normal(n, dtype=np.float32)
        return fresh, _one_pole_lowpass(fresh, _DARK_NOISE_CUTOFF_HZ, sr)
    offset = int(rng.integers(len(white) - n + 1))
    sign = np.float32(rng.choice([-1.0, 1.0]))
    return sign * white[offset : offset + n], sign * dark[offset : offset + n]


def room_impulse_response(
    rng: np.random.Generator, rt60: float, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """A synthetic room impulse response: exponentially decaying noise.

    High frequencies decay twice as fast as low ones (air and wall absorption), and a short
    random pre-delay separates the direct sound from the reverb.

    Args:
        rng: source of randomness.
        rt60: time for the low band to decay by 60 dB, in seconds.
        sr: sample rate.

    Returns:
        ``(samples,)`` float32 response with unit energy.
    """
    length = max(1, int(rt60 * sr))
    t = np.arange(length, dtype=np.float32) / np.float32(sr)
    white, low = _noise(rng, length, sr)
    decay = np.float32(-math.log(1000.0) / rt60)  # -60 dB at rt60
    tail = low * np.exp(decay * t) + (white - low) * np.exp(2 * decay * t)
    response = np.concatenate([np.zeros(int(rng.uniform(0.0, 0.02) * sr), np.float32), tail])
    return response / np.float32(np.sqrt(np.sum(response.astype(np.float64) ** 2)) + 1e-12)


def _biquad(kind: str, freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One RBJ audio-EQ-cookbook biquad (``"low"``/``"high"`` shelf or ``"peak"``), ``(6,)``."""
    a = 10 ** (gain_db / 40)
    w = 2 * math.pi * freq / sr
    cos, alpha = math.cos(w), math.sin(w) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        root = 2 * math.sqrt(a) * alpha
        sign = 1 if kind == "low" else -1
        b = [
            a * ((a + 1) - sign * (a - 1) * cos + root),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
            a * ((a + 1) - sign * (a - 1) * cos - root),
        ]
        den = [
            (a + 1) + sign * (a - 1) * cos + root,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
            (a + 1) + sign * (a - 1) * cos - root,
        ]
    return np.array(b + den) / den[0]


def _random_eq(rng: np.random.Generator, sr: int, gain_db: float = EQ_GAIN_DB) -> np.ndarray:
    """``(sections, 6)`` second-order sections of 1-3 random shelves or peaks of up to
    +-``gain_db``."""
    sections = []
    for kind in rng.choice(["low", "high", "peak"], size=int(rng.integers(1, 4)), replace=False):
        gain = rng.uniform(-gain_db, gain_db)
        if kind == "low":
            sections.append(_biquad("low", rng.uniform(60, 300), gain, 0.707, sr))
        elif kind == "high":
            freq = rng.uniform(2500, min(8000, 0.4 * sr))
            sections.append(_biquad("high", freq, gain, 0.707, sr))
        else:
            freq = math.exp(rng.uniform(math.log(150), math.log(min(6000, 0.4 * sr))))
            sections.append(_biquad("peak", freq, gain, rng.uniform(0.5, 2.0), sr))
    return np.stack(sections)


def _compress(audio: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Feed-forward compression driven by a one-pole RMS envelope follower.

    The envelope and gain are computed on 1 ms blocks and interpolated back: a gain that moves
    over milliseconds needs no per-sample computation, and this is ten times cheaper.
    """
    n = len(audio)
    peak = float(np.max(np.abs(audio), initial=0.0))
    if peak == 0.0:
        return audio
    threshold = peak * 10 ** (rng.uniform(*COMPRESSION_THRESHOLD_DB) / 20)
    ratio = rng.uniform(*COMPRESSION_RATIO)
    block = max(1, sr // 1000)
    blocks = -(-n // block)
    power = np.pad(audio, (0, blocks * block - n)).reshape(blocks, block)
    power = np.mean(power * power, axis=1, dtype=np.float64)
    attack = math.exp(-block / (rng.uniform(0.002, 0.02) * sr))
    release = math.exp(-block / (rng.uniform(0.05, 0.2) * sr))
    envelope = np.sqrt(np.maximum(scipy.signal.lfilter([1 - attack], [1, -attack], power), 0.0))
    gain = np.maximum(envelope / threshold, 1.0) ** (1.0 / ratio - 1.0)
    # Smoothing the gain slowly is what makes the release audible, as in a hardware compressor.
    gain = scipy.signal.lfilter([1 - release], [1, -release], gain, zi=[release * gain[0]])[0]
    centres = (np.arange(blocks) + 0.5) * block
    return audio * np.interp(np.arange(n), centres, gain).astype(np.float32)


def augment_audio(audio: np.ndarray, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Random production chain: room reverb, EQ, compression, additive noise and gain.

    Each stage is applied with its probability (:data:`REVERB_PROBABILITY`, ...); the output is
    limited to peak <= 1.

    Args:
        audio: ``(samples,)`` float32 mix.
        rng: source of randomness.
        sr: sample rate.

    Returns:
        ``(samples,)`` float32 augmented audio.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n = len(audio)
    if rng.random() < REVERB_PROBABILITY:
        response = room_impulse_response(rng, rng.uniform(*REVERB_RT60_RANGE), sr)
        wet = scipy.signal.oaconvolve(audio, response)[:n].astype(np.float32)
        mix = np.float32(rng.uniform(*REVERB_WET_RANGE))
        audio = (1 - mix) * audio + mix * wet
    if rng.random() < EQ_PROBABILITY:
        audio = scipy.signal.sosfilt(_random_eq(rng, sr), audio).astype(np.float32)
    if rng.random() < COMPRESSION_PROBABILITY:
        audio = _compress(audio, rng, sr)
    if rng.random() < NOISE_PROBABILITY:
        white, dark = _noise(rng, n, sr)
        noise = dark if rng.random() < 0.5 else white
        power = float(np.mean(audio.astype(np.float64) ** 2))
        noise_power = float(np.mean(noise.astype(np.float64) ** 2)) + 1e-20
        snr = rng.uniform(*NOISE_SNR_DB)
        audio = audio + noise * np.float32(math.sqrt(power / noise_power / 10 ** (snr / 10)))
    audio = audio * np.float32(10 ** (rng.uniform(*GAIN_DB_RANGE) / 20))
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio / np.float32(peak) if peak > 1.0 else audio


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def _resolve_kit(kit: str | DrumKit | PreparedKit, sr: int, voices: bool = False) -> PreparedKit:
    if isinstance(kit, str):
        # imported lazily: only needed when kits are given by name
        from drummernet.model.kits import load_with_voices

        # A built-in kit brings its extra voices (side stick, splash...) for hits that name them.
        kit = load_with_voices(kit, (*COMPONENTS, *VOICES) if voices else COMPONENTS, sr)
    return prepare_kit(kit, sr)


class SyntheticStems(torch.utils.data.IterableDataset):
    """An endless (or fixed-length) stream of rendered drum crops for unsupervised training.

    Each item is a random ``clip_seconds`` window of a performance, either from a random file of
    ``midi_files`` or from :func:`procedural_groove`, rendered by :func:`render` together with
    :data:`DEFAULT_PREROLL_SECONDS` of earlier hits so that their tails ring into the window.
    Near-silent crops are skipped; the others are normalised to ``target_dbfs`` RMS, scaled down
    if that would clip.

    Item ``i`` of the stream is a pure function of ``(seed, epoch, rank, i)`` (see
    :meth:`example`): DataLoader worker ``w`` of ``W`` makes items ``w, w + W, ...``, which the
    loader interleaves back into order, so the stream is the same for any number of workers; each
    DDP rank draws its own stream; and a resumed run can skip ahead without rendering. Call
    :meth:`set_epoch` before creating the DataLoader iterator (workers copy the dataset when
    iteration starts).

    Args:
        kits: kit names (loaded with :meth:`drummernet.kits.DrumKit.load`) or kit objects.
        midi_files: drum MIDI files, or ``None`` for procedural grooves.
        clip_seconds: crop length in seconds.
        sr: sample rate.
        seed: base seed.
        augment: per-hit variation and mix augmentation (see :func:`render`).
        return_labels: also yield the crop's :class:`Performance` (for evaluation only; batch
            with :func:`collate_with_labels`).
        rank: this process's DDP rank.
        world_size: number of DDP processes.
        clips_per_epoch: items per epoch per process (shared among workers), or ``None`` for an
            endless stream.
        target_dbfs: RMS loudness of each item.
        voices: built-in kits named in ``kits`` also load their extra voices, so MIDI notes that
            name one (a side stick...) sound it (see :func:`render`).
        clean_target: items are ``(2, samples)``: the augmented crop and its dry mix (see
            :func:`render`) at the same RMS, the input and the target of denoising
            reconstruction.
        stem_eq: a random EQ per drum as well (see :func:`render`).

    Yields:
        ``audio: (samples,)`` float32 tensor (``(2, samples)`` with ``clean_target``), or
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
    ) -> None:
        super().__init__()
        if not kits:
            raise ValueError("SyntheticStems needs at least one kit")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, not {rank}")
        if midi_files is not None and len(midi_files) == 0:
            raise ValueError("midi_files is empty (pass None for procedural grooves)")
        self.kits = [_resolve_kit(kit, sr, voices) for kit in kits]
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
        self.epoch = 0
        # Components no kit can play would be labelled yet silent, so they are never rendered.
        self._playable = sorted({c for kit in self.kits for c in kit.shots})
        self._midi_cache: dict[Path, Performance] = {}

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
            audio, dry, labels = self._render_crop(rng)
            rms = _rms(audio)
            if rms > 10 ** (DEFAULT_SILENCE_DBFS / 20):
                break
        else:
            raise RuntimeError(
                f"{_MAX_SILENT_RETRIES} crops in a row were silent: do the kits and MIDI files "
                "have drum hits?"
            )
        audio = audio * np.float32(10 ** (self.target_dbfs / 20) / rms)
        peak = float(np.max(np.abs(audio)))
        if peak > 1.0:
            audio = audio / np.float32(peak)
        if dry is not None:
            # The target at the input's loudness: the analyzer's gains follow the input.
            dry = dry * np.float32(_rms(audio) / max(_rms(dry), 1e-12))
            audio = np.stack([audio, dry])
        tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        return (tensor, labels) if self.return_labels else tensor

    def _performance(self, rng: np.random.Generator) -> tuple[Performance, float]:
        """A performance and the start of the crop in it."""
        if self.midi_files is None:
            return procedural_groove(rng, DEFAULT_PREROLL_SECONDS + self.clip_seconds), (
                DEFAULT_PREROLL_SECONDS
            )
        path = self.midi_files[rng.integers(len(self.midi_files))]
        performance = self._midi_cache.get(path)
        if performance is None:
            performance = read_drum_midi(path)
            if len(self._midi_cache) >= _MIDI_CACHE_SIZE:
                self._midi_cache.pop(next(iter(self._midi_cache)))
            self._midi_cache[path] = performance
        return performance, rng.uniform(0.0, max(performance.duration - self.clip_seconds, 0.0))

    def _render_crop(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None, Performance]:
        """The crop's audio, its dry mix (with ``clean_target``, else None) and its hits."""
        performance, start = self._performance(rng)
        clip = int(round(self.clip_seconds * self.sr))
        preroll = min(int(DEFAULT_PREROLL_SECONDS * self.sr), int(start * self.sr))
        first = start - preroll / self.sr
        window = performance.crop(first, first + (preroll + clip) / self.sr)
        window = window.select(self._playable)
        labels = window.crop(preroll / self.sr, (preroll + clip) / self.sr)
        if len(window) == 0:  # silent: skipped without rendering
            silent = np.zeros(clip, np.float32)
            return silent, (silent if self.clean_target else None), labels
        rendered = render(
            window,
            self.kits,
            rng,
            self.sr,
            self.augment,
            stem_eq=self.stem_eq,
            return_dry=self.clean_target,
        )
        audio, dry = rendered if self.clean_target else (rendered, None)

        def crop(x: np.ndarray) -> np.ndarray:
            x = x[preroll : preroll + clip]
            return np.pad(x, (0, clip - len(x)))

        return crop(audio), (None if dry is None else crop(dry)), labels


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
    row = {_INDEX[code]: i for i, code in enumerate(components)}
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
