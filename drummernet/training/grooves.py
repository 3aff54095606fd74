"""Procedural drum grooves: humanised 4/4 performances in several styles, with no data needed.

:func:`procedural_groove` draws a style, a tempo and a "feel" (patterns, swing, ghost notes, fills,
timing and velocity spread), then plays bars of it on a 16th grid. Training on synthetic stems
works with no external data at all through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drummernet.training.performances import COMPONENT_INDEX, Performance

#: Largest timing deviation of a humanised procedural hit, in seconds.
DEFAULT_MAX_JITTER = 0.010

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

# Per style: tempo range (bpm), then kick and snare patterns as 16th steps of a 4/4 bar.
_STYLE_TEMPI: dict[str, tuple[float, float]] = {
    "rock": (80.0, 160.0),
    "funk": (80.0, 125.0),
    "shuffle": (70.0, 140.0),
    "half_time": (100.0, 180.0),
    "four_on_the_floor": (110.0, 140.0),
    "jazz": (90.0, 180.0),
    "breakbeat": (85.0, 180.0),
}
_KICKS: dict[str, list[tuple[int, ...]]] = {
    "rock": [(0, 8), (0, 8, 10), (0, 6, 8), (0, 2, 8), (0, 7, 8), (0, 8, 14)],
    "funk": [(0, 3, 6, 10), (0, 2, 7, 10), (0, 6, 10, 11), (0, 3, 8, 14), (0, 7, 10), (0, 10, 13)],
    "shuffle": [(0, 8), (0, 6, 8), (0, 8, 14), (0, 10)],
    "half_time": [(0, 10), (0, 7, 10), (0, 2, 11), (0, 3, 10, 11), (0, 6, 14)],
    "four_on_the_floor": [(0, 4, 8, 12)],
    "jazz": [(0,)],
    "breakbeat": [(0, 2, 10), (0, 2, 10, 11), (0, 6, 10), (0, 10, 11)],
}
_SNARES: dict[str, list[tuple[int, ...]]] = {
    "half_time": [(8,)],
    "breakbeat": [(4, 12), (4, 7, 9, 12, 15), (4, 12, 15), (4, 9, 12)],
}
# Timekeeping choices per style with their probabilities.
_TIMEKEEPERS: dict[str, dict[str, float]] = {
    "rock": {"chh8": 0.55, "chh16": 0.1, "chh4": 0.1, "ride8": 0.2, "ride4": 0.05},
    "funk": {"chh16": 0.6, "chh8": 0.4},
    "shuffle": {"chh8": 0.6, "ride8": 0.4},
    "half_time": {"chh8": 0.5, "chh16": 0.3, "ride8": 0.2},
    "four_on_the_floor": {"offbeat_open": 0.5, "chh16": 0.3, "chh8": 0.2},
    "jazz": {"jazz_ride": 1.0},
    "breakbeat": {"chh8": 0.6, "chh16": 0.2, "ride8": 0.2},
}
_GHOST_PROBABILITY: dict[str, float] = {
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
            components.append(COMPONENT_INDEX[code])
            velocities.append(velocity + dynamics + rng.normal(0.0, feel.velocity_sd))
    times_array = np.array(times, dtype=np.float64)
    keep = (times_array >= 0.0) & (times_array < duration)
    return Performance(
        times_array[keep],
        np.array(components, dtype=np.int64)[keep],
        np.clip(np.round(np.array(velocities)[keep]), 1, 127),
        duration,
    )
