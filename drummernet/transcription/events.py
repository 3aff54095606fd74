"""Impulse activations -> drum note events: peak picking and velocity calibration.

The analyzer writes sparse non-negative activations, one row per drum component, whose nonzero
frames are impulses that the fixed synthesizer turns into one-shots: "component c was hit at frame
t with amplitude a". :func:`activations_to_events` reads them as notes: peak picking, duplicate
merging and velocity calibration.

The velocity calibration: an impulse of amplitude ``a`` (in the recording normalised to
:data:`~drummernet.constants.DEFAULT_TARGET_RMS`) becomes

    ``velocity = clip(round(127 * (a / reference) ** (1 / gamma)), 1, 127)``

with ``reference = DEFAULT_REFERENCE_AMPLITUDE`` (velocity 127) and ``gamma =
DEFAULT_VELOCITY_GAMMA`` (2: amplitude grows as velocity squared, so halving the velocity is
-12 dB). :func:`velocity_to_amplitude` is its inverse.

Pure numpy: nothing here needs torch.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from drummernet.constants import (
    DEFAULT_ANALYSIS_WINDOW,
    DEFAULT_CONTRAST_WINDOW,
    DEFAULT_DECAY_MASK,
    DEFAULT_EXCLUSIVE_GROUPS,
    DEFAULT_MIN_GAP,
    DEFAULT_ONSET_CONTRAST,
    DEFAULT_REFERENCE_AMPLITUDE,
    DEFAULT_RELATIVE_THRESHOLD,
    DEFAULT_THRESHOLD,
    DEFAULT_TOM_MASKING,
    DEFAULT_VELOCITY_GAMMA,
    GM_NOTES,
    RELATIVE_MIN_CANDIDATES,
    RELATIVE_QUANTILE,
    TOM_MASKERS,
    component_class,
    voice_component,
)


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
    amplitude: npt.ArrayLike,
    reference: float = DEFAULT_REFERENCE_AMPLITUDE,
    gamma: float = DEFAULT_VELOCITY_GAMMA,
) -> np.ndarray:
    """Impulse amplitudes -> MIDI velocities (see the module docstring).

    Args:
        amplitude: ``(n,)`` non-negative impulse amplitudes (or a scalar, or a sequence).
        reference: the amplitude of velocity 127; louder hits are clipped to 127.
        gamma: amplitude grows as ``velocity ** gamma``.

    Returns:
        ``(n,)`` int64 velocities in 1..127, non-decreasing in ``amplitude``.
    """
    ratio = np.maximum(np.asarray(amplitude, dtype=np.float64), 0.0) / reference
    return np.clip(np.round(127.0 * ratio ** (1.0 / gamma)), 1, 127).astype(np.int64)


def velocity_to_amplitude(
    velocity: npt.ArrayLike,
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


def _unmasked_toms(
    rows: np.ndarray,
    times: np.ndarray,
    amps: np.ndarray,
    classes: Sequence[str],
    ratio: float,
    window: float,
) -> np.ndarray:
    """Mask of the hits to keep when a tom hit within ``window`` seconds of a
    :data:`~drummernet.constants.TOM_MASKERS` hit at least ``ratio`` times as strong is dropped.

    Args:
        rows, times, amps: ``(n,)`` row index, time and strength of each hit.
        classes: the drum class of each row.
        ratio: > 0.
        window: seconds.
    """
    keep = np.ones(len(rows), dtype=bool)
    row_class = np.asarray(classes, dtype=object)[rows] if len(rows) else np.zeros(0, object)
    toms = np.flatnonzero(row_class == "TT")
    maskers = np.flatnonzero(np.isin(row_class, TOM_MASKERS))
    if not toms.size or not maskers.size:
        return keep
    maskers = maskers[np.argsort(times[maskers], kind="stable")]
    masker_times, masker_amps = times[maskers], amps[maskers]
    first = np.searchsorted(masker_times, times[toms] - window, side="left")
    stop = np.searchsorted(masker_times, times[toms] + window, side="right")
    for tom, lo, hi in zip(toms, first, stop, strict=True):
        if hi > lo and masker_amps[lo:hi].max() >= ratio * amps[tom]:
            keep[tom] = False
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
    tom_masking: float = DEFAULT_TOM_MASKING,
) -> list[NoteEvent]:
    """Turn impulse activations into note events.

    Per component: every local maximum (the first frame of a plateau) whose strength reaches
    ``threshold`` is a candidate; of candidates closer than ``min_gap`` only the strongest is
    kept. Then, within each exclusive group (the hi-hat's closed, pedal and open strokes), hits
    closer than ``min_gap`` keep only the strongest. With ``tom_masking``, a tom hit is dropped
    when a snare hit within ``min_gap`` is at least ``tom_masking`` times as strong: the
    analyzer paints the body of a snare its one-shots cannot rebuild with a tom stroke, and a
    drummer seldom strikes a tom and the snare at once.

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
        tom_masking: strength ratio at which a snare hit masks a tom hit (0 disables; see
            :data:`~drummernet.constants.DEFAULT_TOM_MASKING`).

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
    if tom_masking > 0:
        classes = [component_class(code) for code in components]
        keep = _unmasked_toms(rows, times, amps, classes, tom_masking, min_gap)
        rows, times, amps = rows[keep], times[keep], amps[keep]

    velocities = amplitude_to_velocity(amps, reference_amplitude, velocity_gamma)
    order = np.lexsort((rows, times))
    return [
        NoteEvent(float(times[i]), components[rows[i]], GM_NOTES[components[rows[i]]],
                  int(velocities[i]))
        for i in order
    ]  # fmt: skip
