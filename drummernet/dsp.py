"""Signal processing shared by the model, training and evaluation: the mel filterbank and
spectrogram, and the effects that synthetic training audio is produced with.

Pure functions of arrays or tensors; nothing here reads files or knows about drum components.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from drummernet.constants import (
    DEFAULT_LOUDNESS_BLOCK_SECONDS,
    DEFAULT_LOUDNESS_GATE_DB,
    DEFAULT_SILENCE_RMS,
    DEFAULT_TARGET_RMS,
    SAMPLE_RATE,
)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    f = np.asarray(f, dtype=np.float64)
    linear = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, linear)


def _mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0) -> np.ndarray:
    """Slaney-normalised triangular mel filters up to Nyquist: ``(n_mels, n_fft // 2 + 1)``.

    Equal to ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin)`` (a test checks
    it); written out because importing librosa costs about a second on every CLI call. The one
    mel filterbank of the package: the analyzer's front end, the mel loss and the NMF teacher
    use it.
    """
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(sr / 2.0), n_mels + 2))
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


#: Frames per FFT call in :func:`mel_magnitude`. Framing a whole batch at once writes a complex
#: spectrogram of hundreds of megabytes and reads it back (memory-bound, about 3x slower on CPU);
#: blocks this size stay in cache.
MEL_BLOCK_FRAMES = 256


def mel_magnitude(
    audio: torch.Tensor,
    mel: torch.Tensor,
    n_fft: int,
    hop: int,
    frames: int | None = None,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Magnitude mel spectrogram on the analyzer's frame grid (frame ``t`` at sample ``t * hop``).

    The same as ``mel @ |torch.stft(audio, n_fft, hop, window, center=True,
    pad_mode="constant")|``, computed :data:`MEL_BLOCK_FRAMES` frames of one signal at a time.

    Args:
        audio: ``(batch, samples)``.
        mel: ``(n_mels, n_fft // 2 + 1)`` filterbank.
        n_fft: STFT size (centred frames, constant padding so that inputs shorter than the
            window still work).
        hop: samples per frame.
        frames: frames to keep (default ``ceil(samples / hop)``; at most ``samples // hop + 1``).
        window: the ``n_fft``-point analysis window (default: Hann).

    Returns:
        ``(batch, n_mels, frames)``, non-negative.
    """
    frames = frames if frames is not None else max(1, math.ceil(audio.shape[-1] / hop))
    if window is None:
        window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    framed = torch.nn.functional.pad(audio, (n_fft // 2, n_fft // 2)).unfold(-1, n_fft, hop)
    if frames > framed.shape[-2]:
        raise ValueError(f"{frames} frames asked of {audio.shape[-1]} samples at hop {hop}")
    weights = mel.to(audio.dtype).T
    rows = []
    for signal in framed:
        blocks = []
        for start in range(0, frames, MEL_BLOCK_FRAMES):
            spec = torch.fft.rfft(signal[start : min(start + MEL_BLOCK_FRAMES, frames)] * window)
            # .abs() written out: squares of the contiguous (re, im) pairs, then one strided add,
            # about 3x faster on CPU than .abs() or torch.hypot.
            power = torch.view_as_real(spec).square()
            blocks.append((power[..., 0] + power[..., 1]).sqrt_() @ weights)
        rows.append(torch.cat(blocks).T)
    return torch.stack(rows)


# --------------------------------------------------------------------------------------------
# Effects: filters, noise, room reverb and compression (the production chain of synthetic
# training audio, and the synthesizer's fixed room).

#: Length of the noise bank that :func:`noise` slices, in seconds.
NOISE_BANK_SECONDS = 30.0
#: Seed of the noise bank.
NOISE_BANK_SEED = 20190000
#: Cutoff of the one-pole lowpass that makes dark noise from white noise, in Hz.
DARK_NOISE_CUTOFF_HZ = 1500.0


def one_pole_lowpass(audio: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    """``audio: (samples,)`` through a one-pole lowpass at ``cutoff`` Hz (unit gain at DC).

    Returns:
        ``(samples,)`` float32.
    """
    import scipy.signal  # on first use: a 0.6 s import that transcription never needs

    pole = math.exp(-2.0 * math.pi * cutoff / sr)
    return scipy.signal.lfilter([1.0 - pole], [1.0, -pole], audio).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _noise_bank(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """White noise and its lowpassed twin, made once per rate: drawing noise costs more than
    the effects it feeds, and random slices of a long bank serve as well."""
    white = np.random.default_rng(NOISE_BANK_SEED).standard_normal(
        int(NOISE_BANK_SECONDS * sr), dtype=np.float32
    )
    return white, one_pole_lowpass(white, DARK_NOISE_CUTOFF_HZ, sr)


def noise(rng: np.random.Generator, length: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """White and dark noise of ``length`` samples, the dark one the white one through a one-pole
    lowpass at :data:`DARK_NOISE_CUTOFF_HZ`.

    A random slice (and sign) of a fixed bank of :data:`NOISE_BANK_SECONDS`; longer noise is drawn
    afresh from ``rng``.

    Returns:
        ``(white, dark)``, each ``(length,)`` float32 with unit variance (white).
    """
    white, dark = _noise_bank(sr)
    if length > len(white):
        fresh = rng.standard_normal(length, dtype=np.float32)
        return fresh, one_pole_lowpass(fresh, DARK_NOISE_CUTOFF_HZ, sr)
    offset = int(rng.integers(len(white) - length + 1))
    sign = np.float32(rng.choice([-1.0, 1.0]))
    return sign * white[offset : offset + length], sign * dark[offset : offset + length]


def room_impulse_response(
    rng: np.random.Generator, rt60: float, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """A synthetic room impulse response: exponentially decaying noise.

    High frequencies decay twice as fast as low ones (air and wall absorption), and a short
    random pre-delay separates the direct sound from the reverb.

    Args:
        rng: source of randomness; the same state gives the same response.
        rt60: time for the low band to decay by 60 dB, in seconds.
        sr: sample rate.

    Returns:
        ``(samples,)`` float32 response with unit energy.
    """
    length = max(1, int(rt60 * sr))
    t = np.arange(length, dtype=np.float32) / np.float32(sr)
    white, low = noise(rng, length, sr)
    decay = np.float32(-math.log(1000.0) / rt60)  # -60 dB at rt60
    tail = low * np.exp(decay * t) + (white - low) * np.exp(2 * decay * t)
    response = np.concatenate([np.zeros(int(rng.uniform(0.0, 0.02) * sr), np.float32), tail])
    return response / np.float32(np.sqrt(np.sum(response.astype(np.float64) ** 2)) + 1e-12)


def biquad(kind: str, freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One RBJ audio-EQ-cookbook biquad: a ``"low"`` or ``"high"`` shelf, or a ``"peak"``.

    Args:
        kind: ``"low"``, ``"high"`` or ``"peak"``.
        freq: corner (shelves) or centre (peak) frequency in Hz.
        gain_db: gain of the shelf or peak in dB.
        q: quality factor (0.707 for a maximally flat shelf).
        sr: sample rate.

    Returns:
        ``(6,)`` second-order section ``[b0, b1, b2, 1, a1, a2]`` for ``scipy.signal.sosfilt``.
    """

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


def compress(
    audio: np.ndarray,
    threshold: float,
    ratio: float,
    attack_seconds: float,
    release_seconds: float,
    sr: int,
) -> np.ndarray:
    """Feed-forward compression driven by a one-pole RMS envelope follower.

    The envelope and gain are computed on 1 ms blocks and interpolated back: a gain that moves
    over milliseconds needs no per-sample computation.

    Args:
        audio: ``(samples,)`` float32.
        threshold: level (linear RMS) above which the gain is reduced.
        ratio: compression ratio above the threshold.
        attack_seconds: time constant of the envelope follower.
        release_seconds: time constant of the gain smoothing.
        sr: sample rate.

    Returns:
        ``(samples,)`` float32.
    """
    import scipy.signal  # on first use: a 0.6 s import that transcription never needs

    n = len(audio)
    block = max(1, sr // 1000)
    blocks = -(-n // block)
    framed = np.pad(audio, (0, blocks * block - n)).reshape(blocks, block)
    power = np.mean(framed * framed, axis=1, dtype=np.float64)
    attack = math.exp(-block / (attack_seconds * sr))
    release = math.exp(-block / (release_seconds * sr))
    envelope = np.sqrt(np.maximum(scipy.signal.lfilter([1 - attack], [1, -attack], power), 0.0))
    gain = np.maximum(envelope / threshold, 1.0) ** (1.0 / ratio - 1.0)
    # Smoothing the gain slowly is what makes the release audible, as in a hardware compressor.
    gain = scipy.signal.lfilter([1 - release], [1, -release], gain, zi=[release * gain[0]])[0]
    centres = (np.arange(blocks) + 0.5) * block
    return audio * np.interp(np.arange(n), centres, gain).astype(np.float32)


def loudness_gain(
    audio: np.ndarray,
    sr: int,
    target_rms: float = DEFAULT_TARGET_RMS,
    block_seconds: float = DEFAULT_LOUDNESS_BLOCK_SECONDS,
    gate_db: float = DEFAULT_LOUDNESS_GATE_DB,
    silence_rms: float = DEFAULT_SILENCE_RMS,
) -> float | None:
    """The factor that scales a whole recording to the loudness the model was trained at.

    Training crops are RMS-normalised one by one. A whole recording is measured over blocks of
    crop length; blocks more than ``gate_db`` below the recording's mean square are left out (a
    gate in the spirit of EBU R128), so a stem with long rests is not boosted above its level in
    training.

    Args:
        audio: ``(samples,)``.
        sr: its sample rate.
        target_rms: the RMS the played blocks are brought to.
        block_seconds: measurement block length.
        gate_db: blocks below the mean square by more than this are ignored.
        silence_rms: below this overall RMS the recording counts as silent.

    Returns:
        the gain, or ``None`` for a silent recording.
    """
    n = len(audio)
    if n == 0:
        return None
    block = max(1, int(block_seconds * sr))
    sums, lengths = [], []
    step = block * 64  # bounds the float64 temporary to 64 blocks
    for start in range(0, n, step):
        segment = audio[start : start + step]
        full = len(segment) // block * block
        if full:
            rows = segment[:full].reshape(-1, block)
            sums.append(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
            lengths.append(np.full(len(rows), block))
        if full < len(segment):
            tail = segment[full:].astype(np.float64)
            sums.append(np.array([tail @ tail]))
            lengths.append(np.array([len(tail)]))
    energy, length = np.concatenate(sums), np.concatenate(lengths)
    mean_square = float(energy.sum() / n)
    if math.sqrt(mean_square) < silence_rms:
        return None
    played = energy / length >= mean_square * 10 ** (-gate_db / 10)
    gated = float(energy[played].sum() / length[played].sum())
    return target_rms / math.sqrt(gated)
