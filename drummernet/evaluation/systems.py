"""DrummerNet as a system for :func:`drummernet.evaluation.scoring.evaluate`.

A system is ``system(track) -> {label: onset times}``; this one transcribes the track's audio
with :func:`drummernet.transcription.inference.transcribe` and reads the onsets of every
component and coarse class from the result. The band-wise baseline's system is
:func:`drummernet.evaluation.baselines.bandwise_system`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from drummernet.constants import COARSE_CLASSES, GM_TO_CLASS
from drummernet.evaluation.datasets import Track
from drummernet.evaluation.metrics import merge_onsets
from drummernet.model.network import DrummerNet
from drummernet.transcription.inference import resolve_model, transcribe
from drummernet.transcription.result import Transcription


def transcription_labels(result: Transcription) -> dict[str, np.ndarray]:
    """Onset times per label, as :func:`~drummernet.evaluation.scoring.evaluate` scores them.

    Returns:
        every component code -> its onsets, and every coarse class (KD, SD, HH, TT, CY, OT) ->
        the merged onsets of its events, by :data:`~drummernet.constants.GM_TO_CLASS` of each
        event's General MIDI note.
    """
    labels = result.onsets()
    by_class: dict[str, list[float]] = {label: [] for label in COARSE_CLASSES}
    for event in result.events:
        label = GM_TO_CLASS.get(event.note)
        if label is not None:
            by_class.setdefault(label, []).append(event.time)
    for label, times in by_class.items():
        labels[label] = merge_onsets(times)
    return labels


def transcription_system(
    model: DrummerNet | str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> Callable[[Track], dict[str, np.ndarray]]:
    """:func:`~drummernet.transcription.inference.transcribe` as a system for
    :func:`~drummernet.evaluation.scoring.evaluate`.

    Args:
        model: as for ``transcribe``; loaded once here.
        device: torch device.
        **options: keyword options of ``transcribe`` (``threshold``, ``min_gap``, ...).

    Returns:
        ``system(track) -> {label: (onsets,)}`` for tracks with an ``audio_path``; labels as
        :func:`transcription_labels`.
    """
    net = resolve_model(model, device)

    def system(track: Track) -> dict[str, np.ndarray]:
        return transcription_labels(transcribe(track.audio_path, model=net, **options))

    return system
