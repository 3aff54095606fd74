"""Signal processing shared by the model, training and evaluation: the mel filterbank and
spectrogram, and the effects that synthetic training audio is produced with.

Pure functions of arrays or tensors; nothing here reads files or knows about drum components.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    f = np.asarray(f, dtype=np.float64)
    linear = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, linear)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
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


def mel_magnitude(
    audio: torch.Tensor,
    mel: torch.Tensor,
    n_fft: int,
    hop: int,
    frames: int | None = None,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Magnitude mel spectrogram on the analyzer's frame grid (frame ``t`` at sample ``t * hop``).

    Args:
        audio: ``(batch, samples)``.
        mel: ``(n_mels, n_fft // 2 + 1)`` filterbank.
        n_fft: STFT size (centred frames, constant padding so that inputs shorter than the
            window still work).
        hop: samples per frame.
        frames: frames to keep (default ``ceil(samples / hop)``).
        window: the ``n_fft``-point analysis window (default: Hann).

    Returns:
        ``(batch, n_mels, frames)``, non-negative.
    """
    frames = frames if frames is not None else max(1, math.ceil(audio.shape[-1] / hop))
    if window is None:
        window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(
        audio, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )[..., :frames]
    # hypot is .abs() written out, about 3x faster on CPU.
    return mel.to(audio.dtype) @ torch.hypot(spec.real, spec.imag)
