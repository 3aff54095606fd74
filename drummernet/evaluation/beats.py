"""Beat annotations and beat-tracking scores: MDB Drums ``.beats`` files, mir_eval's beat
F-measure, tempo error and downbeat F-measure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drummernet.errors import DatasetError
from drummernet.transcription.tempo import Beat, tempo_of_beats

#: Tolerance of the beat and downbeat F-measures, in seconds (mir_eval's default).
BEAT_WINDOW = 0.07


def read_beats(path: str | os.PathLike) -> list[Beat]:
    """Read a beat annotation: one ``time<whitespace>beat-in-bar`` line per beat (the MDB Drums
    ``.beats`` format); bars are numbered from 1 at the first downbeat, 0 before it.

    Raises:
        DatasetError: the file is missing or a line is not two numbers.
    """
    beats: list[Beat] = []
    bar = 0
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read beat annotation ({error.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            time, place = line.split()[:2]
            beat = int(float(place))
            beats.append(Beat(float(time), 0, beat))
        except ValueError:
            raise DatasetError(f"{path}:{number}: expected 'time beat', got {line!r}") from None
    numbered = []
    for b in beats:
        bar += b.beat == 1
        numbered.append(Beat(b.time, bar, b.beat))
    return numbered


@dataclass(frozen=True)
class BeatScores:
    """How well estimated beats match reference ones.

    Attributes:
        f_measure: mir_eval's beat F-measure (``BEAT_WINDOW``; the first 5 s are not skipped).
        tempo: the estimate's tempo (bpm; ``None`` without beats), by
            :func:`~drummernet.transcription.tempo.tempo_of_beats`.
        reference_tempo: the reference's tempo, the same way.
        tempo_error: ``|tempo / reference_tempo - 1|`` (1.0 without an estimated tempo).
        downbeat_f_measure: F-measure of the downbeats (beat 1) alone, same window.
    """

    f_measure: float
    tempo: float | None
    reference_tempo: float | None
    tempo_error: float
    downbeat_f_measure: float


def score_beats(reference: Sequence[Beat], estimate: Sequence[Beat]) -> BeatScores:
    """Score estimated beats against reference beats with ``mir_eval``."""
    import mir_eval

    ref = np.array([b.time for b in reference])
    est = np.array([b.time for b in estimate])
    f_measure = float(mir_eval.beat.f_measure(ref, est, BEAT_WINDOW)) if len(est) else 0.0
    ref_down = np.array([b.time for b in reference if b.beat == 1])
    est_down = np.array([b.time for b in estimate if b.beat == 1])
    downbeat = (
        float(mir_eval.beat.f_measure(ref_down, est_down, BEAT_WINDOW)) if len(est_down) else 0.0
    )
    tempo, reference_tempo = tempo_of_beats(estimate), tempo_of_beats(reference)
    error = abs(tempo / reference_tempo - 1) if tempo and reference_tempo else 1.0
    return BeatScores(f_measure, tempo, reference_tempo, error, downbeat)
