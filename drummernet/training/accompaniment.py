"""Procedural accompaniment: a band without drums (bass, chords, comping, a lead), as notes and
as audio, to mix with synthetic drum stems.

Full songs are drums plus pitched instruments that play on the same beat: a bass note lands with
the kick, a guitar chord with the snare. :func:`accompaniment_notes` writes such a part in 4/4
on a beat grid (a chord progression in a random key, a bass line, sustained chords, a rhythmic
comping part and a melody); :func:`synthesize_notes` plays it with simple additive instruments
(organ, strings, plucked string, overdriven guitar, bass, a voice-like lead). The notes can also
be written as MIDI and rendered by a SoundFont player, for more realistic timbres.

Nothing here is learned or labelled: it is material for evaluation (``experiments/bench_mix.py``)
and for training on mixtures, where the drums stay the reconstruction target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

from drummernet.constants import SAMPLE_RATE
from drummernet.dsp import noise, one_pole_lowpass, room_impulse_response

#: Instruments of :func:`synthesize_notes`, and the General MIDI program that stands in for each
#: when the notes are written as MIDI.
INSTRUMENTS: dict[str, int] = {
    "bass": 33,  # finger bass
    "organ": 16,
    "strings": 48,
    "pluck": 25,  # steel-string guitar
    "piano": 0,
    "drive": 29,  # overdriven guitar
    "lead": 81,  # sawtooth lead (a stand-in for a voice)
}

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as scale degrees (0 = the tonic), four chords per phrase.
_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 6, 5, 6), (0, 3, 0, 4))
# Comping rhythms: onsets (in beats) and note length (in beats) within a bar.
_COMPING = {
    "quarters": ((0, 1, 2, 3), 0.8),
    "eighths": (tuple(i / 2 for i in range(8)), 0.4),
    "offbeats": ((0.5, 1.5, 2.5, 3.5), 0.25),  # reggae skank, ska upstrokes
    "backbeat": ((1, 3), 0.6),
    "syncopated": ((0, 0.75, 1.5, 2.5, 3.0), 0.45),
}


@dataclass(frozen=True)
class Note:
    """One pitched note: ``time`` and ``duration`` in seconds, MIDI ``pitch``, ``velocity``
    (1..127) and the instrument of :data:`INSTRUMENTS` that plays it."""

    time: float
    duration: float
    pitch: int
    velocity: int
    instrument: str


def accompaniment_notes(
    rng: np.random.Generator,
    duration: float,
    tempo: float = 120.0,
    offset: float = 0.0,
) -> list[Note]:
    """Compose a 4/4 accompaniment on a beat grid.

    A random key and mode, a four-chord progression (one or two chords per bar), and three to
    five parts: always a bass line, plus a random choice among sustained chords (organ or
    strings), comping (plucked strings, piano or an overdriven guitar's power chords, in one of
    several rhythms) and a melody.

    Args:
        rng: source of randomness; the same state gives the same notes.
        duration: length in seconds; no note starts after it.
        tempo: beats per minute.
        offset: time of a downbeat (e.g. the first kick of the drums), so that the band plays
            with the drummer; the grid extends backwards from it.

    Returns:
        the notes, sorted by time.
    """
    beat = 60.0 / tempo
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    key = int(rng.integers(40, 52))  # E2..D#3: the bass register's tonic
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    chords_per_bar = 1 if rng.random() < 0.7 else 2
    first_bar = offset - np.ceil(offset / (4 * beat)) * 4 * beat
    notes: list[Note] = []

    def chord(index: int) -> list[int]:
        degree = progression[index % len(progression)]
        return [key + 12 * ((degree + s) // 7) + scale[(degree + s) % 7] for s in (0, 2, 4)]

    parts = ["bass"] + [p for p in ("sustain", "comp", "melody") if rng.random() < 0.7]
    if len(parts) == 1:
        parts.append("sustain" if rng.random() < 0.5 else "comp")
    sustain = "organ" if rng.random() < 0.5 else "strings"
    comp = ("pluck", "piano", "drive")[int(rng.integers(3))]
    rhythm, length = _COMPING[list(_COMPING)[int(rng.integers(len(_COMPING)))]]
    span = 4.0 / chords_per_bar  # beats per chord
    bass_step = min(span, (4.0, 2.0, 1.0, 0.5)[int(rng.integers(4))])  # beats per bass note
    count = int(np.ceil((duration - first_bar) / (span * beat)))
    for index in range(count):
        start = first_bar + index * span * beat
        tones = chord(index)
        if "bass" in parts:
            for step in np.arange(0.0, span, bass_step):
                pitch = tones[0] if rng.random() < 0.8 else tones[2] - 12
                notes.append(
                    Note(start + step * beat, 0.9 * bass_step * beat, pitch,
                         int(rng.integers(80, 120)), "bass")
                )  # fmt: skip
        if "sustain" in parts:
            for pitch in tones:
                notes.append(
                    Note(start, span * beat, pitch + 12 * int(rng.integers(1, 3)),
                         int(rng.integers(50, 90)), sustain)
                )  # fmt: skip
        if "comp" in parts:
            voicing = [tones[0] + 12, tones[2] + 12] if comp == "drive" else [t + 24 for t in tones]
            for onset in (o - (index % chords_per_bar) * span for o in rhythm):
                if not 0 <= onset < span:
                    continue
                velocity = int(rng.integers(60, 110))
                for k, pitch in enumerate(voicing):  # a strum: strings 10 ms apart
                    notes.append(
                        Note(start + onset * beat + 0.01 * k, length * beat, pitch, velocity, comp)
                    )
        if "melody" in parts:
            position = 0.0
            while position < span:
                steps = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
                if rng.random() < 0.8:
                    pitch = key + 24 + scale[int(rng.integers(7))] + 12 * int(rng.integers(0, 2))
                    notes.append(
                        Note(start + position * beat, 0.95 * steps * beat, pitch,
                             int(rng.integers(70, 110)), "lead")
                    )  # fmt: skip
                position += steps
    notes = [n for n in notes if 0.0 <= n.time < duration]
    return sorted(notes, key=lambda n: n.time)


def _midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _tone(
    frequency: float,
    samples: int,
    sr: int,
    amplitudes: np.ndarray,
    decays: np.ndarray | None = None,
    vibrato: tuple[float, float] = (0.0, 0.0),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A sum of harmonics ``k * frequency`` with amplitudes ``amplitudes[k - 1]``, each decaying
    with time constant ``decays[k - 1]`` seconds (``None``: sustained), with a vibrato of
    ``(rate Hz, depth as a fraction of the frequency)``. Harmonics above 0.45 ``sr`` are left
    out. Returns ``(samples,)`` float64."""
    t = np.arange(samples) / sr
    rate, depth = vibrato
    phase0 = rng.uniform(0, 2 * np.pi) if rng is not None else 0.0
    instantaneous = frequency * (1.0 + depth * np.sin(2 * np.pi * rate * t + phase0))
    phase = 2 * np.pi * np.cumsum(instantaneous) / sr
    out = np.zeros(samples)
    for k, amplitude in enumerate(amplitudes, start=1):
        if k * frequency * (1 + depth) >= 0.45 * sr:
            break
        partial = amplitude * np.sin(k * phase + (0.0 if rng is None else rng.uniform(0, 6.3)))
        if decays is not None:
            partial *= np.exp(-t / decays[k - 1])
        out += partial
    return out


def _envelope(samples: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack over ``attack`` seconds and release over the last ``release`` seconds."""
    env = np.ones(samples)
    a, r = max(1, int(attack * sr)), max(1, int(release * sr))
    env[:a] *= np.linspace(0.0, 1.0, a)[:samples]
    env[-r:] *= np.linspace(1.0, 0.0, r)[-samples:]
    return env


def _attack_noise(
    x: np.ndarray, sr: int, rng: np.random.Generator, seconds: float, level: float
) -> np.ndarray:
    """``x`` with a burst of noise at its start (a pick, a hammer, a consonant), ``level`` times
    the tone's peak, fading out over ``seconds``."""
    length = min(len(x), max(1, int(seconds * sr)))
    white, _ = noise(rng, length, sr)
    x[:length] += level * np.abs(x).max() * white * np.linspace(1.0, 0.0, length) ** 2
    return x


def _play(note: Note, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One note of an instrument of :data:`INSTRUMENTS`: ``(samples,)`` float64."""
    f = _midi_hz(note.pitch)
    k = np.arange(1, 41, dtype=np.float64)
    name = note.instrument
    tail = {"pluck": 0.3, "piano": 0.3, "bass": 0.1}.get(name, 0.05)
    n = int((note.duration + tail) * sr)
    if name == "bass":
        x = _tone(f, n, sr, 1.0 / k**2, decays=1.2 / (1 + 0.5 * k), rng=rng)
        x = one_pole_lowpass(x.astype(np.float32), 1200.0, sr).astype(np.float64)
        env = _envelope(n, sr, 0.005, tail)
    elif name == "organ":
        drawbars = np.zeros(40)
        drawbars[[0, 1, 2, 3, 5, 7]] = rng.uniform(0.2, 1.0, 6)
        x, env = _tone(f, n, sr, drawbars, rng=rng), _envelope(n, sr, 0.01, 0.05)
    elif name == "strings":
        x = _tone(f, n, sr, 1.0 / k, vibrato=(5.0, 0.004), rng=rng)
        x += _tone(f * 1.003, n, sr, 1.0 / k, vibrato=(5.5, 0.004), rng=rng)  # a second desk
        env = _envelope(n, sr, float(rng.uniform(0.08, 0.3)), 0.15)
    elif name in ("pluck", "piano"):
        slope, tau = (1.5, 1.5) if name == "pluck" else (2.0, 2.5)
        x = _tone(f, n, sr, 1.0 / k**slope, decays=tau / (1 + 0.4 * k), rng=rng)
        x = _attack_noise(x, sr, rng, seconds=0.015, level=0.5)  # the pick's or hammer's click
        env = _envelope(n, sr, 0.002, tail)
    elif name == "drive":
        x = _tone(f, n, sr, 1.0 / k, vibrato=(4.0, 0.002), rng=rng)
        x += _tone(f * 1.004, n, sr, 1.0 / k, rng=rng)  # two strings, slightly out of tune
        x = _attack_noise(x / np.abs(x).max(), sr, rng, seconds=0.02, level=0.5)
        x = np.tanh(float(rng.uniform(3.0, 10.0)) * x)
        x = one_pole_lowpass(x.astype(np.float32), float(rng.uniform(2500, 5000)), sr)
        x = x.astype(np.float64)
        env = _envelope(n, sr, 0.005, 0.05)
    elif name == "lead":
        formants = np.exp(-((k * f - rng.uniform(500, 900)) ** 2) / 2e5)
        formants += 0.6 * np.exp(-((k * f - rng.uniform(1100, 2500)) ** 2) / 5e5)
        x = _tone(f, n, sr, 0.3 / k + formants, vibrato=(5.5, 0.012), rng=rng)
        x *= 1.0 + 0.3 * np.sin(2 * np.pi * 3.0 * np.arange(n) / sr)  # phrasing, not a flat tone
        x = _attack_noise(x, sr, rng, seconds=0.06, level=0.4)  # a consonant
        white, dark = noise(rng, n, sr)
        x += 0.1 * np.abs(x).max() * (white - dark)  # breath, above the dark noise's band
        env = _envelope(n, sr, 0.04, 0.08)
    else:
        raise ValueError(f"unknown instrument {name!r}; choose from {', '.join(INSTRUMENTS)}")
    x *= env
    peak = np.abs(x).max()
    return x * (note.velocity / 127.0) ** 2 / peak if peak > 0 else x


def synthesize_notes(
    notes: list[Note],
    duration: float,
    rng: np.random.Generator,
    sr: int = SAMPLE_RATE,
) -> np.ndarray:
    """Play notes with the additive instruments, each instrument at a random level within
    +-6 dB, the band in a room (RT60 0.2-1.2 s, 10-40% wet), peak-normalised to 0.9.

    Args:
        notes: from :func:`accompaniment_notes`.
        duration: length of the result in seconds (notes ringing past it are cut).
        rng: source of randomness (phases, levels, timbre details).
        sr: sample rate.

    Returns:
        ``(samples,)`` float32.
    """
    out = np.zeros(int(round(duration * sr)))
    levels = {name: 10 ** (rng.uniform(-6, 6) / 20) for name in INSTRUMENTS}
    for note in notes:
        start = int(round(note.time * sr))
        sound = _play(note, sr, rng)[: len(out) - start]
        out[start : start + len(sound)] += levels[note.instrument] * sound
    room = room_impulse_response(rng, float(rng.uniform(0.2, 1.2)), sr)
    wet = float(rng.uniform(0.1, 0.4))
    out = (1 - wet) * out + wet * scipy.signal.oaconvolve(out, room)[: len(out)]
    peak = np.abs(out).max()
    return (out * (0.9 / peak) if peak > 0 else out).astype(np.float32)
