"""One-shot features: a bounded excerpt of a file -> a fixed-length description of its one hit.

A sample library holds anything from a 50 ms click to an hour-long recording, so only the first
:data:`~drummernet.constants.SAMPLE_EXCERPT_SECONDS` of a file are ever decoded. The hit is found
(its attack moved to time 0, its peak to 0 dB) and described, over its first
:data:`FEATURE_SECONDS`, by its log-mel spectrum averaged over time segments that grow with the
time since the attack (an attack, a body and a tail), and by shape figures: per segment how
noisy (overall and above :data:`HIGH_HZ`), how tonal and how bright it is; how long it lasts,
overall and per band; a fine low-end spectrum and the pitch of its low peak, early and late (a
kick's falls, a tom's holds). The same excerpt is searched for later attacks, which mark a file
that is not one hit.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from drummernet.audio import audio_info, read_audio_frames
from drummernet.constants import SAMPLE_EXCERPT_SECONDS
from drummernet.errors import AudioError

#: Rate the features are computed at: cymbals and hats are told apart well below 11 kHz.
FEATURE_SR = 22050
N_FFT = 1024
HOP = 256
N_MELS = 40
MEL_FMIN = 30.0
#: Seconds after the attack that the features describe. The built-in kits' one-shots, all the
#: classifier learns from, are cut at 1 s with a fade (1.5 s for cymbals and open hats): what
#: comes later in a file would teach the cut, not the drum.
FEATURE_SECONDS = 0.95
#: Segment edges, in frames after the attack (11.6 ms each): attack, body and tail at growing
#: lengths, as a drum's identity lies in its first milliseconds and its decay.
SEGMENTS: tuple[int, ...] = (0, 2, 5, 10, 20, 40, 60, round(FEATURE_SECONDS * FEATURE_SR / HOP))
#: Dynamic range of the log spectra: levels below the peak by more than this are the floor.
FLOOR_DB = 80.0
#: The attack is the first sample within this many dB of the excerpt's peak.
ATTACK_DB = -30.0

#: Later attacks: a frame whose level (in one of 4 bands) rises this many dB over the band's
#: minimum of the previous :data:`REATTACK_LOOKBACK` frames, to within :data:`REATTACK_FLOOR_DB`
#: of the excerpt's peak level, at least :data:`REATTACK_GAP` frames after the first attack.
REATTACK_RISE_DB = 12.0
REATTACK_LOOKBACK = 8
REATTACK_FLOOR_DB = -24.0
REATTACK_GAP = 12

#: The low end, where a kick, a tom and a bass note differ by their pitch: the first
#: :data:`LOW_SECONDS` after the attack in :data:`N_LOW_BANDS` log-spaced bands over
#: :data:`LOW_RANGE_HZ` (the mel bands are 60 Hz wide there), and where its strongest peak lies.
LOW_SECONDS = 0.25
LOW_RANGE_HZ = (30.0, 1000.0)
N_LOW_BANDS = 20
LOW_FLOOR_DB = 60.0

#: The pitch glide of the low end (a kick's pitch falls, a tom's holds): its strongest peak in
#: the first :data:`GLIDE_SPLIT` seconds and in the :data:`LOW_SECONDS` after them.
GLIDE_SPLIT = 0.06
#: Bins above this frequency make the high band, whose noisiness tells hats and cymbals from
#: bells and rings.
HIGH_HZ = 2000.0
#: Decay times: the last time the level reaches these dB below its peak.
DECAY_DB: tuple[float, ...] = (-20.0, -40.0, -60.0)

N_SEGMENTS = len(SEGMENTS) - 1
N_BANDS = 4
#: Length of :func:`features`' vector: mel means per segment, then per segment flatness and
#: peakiness, then the decay times and the sound's length, then the low bands and the low peak's
#: frequency; then per segment the high band's flatness and the spectral centroid, each band's
#: decay time and the low peak's frequency early and late.
N_FEATURES = (
    N_SEGMENTS * N_MELS + 2 * N_SEGMENTS + len(DECAY_DB) + 1 + N_LOW_BANDS + 1
    + 2 * N_SEGMENTS + N_BANDS + 2
)  # fmt: skip


@dataclass(frozen=True)
class Excerpt:
    """The start of a file, as decoded for classification.

    Attributes:
        audio: ``(samples,)`` float32 mono at :data:`FEATURE_SR`.
        duration: the whole file's length in seconds (from its header).
    """

    audio: np.ndarray
    duration: float


def read_excerpt(path: str | os.PathLike, seconds: float = SAMPLE_EXCERPT_SECONDS) -> Excerpt:
    """Decode at most the first ``seconds`` of a file, mono at :data:`FEATURE_SR`.

    Raises:
        AudioError: the file is missing, not audio, truncated, empty or holds NaN/inf samples.
    """
    info = audio_info(path)
    frames = min(info.frames, max(1, int(math.ceil(seconds * info.sample_rate))))
    audio = read_audio_frames(path, 0, frames, sr=FEATURE_SR)
    if audio.size == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return Excerpt(audio, info.duration)


@functools.lru_cache(maxsize=1)
def _analysis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window, mel filterbank ``(N_MELS, bins)`` and the 4-band grouping of the mel bands."""
    from drummernet.dsp import mel_filterbank

    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    mel = mel_filterbank(FEATURE_SR, N_FFT, N_MELS, fmin=MEL_FMIN)
    bands = np.array_split(np.arange(N_MELS), 4)
    group = np.zeros((4, N_MELS), dtype=np.float32)
    for row, members in enumerate(bands):
        group[row, members] = 1.0
    return window, mel, group


def _power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """``(frames, bins)`` power spectrogram, frame ``t`` starting at sample ``t * HOP``."""
    window, _, _ = _analysis()
    frames = max(1, math.ceil(len(audio) / HOP))
    padded = np.zeros((frames - 1) * HOP + N_FFT, dtype=np.float32)
    padded[: len(audio)] = audio
    framed = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:frames]
    spectrum = np.fft.rfft(framed * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def attack_index(audio: np.ndarray) -> int | None:
    """Index of the first sample within :data:`ATTACK_DB` of the peak, or ``None`` if silent."""
    magnitude = np.abs(audio)
    peak = float(magnitude.max(initial=0.0))
    if peak < 1e-4:
        return None
    return int(np.argmax(magnitude >= peak * 10 ** (ATTACK_DB / 20)))


def count_attacks(power: np.ndarray) -> int:
    """Attacks in a power spectrogram starting at the first one: 1 for a single hit.

    Args:
        power: ``(frames, bins)`` from the first attack on.
    """
    _, mel, group = _analysis()
    bands = 10 * np.log10(power @ (group @ mel).T + 1e-12)  # (frames, 4)
    peak = bands.max()
    if len(bands) <= REATTACK_GAP:
        return 1
    # frame t's minimum over frames t - REATTACK_LOOKBACK .. t - 1 (REATTACK_GAP > LOOKBACK)
    lows = np.lib.stride_tricks.sliding_window_view(bands, REATTACK_LOOKBACK, axis=0).min(axis=-1)
    previous = lows[REATTACK_GAP - REATTACK_LOOKBACK : len(bands) - REATTACK_LOOKBACK]
    current = bands[REATTACK_GAP:]
    rising = (current - previous >= REATTACK_RISE_DB) & (current >= peak + REATTACK_FLOOR_DB)
    count = 1
    last = 0
    for t in np.flatnonzero(rising.any(axis=1)) + REATTACK_GAP:
        if t - last >= REATTACK_GAP:
            count += 1
            last = int(t)
    return count


def features(excerpt: Excerpt) -> tuple[np.ndarray, int]:
    """Describe the hit that starts an excerpt.

    Args:
        excerpt: see :func:`read_excerpt`.

    Returns:
        ``(vector, attacks)``: ``vector`` is ``(N_FEATURES,)`` float32 (all zeros for silence),
        ``attacks`` the number of attacks in the excerpt (0 for silence, 1 for one hit).
    """
    audio = _without_offset(excerpt.audio)
    start = attack_index(audio)
    if start is None:
        return np.zeros(N_FEATURES, dtype=np.float32), 0
    audio = audio[start:]
    power = _power_spectrogram(audio)
    attacks = count_attacks(power)
    _, mel, group = _analysis()
    frames = SEGMENTS[-1]
    power = power[:frames]
    if len(power) < frames:
        power = np.concatenate([power, np.zeros((frames - len(power), power.shape[1]), np.float32)])
    level = power.sum(axis=1)
    reference = float(level.max()) + 1e-20
    mel_power = power @ mel.T
    mel_db = 10 * np.log10(mel_power / reference * N_FFT + 1e-12)
    mel_db = np.clip(mel_db, -FLOOR_DB, 0.0) / FLOOR_DB + 1.0  # 0 = floor, 1 = peak
    out = np.empty(N_FEATURES, dtype=np.float32)
    shape = np.empty((4, N_SEGMENTS), dtype=np.float32)
    high = _high_bins()
    centre = _log_frequencies()
    for i, (a, b) in enumerate(zip(SEGMENTS[:-1], SEGMENTS[1:], strict=True)):
        out[i * N_MELS : (i + 1) * N_MELS] = mel_db[a:b].mean(axis=0)
        spectrum = power[a:b].mean(axis=0) + 1e-20
        if float(spectrum.sum()) < reference * 1e-8:  # silence: flat and featureless
            shape[:, i] = (1.0, 0.0, 1.0, 0.0)
            continue
        shape[0, i] = _flatness(spectrum)
        shape[1, i] = math.log10(float(spectrum.max()) / float(spectrum.mean())) / 3
        shape[2, i] = _flatness(spectrum[high])
        shape[3, i] = float(centre @ spectrum) / float(spectrum.sum())
    out[N_SEGMENTS * N_MELS : N_SEGMENTS * (N_MELS + 2)] = shape[:2].reshape(-1)
    level_db = 10 * np.log10(level / reference + 1e-12)
    frame_seconds = HOP / FEATURE_SR
    at = N_SEGMENTS * (N_MELS + 2)
    for threshold in DECAY_DB:
        out[at] = _log_seconds(_last_above(level_db, threshold) * frame_seconds)
        at += 1
    # the file's length past the attack, as far as the features look: a cut sound is short
    length = min(excerpt.duration - start / FEATURE_SR, FEATURE_SECONDS)
    out[at] = _log_seconds(max(length, 0.0))
    at += 1
    out[at : at + N_LOW_BANDS + 1] = _low_end(audio[: int(LOW_SECONDS * FEATURE_SR)])
    at += N_LOW_BANDS + 1
    out[at : at + 2 * N_SEGMENTS] = shape[2:].reshape(-1)
    at += 2 * N_SEGMENTS
    bands = mel_power @ group.T  # (frames, N_BANDS)
    bands_db = 10 * np.log10(bands / (bands.max(axis=0) + 1e-20) + 1e-12)
    for band in range(N_BANDS):
        out[at + band] = _log_seconds(_last_above(bands_db[:, band], -20.0) * frame_seconds)
    at += N_BANDS
    split = int(GLIDE_SPLIT * FEATURE_SR)
    out[at] = _low_peak(audio[:split])
    out[at + 1] = _low_peak(audio[split : split + int(LOW_SECONDS * FEATURE_SR)])
    return out, attacks


def _without_offset(audio: np.ndarray) -> np.ndarray:
    """``audio`` less its mean: a DC offset is no low end (and would hide the attack)."""
    return audio - np.float32(audio.mean())


def _flatness(spectrum: np.ndarray) -> float:
    """Geometric over arithmetic mean of a power spectrum: 1 for white noise, ~0 for a tone."""
    return math.exp(float(np.mean(np.log(spectrum)))) / float(spectrum.mean())


@functools.lru_cache(maxsize=1)
def _high_bins() -> np.ndarray:
    """Mask of the FFT bins above :data:`HIGH_HZ`."""
    return np.fft.rfftfreq(N_FFT, 1.0 / FEATURE_SR) >= HIGH_HZ


@functools.lru_cache(maxsize=1)
def _log_frequencies() -> np.ndarray:
    """Each FFT bin's frequency on a log scale: 0 at :data:`MEL_FMIN`, 1 at Nyquist."""
    freqs = np.maximum(np.fft.rfftfreq(N_FFT, 1.0 / FEATURE_SR), MEL_FMIN)
    return (np.log(freqs / MEL_FMIN) / math.log(FEATURE_SR / 2 / MEL_FMIN)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _low_bands() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window, band index of every FFT bin in the low range (-1 outside) and bin frequencies."""
    n = int(LOW_SECONDS * FEATURE_SR)
    freqs = np.fft.rfftfreq(2 * n, 1.0 / FEATURE_SR)
    edges = np.geomspace(*LOW_RANGE_HZ, N_LOW_BANDS + 1)
    band = np.searchsorted(edges, freqs, side="right") - 1
    band[(freqs < edges[0]) | (freqs >= edges[-1])] = -1
    return np.hanning(n).astype(np.float32), band, freqs


def _low_end(audio: np.ndarray) -> np.ndarray:
    """``(N_LOW_BANDS + 1,)``: band levels in [0, 1] (relative to the whole spectrum) and the
    strongest low peak's frequency on a log scale over :data:`LOW_RANGE_HZ`."""
    window, band, freqs = _low_bands()
    segment = np.zeros(len(window), dtype=np.float32)
    head = audio[: len(window)]
    segment[: len(head)] = head
    power = np.abs(np.fft.rfft(segment * window, n=2 * len(window))) ** 2
    inside = band >= 0
    levels = np.bincount(band[inside], weights=power[inside], minlength=N_LOW_BANDS)
    # relative to the whole spectrum: a high bell has no low end to speak of, even normalised
    levels_db = 10 * np.log10(levels / (power.sum() + 1e-20) + 1e-12)
    out = np.empty(N_LOW_BANDS + 1, dtype=np.float32)
    out[:-1] = np.clip(levels_db, -LOW_FLOOR_DB, 0.0) / LOW_FLOOR_DB + 1.0
    peak = freqs[inside][int(np.argmax(power[inside]))]
    low, high = LOW_RANGE_HZ
    out[-1] = math.log(peak / low) / math.log(high / low)
    return out


def _low_peak(audio: np.ndarray) -> float:
    """The strongest peak over :data:`LOW_RANGE_HZ` of a stretch of audio (0 to 1, log scale;
    0 for silence), on the frequency grid of :func:`_low_end`."""
    _, band, freqs = _low_bands()
    if len(audio) < 2:
        return 0.0
    power = (
        np.abs(np.fft.rfft(audio * np.hanning(len(audio)).astype(np.float32), n=len(band) * 2 - 2))
        ** 2
    )
    inside = band >= 0
    if float(power[inside].max()) <= 0.0:
        return 0.0
    low, high = LOW_RANGE_HZ
    return math.log(freqs[inside][int(np.argmax(power[inside]))] / low) / math.log(high / low)


def _last_above(level_db: np.ndarray, threshold: float) -> int:
    """Frames until the level last reaches ``threshold`` dB (1 at least)."""
    above = np.flatnonzero(level_db >= threshold)
    return int(above[-1]) + 1 if above.size else 1


def _log_seconds(seconds: float) -> float:
    """A duration on a log scale: 0 at 10 ms, 1 at 10 s."""
    return float(np.clip(math.log10(max(seconds, 0.01)) + 2, 0.0, 3.0)) / 3
