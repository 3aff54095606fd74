"""Reference systems to score the model against: a band-wise spectral-flux onset detector.

The detector splits a log-compressed magnitude spectrogram into one frequency band per drum class
(kick low, snare middle, hi-hat high), sums the positive spectral flux inside each band and picks
peaks above a moving-average threshold. It knows nothing about timbre, so snare strokes leak into
the hi-hat band and kick clicks into the snare band; that is what makes it a useful floor for a
learned transcriber such as DrummerNet (Choi & Cho, "Deep Unsupervised Drum Transcription",
ISMIR 2019). Spectral flux with log compression follows Böck & Widmer, "Maximum Filter Vibrato
Suppression for Onset Detection", DAFx 2013; peak picking is :func:`librosa.util.peak_pick`.

Every parameter is a ``DEFAULT_*`` constant below and can be overridden per call.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from drummernet.audio import load_audio
from drummernet.evaluation.datasets import Track

#: Frequency band (Hz) whose spectral flux detects each class. Upper edges above Nyquist are
#: clipped, so a 16 kHz file still gets a (narrow) hi-hat band.
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "KD": (20.0, 150.0),
    "SD": (150.0, 5000.0),
    "HH": (7000.0, 20000.0),
}

#: STFT hop in seconds (220 samples at 44.1 kHz): fine enough that frame quantisation is small
#: against a 50 ms tolerance.
DEFAULT_HOP_SECONDS = 0.005

#: STFT window length in seconds, rounded up to a power of two (2048 samples at 44.1 kHz): long
#: enough to give the 20-150 Hz kick band several bins of its own.
DEFAULT_WINDOW_SECONDS = 0.046

#: Log compression ``log1p(gamma * magnitude / max magnitude)``.
DEFAULT_LOG_GAMMA = 1.0

#: Spectral flux compares each frame with the one this many seconds earlier; a lag of two hops
#: reacts to attacks that straddle a frame boundary.
DEFAULT_FLUX_LAG_SECONDS = 0.01

#: Each onset curve is scaled by this percentile of its values before thresholding, so that one
#: very loud stroke (a crash in the hi-hat band) does not lift the threshold for the whole track.
DEFAULT_NORM_PERCENTILE = 99.0

#: ...but by at least this fraction of the curve's maximum, so that a class that is nearly absent
#: (whose 99th percentile is background) is not scaled up to detect its background.
DEFAULT_NORM_FLOOR = 0.25

#: Peak threshold above the local mean of the scaled onset curve.
DEFAULT_THRESHOLD = 0.3

#: A peak must be the maximum within this many seconds before and after it.
DEFAULT_MAX_WINDOW_SECONDS = 0.03

#: The local mean of the adaptive threshold spans this many seconds before and after a frame.
DEFAULT_AVERAGE_BEFORE_SECONDS = 0.1
DEFAULT_AVERAGE_AFTER_SECONDS = 0.1

#: Minimum gap between two onsets of one class (s); rolls and flams faster than this merge.
DEFAULT_MIN_GAP_SECONDS = 0.03


def _frames(seconds: float, hop_seconds: float, minimum: int = 0) -> int:
    return max(minimum, round(seconds / hop_seconds))


def band_flux(
    audio: np.ndarray,
    sr: int,
    *,
    bands: Mapping[str, tuple[float, float]] | None = None,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    log_gamma: float = DEFAULT_LOG_GAMMA,
    flux_lag_seconds: float = DEFAULT_FLUX_LAG_SECONDS,
) -> tuple[dict[str, np.ndarray], float]:
    """Onset-strength curves: positive log-spectral flux summed within each band.

    Args:
        audio: ``(samples,)`` mono audio.
        sr: its sample rate, used as is (no resampling).
        bands: class -> ``(low_hz, high_hz)``; defaults to :data:`DEFAULT_BANDS`.
        hop_seconds: STFT hop.
        window_seconds: STFT window, rounded up to a power of two in samples.
        log_gamma: log-compression factor.
        flux_lag_seconds: distance between the frames the flux compares.

    Returns:
        ``(curves, frame_rate)``: ``curves[label]`` is ``(frames,)`` float32, all zeros when the
        band lies above Nyquist; frame ``i`` is centred at ``i / frame_rate`` seconds.
    """
    import librosa  # imported lazily: librosa's import is slow and importers may never detect

    bands = DEFAULT_BANDS if bands is None else bands
    audio = np.asarray(audio, dtype=np.float32)
    hop = max(1, round(sr * hop_seconds))
    n_fft = int(2 ** np.ceil(np.log2(max(sr * window_seconds, 16))))
    spectrum = librosa.stft(audio, n_fft=n_fft, hop_length=hop, window="hann")
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    # Magnitudes of each band's bins (low <= f < high) only: these arrays are most of the run time.
    magnitudes = {}
    for label, (low, high) in bands.items():
        first, stop = np.searchsorted(freqs, [low, high])
        magnitudes[label] = np.abs(spectrum[first:stop])
    # Normalising by the loudest bin makes the detector independent of the recording's gain.
    peak = max((float(m.max()) for m in magnitudes.values() if m.size), default=0.0)
    lag = _frames(flux_lag_seconds, hop / sr, minimum=1)
    curves = {}
    for label, band in magnitudes.items():
        curve = np.zeros(spectrum.shape[1], np.float32)
        if band.size and peak > 0 and curve.size > lag:
            band *= np.float32(log_gamma / peak)
            np.log1p(band, out=band)
            rise = np.subtract(band[:, lag:], band[:, :-lag])
            np.maximum(rise, 0.0, out=rise)
            curve[lag:] = rise.mean(axis=0)
        curves[label] = curve
    return curves, sr / hop


def pick_onsets(
    curve: np.ndarray,
    frame_rate: float,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    norm_percentile: float = DEFAULT_NORM_PERCENTILE,
    norm_floor: float = DEFAULT_NORM_FLOOR,
    max_window_seconds: float = DEFAULT_MAX_WINDOW_SECONDS,
    average_before_seconds: float = DEFAULT_AVERAGE_BEFORE_SECONDS,
    average_after_seconds: float = DEFAULT_AVERAGE_AFTER_SECONDS,
    min_gap_seconds: float = DEFAULT_MIN_GAP_SECONDS,
) -> np.ndarray:
    """Peak-pick an onset-strength curve with an adaptive (moving-average) threshold.

    Args:
        curve: ``(frames,)`` onset strength.
        frame_rate: frames per second.
        threshold: margin above the local mean, once the curve is scaled by its
            ``norm_percentile``-th percentile (at least ``norm_floor`` times its maximum).
        norm_percentile: percentile of the curve that scales it.
        norm_floor: lower bound of the scale, as a fraction of the curve's maximum.
        max_window_seconds: a peak is the maximum within this distance on either side.
        average_before_seconds: span of the local mean before the frame.
        average_after_seconds: span of the local mean after the frame.
        min_gap_seconds: minimum distance between picked onsets.

    Returns:
        ``(onsets,)`` float64 onset times in seconds, sorted.
    """
    import librosa  # lazily, as in band_flux

    curve = np.asarray(curve, dtype=np.float64)
    if curve.size == 0 or curve.max() <= 0:
        return np.zeros(0)
    scale = max(np.percentile(curve, norm_percentile), norm_floor * curve.max())
    hop = 1.0 / frame_rate
    peaks = librosa.util.peak_pick(
        curve / scale,
        pre_max=_frames(max_window_seconds, hop, 1),
        post_max=_frames(max_window_seconds, hop, 1),
        pre_avg=_frames(average_before_seconds, hop, 1),
        post_avg=_frames(average_after_seconds, hop, 1),
        delta=threshold,
        wait=_frames(min_gap_seconds, hop),
    )
    return np.asarray(peaks, dtype=np.float64) / frame_rate


def bandwise_onsets(
    audio: np.ndarray,
    sr: int,
    *,
    bands: Mapping[str, tuple[float, float]] | None = None,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    log_gamma: float = DEFAULT_LOG_GAMMA,
    flux_lag_seconds: float = DEFAULT_FLUX_LAG_SECONDS,
    threshold: float = DEFAULT_THRESHOLD,
    norm_percentile: float = DEFAULT_NORM_PERCENTILE,
    norm_floor: float = DEFAULT_NORM_FLOOR,
    max_window_seconds: float = DEFAULT_MAX_WINDOW_SECONDS,
    average_before_seconds: float = DEFAULT_AVERAGE_BEFORE_SECONDS,
    average_after_seconds: float = DEFAULT_AVERAGE_AFTER_SECONDS,
    min_gap_seconds: float = DEFAULT_MIN_GAP_SECONDS,
) -> dict[str, np.ndarray]:
    """Detect kick, snare and hi-hat onsets by band-wise spectral flux.

    Args:
        audio: ``(samples,)`` mono audio at any rate (44.1 kHz gives the full hi-hat band).
        sr: its sample rate.
        bands: class -> ``(low_hz, high_hz)``; defaults to :data:`DEFAULT_BANDS` (KD, SD, HH).
        hop_seconds, window_seconds, log_gamma, flux_lag_seconds: see :func:`band_flux`.
        threshold, norm_percentile, norm_floor, max_window_seconds, average_before_seconds,
            average_after_seconds, min_gap_seconds: see :func:`pick_onsets`.

    Returns:
        class -> ``(onsets,)`` sorted onset times in seconds, one entry per band.
    """
    curves, frame_rate = band_flux(
        audio,
        sr,
        bands=bands,
        hop_seconds=hop_seconds,
        window_seconds=window_seconds,
        log_gamma=log_gamma,
        flux_lag_seconds=flux_lag_seconds,
    )
    return {
        label: pick_onsets(
            curve,
            frame_rate,
            threshold=threshold,
            norm_percentile=norm_percentile,
            norm_floor=norm_floor,
            max_window_seconds=max_window_seconds,
            average_before_seconds=average_before_seconds,
            average_after_seconds=average_after_seconds,
            min_gap_seconds=min_gap_seconds,
        )
        for label, curve in curves.items()
    }


def bandwise_system(track: Track) -> dict[str, np.ndarray]:
    """:func:`bandwise_onsets` on a track's audio at the file's own rate (a system for
    :func:`drummernet.evaluation.scoring.evaluate`)."""
    audio, sr = load_audio(track.audio_path, sr=None)
    return bandwise_onsets(audio, sr)
