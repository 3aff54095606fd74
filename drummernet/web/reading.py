"""Note reading for the page: settings from a query string, notes re-read from activations.

A :class:`~drummernet.transcription.result.Transcription` keeps the activations its notes were
read from, so a change of sensitivity re-runs only
:func:`~drummernet.transcription.events.activations_to_events` (milliseconds for a song), never
the model. The settings are the peak-picking options of ``drummernet transcribe``, with the
relative threshold set per drum class (``KD``, ``SD``, ``HH``, ``TT``, ``CY``, ``OT``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from drummernet.constants import (
    COARSE_CLASSES,
    DEFAULT_DECAY_MASK,
    DEFAULT_MIN_GAP,
    DEFAULT_ONSET_CONTRAST,
    DEFAULT_TOM_MASKING,
    component_class,
)
from drummernet.transcription.events import activations_to_events, relative_threshold_of
from drummernet.transcription.result import Transcription

#: Query parameter prefix of a class's relative threshold: ``rel.KD=0.4``.
RELATIVE_PREFIX = "rel."

#: Largest absolute threshold the page may ask for (far above any impulse).
MAX_THRESHOLD = 100.0


@dataclass(frozen=True)
class ModelDefaults:
    """What a model recommends for reading its activations (stored in its file).

    Attributes:
        threshold: absolute floor.
        relative: one fraction, or fractions per component code or class.
        analysis_window: the analyzer's time window in seconds (for ``onset_contrast``).
        tom_masking: see :func:`~drummernet.transcription.inference.model_tom_masking`.
    """

    threshold: float
    relative: float | Mapping[str, float]
    analysis_window: float
    tom_masking: float = DEFAULT_TOM_MASKING


@dataclass(frozen=True)
class NoteSettings:
    """The page's note-reading controls. ``None`` or a missing class means the model's value.

    Attributes:
        threshold: absolute floor, or ``None`` for the model's.
        relative: drum class -> relative threshold in ``[0, 1)``, for the classes the page set.
        onset_contrast, decay_mask, min_gap: as ``drummernet transcribe``.
    """

    threshold: float | None = None
    relative: tuple[tuple[str, float], ...] = ()
    onset_contrast: float = DEFAULT_ONSET_CONTRAST
    decay_mask: float = DEFAULT_DECAY_MASK
    min_gap: float = DEFAULT_MIN_GAP

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> NoteSettings:
        """Read settings from query parameters (``threshold``, ``rel.<CLASS>``,
        ``onset_contrast``, ``decay_mask``, ``min_gap``); others are ignored.

        Raises:
            ValueError: a value that is not a number or is out of range (one line).
        """

        def number(key: str, low: float, high: float, default: float) -> float:
            text = params.get(key)
            if text is None or text == "":
                return default
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{key}: not a number ({text[:40]!r})") from None
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{key}: {value:g} is outside [{low:g}, {high:g}]")
            return value

        relative = []
        for key in params:
            if key.startswith(RELATIVE_PREFIX):
                name = key[len(RELATIVE_PREFIX) :]
                if name not in COARSE_CLASSES:
                    raise ValueError(
                        f"{key}: unknown drum class (one of {', '.join(COARSE_CLASSES)})"
                    )
                relative.append((name, number(key, 0.0, 0.99, 0.0)))
        threshold = number("threshold", 0.0, MAX_THRESHOLD, -1.0)
        if threshold == 0.0:
            raise ValueError("threshold: must be positive")
        return cls(
            threshold=None if threshold < 0 else threshold,
            relative=tuple(sorted(relative)),
            onset_contrast=number("onset_contrast", 0.0, 10.0, DEFAULT_ONSET_CONTRAST),
            decay_mask=number("decay_mask", 0.0, 1.0, DEFAULT_DECAY_MASK),
            min_gap=number("min_gap", 0.0, 1.0, DEFAULT_MIN_GAP),
        )


def drum_classes(components: tuple[str, ...]) -> list[str]:
    """The drum classes of ``components``, in their order, each once."""
    return list(dict.fromkeys(component_class(code) for code in components))


def class_defaults(defaults: ModelDefaults, components: tuple[str, ...]) -> dict[str, float]:
    """Drum class -> the model's relative threshold (that of the class's first component)."""
    first = {component_class(code): code for code in reversed(components)}
    return {
        name: relative_threshold_of(defaults.relative, first[name])
        for name in drum_classes(components)
    }


def relative_thresholds(
    defaults: float | Mapping[str, float], overrides: Mapping[str, float]
) -> float | dict[str, float]:
    """The model's relative thresholds with the page's per-class ``overrides`` on top.

    A class set on the page wins over the model's values for that class's single components
    (which :func:`~drummernet.transcription.events.relative_threshold_of` would otherwise
    prefer).
    """
    if not overrides:
        return defaults if not isinstance(defaults, Mapping) else dict(defaults)
    base = (
        {key: value for key, value in defaults.items() if component_class(key) not in overrides}
        if isinstance(defaults, Mapping)
        else {name: float(defaults) for name in COARSE_CLASSES}
    )
    return {**base, **overrides}


def reread(result: Transcription, defaults: ModelDefaults, settings: NoteSettings) -> Transcription:
    """``result`` with its notes read again from its activations under ``settings``.

    Returns:
        a new :class:`Transcription` sharing ``result``'s activations; with default
        settings its events equal those :func:`~drummernet.transcribe` wrote.
    """
    events = activations_to_events(
        result.activations,
        result.frame_rate,
        result.components,
        settings.threshold if settings.threshold is not None else defaults.threshold,
        settings.min_gap,
        decay_mask=settings.decay_mask,
        relative_threshold=relative_thresholds(defaults.relative, dict(settings.relative)),
        onset_contrast=settings.onset_contrast,
        analysis_window=defaults.analysis_window,
        tom_masking=defaults.tom_masking,
    )
    return dataclasses.replace(result, events=events)
