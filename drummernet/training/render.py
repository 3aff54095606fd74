"""Rendering performances to audio with one-shots from a pool of drum kits, for training.

:func:`render` places one-shots from a random pool of kits with per-hit variation (velocity
response, brightness, tuning, decay, hi-hat choke) and then augments the mix
(:func:`drummernet.training.augment.augment_audio`). Kits are loaded by
:mod:`drummernet.model.kits`; :func:`prepare_kit` only readies one for rendering (its rate, trimmed
tails, darkened copies for soft hits). Kits are duck-typed: anything with ``name``, ``sr`` and
``samples`` (voice code -> mono one-shot), such as :class:`drummernet.model.kits.DrumKit`, works.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import scipy.signal

from drummernet.audio import resample
from drummernet.constants import COMPONENTS, DEFAULT_VELOCITY_GAMMA, SAMPLE_RATE, VOICES
from drummernet.dsp import one_pole_lowpass
from drummernet.model.kits import DrumKit, load_with_voices
from drummernet.training.augment import augment_audio, random_eq
from drummernet.training.performances import COMPONENT_INDEX, VOICE_INDEX, Performance

#: Velocity response of augmented renders: amplitude = (velocity / 127) ** gamma, gamma drawn from
#: this range (plain renders use :data:`~drummernet.constants.DEFAULT_VELOCITY_GAMMA`).
VELOCITY_GAMMA_RANGE = (1.5, 2.5)
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
#: Level of each component against the snare in kit makers' own mixes, in dB: the mean over the
#: FluidR3 GM and MuseScore General Lite SoundFonts of the peak of each General MIDI drum note at
#: velocity 100, rendered by FluidSynth (``python -m experiments.natural_balance --soundfont F``
#: measures one; they agree on hats 9-15 dB and cymbals 6-9 dB under the snare, less on the
#: kick). The built-in one-shots are peak-normalised, so a closed hat is as loud as the snare
#: unless a render's ``balance_db`` puts such levels back.
NATURAL_BALANCE_DB = {
    "KD": 0.0,
    "SD": 0.0,
    "HH_CHH": -11.9,
    "HH_PHH": -9.9,
    "HH_OHH": -10.2,
    "TT_HIT": -2.5,
    "TT_MHT": -0.7,
    "TT_HFT": -2.6,
    "CY_RDC": -8.6,
    "CY_CRC": -6.6,
    "OT_TMB": -2.1,
}
#: Probability that a component's hits each draw their own kit instead of one per performance.
PER_HIT_KIT_PROBABILITY = 0.15
#: Fade applied when a closed or pedal hat chokes a ringing open hat, in seconds.
CHOKE_FADE_SECONDS = 0.008
#: One-shot tails below this level relative to their peak are trimmed, in dB.
TRIM_DB = -60.0
#: Per-drum EQ of ``stem_eq`` renders: probability per component, gain range of each band in dB.
#: Real drums differ from the kits' one-shots drum by drum (a brighter snare, a boomier kick),
#: which a mix-wide EQ cannot imitate.
STEM_EQ_PROBABILITY = 0.75
STEM_EQ_GAIN_DB = 9.0

_OPEN_HAT = COMPONENT_INDEX["HH_OHH"]
_HAT_CHOKERS = [COMPONENT_INDEX["HH_CHH"], COMPONENT_INDEX["HH_PHH"]]


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


def prepare_kit(
    kit: str | DrumKit | PreparedKit, sr: int = SAMPLE_RATE, voices: bool = False
) -> PreparedKit:
    """Prepare a kit for rendering at ``sr``.

    Args:
        kit: a kit name (loaded with :func:`drummernet.model.kits.load_with_voices`), a kit
            object (anything with ``name``, ``sr`` and ``samples``), or a :class:`PreparedKit`
            (returned as is when already at ``sr``). Sample keys outside
            :data:`~drummernet.constants.VOICE_CODES` are ignored.
        sr: the rendering rate.
        voices: a kit given by name also brings the extra voices it has (side stick,
            splash...), for hits that name them.
    """
    if isinstance(kit, str):
        kit = load_with_voices(kit, (*COMPONENTS, *VOICES) if voices else COMPONENTS, sr)
    if isinstance(kit, PreparedKit) and kit.sr == sr:
        return kit
    source: dict = kit.shots if isinstance(kit, PreparedKit) else kit.samples
    shots, dark = {}, {}
    for key, shot in source.items():
        index = key if isinstance(key, int) else VOICE_INDEX.get(key)
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
        dark[index] = one_pole_lowpass(shot, BRIGHTNESS_CUTOFF_HZ, sr)
    return PreparedKit(str(kit.name), sr, shots, dark)


def _variant(
    kit: PreparedKit, voice: int, semitones: float, decay: float | None, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """A retuned, re-decayed copy of a one-shot and of its dark twin, at most ``max_len`` long."""
    shot, dark = kit.shots[voice], kit.dark[voice]
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


def _draw_variants(
    kit: PreparedKit, voice: int, rng: np.random.Generator, max_len: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:data:`VARIANTS_PER_SHOT` jittered variants around one drawn tuning and decay."""
    tuning = rng.uniform(-MAX_PITCH_SEMITONES, MAX_PITCH_SEMITONES)
    decay = math.exp(rng.uniform(*np.log(DECAY_TIME_RANGE)))
    shortened = rng.random() < DECAY_PROBABILITY
    return [
        _variant(
            kit,
            voice,
            float(np.clip(tuning + rng.normal(0.0, 0.1), -1.0, 1.0)),
            decay * rng.uniform(0.85, 1.15) if shortened else None,
            max_len,
        )
        for _ in range(VARIANTS_PER_SHOT)
    ]


@dataclass(frozen=True)
class _Hits:
    """The hits of a performance that land in the output, on its sample grid."""

    starts: np.ndarray  # (hits,) sample of each onset
    components: np.ndarray  # (hits,) component indices
    voices: np.ndarray  # (hits,) voice indices
    velocities: np.ndarray  # (hits,) velocity / 127
    amplitudes: np.ndarray  # (hits,) velocity response
    chokers: np.ndarray  # sorted starts of the hits that choke an open hat
    fade: np.ndarray  # the choke's fade-out


def _play_component(
    stem: np.ndarray,
    component: int,
    candidates: list[int],
    pool: list[PreparedKit],
    hits: _Hits,
    rng: np.random.Generator,
    augment: bool,
    variants: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]],
    scale: float = 1.0,
) -> None:
    """Add every hit of ``component`` to ``stem``, with one-shots of the ``candidates`` kits, each
    scaled by ``scale``."""
    n = len(stem)
    fade_len = len(hits.fade)
    mine = np.flatnonzero(hits.components == component)
    if augment and len(candidates) > 1 and rng.random() < PER_HIT_KIT_PROBABILITY:
        choice = rng.choice(candidates, size=len(mine))
    else:
        choice = np.full(len(mine), candidates[rng.integers(len(candidates))])
    if augment:
        level = np.float32(10 ** (rng.uniform(-MIX_LEVEL_DB, MIX_LEVEL_DB) / 20) * scale)
        variant_pick = rng.integers(VARIANTS_PER_SHOT, size=len(mine))
        # Soft hits sound darker: they excite fewer high partials.
        dry = 1.0 - BRIGHTNESS_DEPTH * (1.0 - hits.velocities[mine])
    for j, hit in enumerate(mine):
        kit_index = int(choice[j])
        # The hit's own voice (a side stick, a China) where the kit has it.
        voice = int(hits.voices[hit])
        voice = voice if voice in pool[kit_index].shots else component
        if augment:
            key = (voice, kit_index)
            if key not in variants:
                variants[key] = _draw_variants(pool[kit_index], voice, rng, n)
            bright, dark = variants[key][variant_pick[j]]
        else:
            bright = pool[kit_index].shots[voice]
        start = int(hits.starts[hit])
        length = min(len(bright), n - start)
        choke_at = None
        if component == _OPEN_HAT:
            k = np.searchsorted(hits.chokers, start, side="right")
            if k < len(hits.chokers) and hits.chokers[k] - start + fade_len < length:
                choke_at = int(hits.chokers[k] - start)
                length = choke_at + fade_len
        target = stem[start : start + length]
        if augment:
            gain = hits.amplitudes[hit] * level
            segment = (gain * dry[j]) * bright[:length] + (gain * (1 - dry[j])) * dark[:length]
        else:
            segment = (hits.amplitudes[hit] * scale) * bright[:length]
        if choke_at is not None:
            segment[choke_at:] *= hits.fade
        target += segment


@overload
def render(
    performance: Performance,
    kits: Sequence[DrumKit | PreparedKit],
    rng: np.random.Generator,
    sr: int = ...,
    augment: bool = ...,
    *,
    stem_eq: bool = ...,
    balance_db: Mapping[str, float] | None = ...,
    return_dry: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def render(
    performance: Performance,
    kits: Sequence[DrumKit | PreparedKit],
    rng: np.random.Generator,
    sr: int = ...,
    augment: bool = ...,
    *,
    stem_eq: bool = ...,
    balance_db: Mapping[str, float] | None = ...,
    return_dry: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def render(
    performance: Performance,
    kits: Sequence[DrumKit | PreparedKit],
    rng: np.random.Generator,
    sr: int = ...,
    augment: bool = ...,
    *,
    stem_eq: bool = ...,
    balance_db: Mapping[str, float] | None = ...,
    return_dry: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...
def render(
    performance: Performance,
    kits: Sequence[DrumKit | PreparedKit],
    rng: np.random.Generator,
    sr: int = SAMPLE_RATE,
    augment: bool = True,
    *,
    stem_eq: bool = False,
    balance_db: Mapping[str, float] | None = None,
    return_dry: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Render a performance with one-shots from a pool of kits.

    Each component takes its one-shots from one kit of the pool drawn per performance, or with
    probability :data:`PER_HIT_KIT_PROBABILITY` from a kit drawn per hit. Kits lacking a
    component are not drawn for it; a component no kit has stays silent. A hit whose voice (see
    :attr:`Performance.voices`) the drawn kit has is played with it, else with the component's
    main one-shot. An open hat is cut (with a :data:`CHOKE_FADE_SECONDS` fade) by the next closed
    or pedal hat.

    With ``augment=True`` every hit also varies: amplitude ``(velocity / 127) ** gamma`` with
    gamma drawn from :data:`VELOCITY_GAMMA_RANGE`, softer hits mixed towards a lowpassed copy,
    tuning within +-:data:`MAX_PITCH_SEMITONES` (by resampling) and a shortened decay (an
    exponential envelope), both drawn per (component, kit) with :data:`VARIANTS_PER_SHOT` jittered
    variants that the hits pick from, and a per-component mix level within
    +-:data:`MIX_LEVEL_DB`; then the mix goes through
    :func:`~drummernet.training.augment.augment_audio`.

    With ``augment=False`` the result is exactly the sum of the placed one-shots scaled by
    ``(velocity / 127) ** DEFAULT_VELOCITY_GAMMA`` (choked open hats apart), divided by its peak
    only if that exceeds 1.

    With ``stem_eq`` (and ``augment``) each component's stem also goes, with probability
    :data:`STEM_EQ_PROBABILITY`, through its own random EQ of up to +-:data:`STEM_EQ_GAIN_DB`
    before the stems are mixed. With ``return_dry`` the dry mix comes too: the same hits, with
    the same per-hit variation, before the per-drum EQ and the mix augmentation. It is what the
    synthesizer's one-shots can rebuild, the target of ``clean_target`` training.

    ``balance_db`` (component code -> dB, missing codes 0) sets the components' levels against
    each other, e.g. :data:`NATURAL_BALANCE_DB`; without it every one-shot plays at its own level.

    Args:
        performance: the hits; hits at or after ``performance.duration`` are ignored.
        kits: the pool; :class:`~drummernet.model.kits.DrumKit` or :class:`PreparedKit`
            (faster).
        rng: source of randomness; the same state gives the same audio.
        sr: output sample rate.
        augment: vary hits and augment the mix (training) or render plainly.
        stem_eq: a random EQ per drum (see above).
        balance_db: each component's level in dB (see above).
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
    velocities = performance.velocities[valid].astype(np.float32) / 127.0
    gamma = rng.uniform(*VELOCITY_GAMMA_RANGE) if augment else DEFAULT_VELOCITY_GAMMA
    fade_len = max(1, int(CHOKE_FADE_SECONDS * sr))
    hits = _Hits(
        starts=starts,
        components=components,
        voices=performance.voices[valid],
        velocities=velocities,
        amplitudes=velocities**gamma,
        # Open hats end where the next closed or pedal hat starts.
        chokers=np.sort(starts[np.isin(components, _HAT_CHOKERS)]),
        fade=np.linspace(1.0, 0.0, fade_len + 2, dtype=np.float32)[1:-1],
    )

    stem_eq = stem_eq and augment
    dry_out = np.zeros(n, dtype=np.float32) if return_dry else None
    variants: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for component in np.unique(components):
        component = int(component)
        candidates = [i for i, kit in enumerate(pool) if component in kit.shots]
        if not candidates:
            continue
        # Each drum's own stem when it is kept apart or filtered apart; else straight into the mix.
        stem = np.zeros(n, dtype=np.float32) if (return_dry or stem_eq) else out
        scale = (
            1.0 if balance_db is None else 10 ** (balance_db.get(COMPONENTS[component], 0.0) / 20)
        )
        _play_component(stem, component, candidates, pool, hits, rng, augment, variants, scale)
        if stem is not out:
            if dry_out is not None:
                dry_out += stem
            if stem_eq and rng.random() < STEM_EQ_PROBABILITY:
                stem = scipy.signal.sosfilt(random_eq(rng, sr, STEM_EQ_GAIN_DB), stem)
            out += stem.astype(np.float32, copy=False)

    if augment:
        out = augment_audio(out, rng, sr)
    peak = float(np.max(np.abs(out), initial=0.0))
    if peak > 1.0:
        out /= peak
    return (out, dry_out) if dry_out is not None else out
