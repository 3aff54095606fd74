"""Is an input a drum stem or a full mix? And the drums of a mix, brought forward for analysis.

A drum kit's pitched sounds (a kick's or tom's ring, a cymbal's partials) are tuned once and
repeat; a band's (bass line, chords, melody) move from chord to chord. :func:`pitch_change`
measures that: on the harmonic part of an excerpt (the bins that
:func:`~drummernet.transcription.separation.hpss_masks` calls harmonic), it compares the
pitch-class profile of each second with the one two seconds later and weighs the change by how
much of the sound is pitched. :func:`detect_source` compares it with
:data:`~drummernet.constants.DEFAULT_MIX_THRESHOLD`, and :func:`prepare_source` applies the
decision: a mix goes through a separator of :mod:`drummernet.transcription.separation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from drummernet.constants import (
    DEFAULT_DETECT_BLOCK_SECONDS,
    DEFAULT_DETECT_PIECES,
    DEFAULT_DETECT_SECONDS,
    DEFAULT_HPSS_MARGIN,
    DEFAULT_MIX_THRESHOLD,
    DEFAULT_SEPARATOR,
    SEPARATORS,
    SOURCES,
)
from drummernet.transcription.separation import demucs_drums, hpss_drums, hpss_frames, hpss_masks

#: Pitch classes are read from this band (Hz): bass lines, chords and voices, with their first
#: partials; below it kicks, above it cymbals dominate.
PITCH_BAND_HZ: tuple[float, float] = (80.0, 4000.0)


@dataclass(frozen=True)
class SourceDecision:
    """What an input was taken for, and why.

    Attributes:
        source: ``"drums"`` or ``"mix"``.
        requested: the ``source`` asked for (``"auto"``, ``"drums"`` or ``"mix"``).
        pitch_change: the detection score (:func:`pitch_change`), or ``None`` when the source
            was given rather than detected.
        separator: what brought the drums forward (``"hpss"``, ``"demucs"``), ``None`` for drums.
    """

    source: str
    requested: str
    pitch_change: float | None = None
    separator: str | None = None


def _pitch_classes(n_fft: int, sr: int) -> np.ndarray:
    """``(12, bins)`` 0/1 map of each STFT bin inside :data:`PITCH_BAND_HZ` to its pitch class
    (A = 0)."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    lo, hi = PITCH_BAND_HZ
    inside = (freqs >= lo) & (freqs < min(hi, sr / 2))
    classes = np.round(12 * np.log2(np.maximum(freqs, 1.0) / 440.0)).astype(int) % 12
    table = np.zeros((12, len(freqs)), dtype=np.float32)
    table[classes[inside], np.flatnonzero(inside)] = 1.0
    return table


def _excerpt_pieces(audio: np.ndarray, sr: int, seconds: float, pieces: int) -> list[np.ndarray]:
    """The whole recording if it is at most ``seconds`` long, else ``pieces`` equal pieces
    spread evenly over it (an intro of drums alone, or a drum break, decides nothing alone)."""
    total = int(seconds * sr)
    if len(audio) <= total:
        return [audio]
    length = total // max(1, pieces)
    starts = np.linspace(0, len(audio) - length, max(1, pieces)).astype(int)
    return [audio[s : s + length] for s in starts]


def pitch_change(
    audio: np.ndarray,
    sr: int,
    excerpt_seconds: float = DEFAULT_DETECT_SECONDS,
    pieces: int = DEFAULT_DETECT_PIECES,
    block_seconds: float = DEFAULT_DETECT_BLOCK_SECONDS,
) -> float:
    """How much of a recording is pitched sound whose pitch classes change: near 0 for drums,
    higher for a band.

    In each piece of the excerpt (:data:`~drummernet.constants.DEFAULT_DETECT_SECONDS` at most),
    for every block of ``block_seconds``: the harmonic part's power per pitch class within
    :data:`PITCH_BAND_HZ`, and its share ``t`` of the band's power. Blocks ``b`` and ``b + 2``
    differ by ``sqrt(t_b t_(b+2)) * (1 - cos(profile_b, profile_(b+2)))``; the score is the
    median of that over all pairs, so a tom fill or one chord change does not decide.

    Args:
        audio: ``(samples,)``.
        sr: its sample rate.
        excerpt_seconds: seconds analysed at most.
        pieces: pieces the excerpt is taken in.
        block_seconds: block length.

    Returns:
        the score in ``[0, 1]``; 0 for a recording shorter than three blocks.
    """
    n_fft, hop = hpss_frames(sr)
    classes = _pitch_classes(n_fft, sr)
    band = classes.sum(axis=0) > 0
    frames_per_block = max(1, round(block_seconds * sr / hop))
    window = torch.hann_window(n_fft)
    changes: list[float] = []
    for piece in _excerpt_pieces(audio, sr, excerpt_seconds, pieces):
        x = torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))
        if len(x) <= n_fft:
            continue
        magnitude = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().numpy()
        harmonic, _ = hpss_masks(magnitude, sr, hop, DEFAULT_HPSS_MARGIN)
        power = np.square(magnitude)
        tonal = power * harmonic
        blocks = magnitude.shape[1] // frames_per_block
        if blocks < 3:
            continue
        cut = blocks * frames_per_block
        profile = (classes @ tonal[:, :cut]).reshape(12, blocks, frames_per_block).sum(axis=2)
        share = tonal[band, :cut].reshape(-1, blocks, frames_per_block).sum(axis=(0, 2)) / (
            power[band, :cut].reshape(-1, blocks, frames_per_block).sum(axis=(0, 2)) + 1e-20
        )
        unit = profile / (np.linalg.norm(profile, axis=0, keepdims=True) + 1e-20)
        cosine = np.sum(unit[:, :-2] * unit[:, 2:], axis=0)
        changes.extend(np.sqrt(share[:-2] * share[2:]) * (1.0 - cosine))
    return float(np.clip(np.median(changes), 0.0, 1.0)) if changes else 0.0


def detect_source(
    audio: np.ndarray, sr: int, threshold: float = DEFAULT_MIX_THRESHOLD
) -> SourceDecision:
    """Guess whether a recording is a drum stem or a full mix from its :func:`pitch_change`.

    Args:
        audio: ``(samples,)``.
        sr: its sample rate.
        threshold: a score at or above this is a mix.

    Returns:
        the decision, with its score.
    """
    score = pitch_change(audio, sr)
    source = "mix" if score >= threshold else "drums"
    return SourceDecision(source, "auto", score)


def check_source(source: str, separate: str | None) -> None:
    """Validate a ``source`` / ``separate`` pair (``separate=None`` is the default separator).

    Raises:
        ValueError: an unknown source or separator, or a separator asked for a drum stem.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if separate is not None and separate not in SEPARATORS:
        raise ValueError(f"separate must be one of {', '.join(SEPARATORS)}, not {separate!r}")
    if separate is not None and source == "drums":
        raise ValueError(f"separate={separate!r} separates a mix, but source='drums'")


def prepare_source(
    audio: np.ndarray,
    sr: int,
    source: str,
    separate: str | None = None,
    *,
    threshold: float = DEFAULT_MIX_THRESHOLD,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, SourceDecision]:
    """Resolve what a recording is and, for a mix, bring its drums forward.

    Args:
        audio: ``(samples,)`` float32, owned by the caller; a mix is separated in place (HPSS)
            or replaced (demucs).
        sr: its sample rate.
        source: ``"drums"`` (used as it is), ``"mix"`` or ``"auto"`` (:func:`detect_source`).
            Naming a separator (``separate``) says the input is a mix: ``"auto"`` then skips
            the detection.
        separate: the separator for a mix, one of :data:`~drummernet.constants.SEPARATORS`;
            ``None`` for :data:`~drummernet.constants.DEFAULT_SEPARATOR`.
        threshold: :func:`detect_source`'s threshold.
        device: torch device for demucs.

    Returns:
        ``(audio, decision)``: the audio to analyse and what was decided.

    Raises:
        ValueError: see :func:`check_source`.
        SeparatorError: demucs is asked for but missing or without cached weights.
    """
    check_source(source, separate)
    if source == "auto" and separate is None:
        decision = detect_source(audio, sr, threshold)
    else:
        decision = SourceDecision("mix" if separate else source, source)
    if decision.source == "drums":
        return audio, decision
    method = separate or DEFAULT_SEPARATOR
    if method == "demucs":
        audio = demucs_drums(audio, sr, device=device)
    else:
        audio = hpss_drums(audio, sr)
    return audio, SourceDecision(decision.source, source, decision.pitch_change, method)
