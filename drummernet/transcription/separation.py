"""Bringing the drums of a full mix forward before analysis: median-filter HPSS (built in) or
demucs (optional, if installed with its weights cached).

The analyzer was trained on drum stems. In a song, bass, chords and voices add sustained pitched
energy that it reads as toms, snares and hi-hats. Harmonic-percussive separation by median
filtering (Fitzgerald, "Harmonic/percussive separation using median filtering", DAFx 2010, with
the separation margin of Driedger, Müller & Disch, ISMIR 2014) keeps what is broadband and short
(drum strokes) and drops what is narrowband and long (notes):

* the harmonic estimate of a time-frequency bin is the median of its magnitude over
  ``time_kernel`` seconds, the percussive one the median over ``freq_kernel`` Hz;
* a bin is kept with the soft mask ``P^2 / (P^2 + (margin * H)^2)``: it must be well above its
  harmonic estimate, so a held note is removed while a drum's body, shorter than half the time
  kernel, counts as percussive.

:func:`hpss_drums` runs in overlapping chunks, in place, so memory stays at the recording itself
whatever its length; :func:`demucs_drums` wraps the ``demucs`` package's ``drums`` source.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from drummernet.constants import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_DEMUCS_MODEL,
    DEFAULT_HPSS_FFT_SECONDS,
    DEFAULT_HPSS_FREQ_KERNEL_HZ,
    DEFAULT_HPSS_HOP_FRACTION,
    DEFAULT_HPSS_MARGIN,
    DEFAULT_HPSS_TIME_KERNEL_SECONDS,
)
from drummernet.errors import SeparatorError


def _running_median_rows(x: np.ndarray, size: int) -> np.ndarray:
    """Median of every row of ``x: (rows, n)`` over a centred window of ``size`` (odd) samples,
    the row reflected at its ends (``scipy.ndimage.median_filter(x, (1, size),
    mode="reflect")``, except for rows shorter than half the window). A sorted window is updated
    by one removal and one insertion per step: O(size) per sample instead of a selection."""
    rows, n = x.shape
    half = size // 2
    out = np.empty_like(x)
    window = np.empty(size, dtype=x.dtype)
    for r in range(rows):
        row = x[r]
        for j in range(size):
            i = j - half
            i = -i - 1 if i < 0 else i
            i = 2 * n - i - 1 if i >= n else i
            i = min(max(i, 0), n - 1)  # a row shorter than half the window: clamped
            window[j] = row[i]
        window.sort()
        out[r, 0] = window[half]
        for t in range(1, n):
            o = t - 1 - half
            o = -o - 1 if o < 0 else o
            o = min(max(o, 0), n - 1)
            i = t + half
            i = 2 * n - i - 1 if i >= n else i
            i = min(max(i, 0), n - 1)
            old, new = row[o], row[i]
            p = 0  # position of the outgoing value
            while window[p] != old:
                p += 1
            if new >= old:  # shift left over the values below `new`
                while p + 1 < size and window[p + 1] < new:
                    window[p] = window[p + 1]
                    p += 1
            else:
                while p > 0 and window[p - 1] > new:
                    window[p] = window[p - 1]
                    p -= 1
            window[p] = new
            out[r, t] = window[half]
    return out


@functools.lru_cache(maxsize=1)
def _compiled_median() -> Callable[[np.ndarray, int], np.ndarray]:
    """:func:`_running_median_rows` compiled by numba (installed with librosa; compiled once and
    cached on disk), imported on first use so that drum stems never load it. Compiled, it is
    about 20 times faster than ``scipy.ndimage.median_filter``, whose generic filter selects the
    median of every window afresh."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba comes with librosa
        return _running_median_rows
    return njit(cache=True, nogil=True)(_running_median_rows)


def median_filter(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Running median of a 2-D float32 array along ``axis`` over ``size`` samples (odd), with
    reflected ends; equals ``scipy.ndimage.median_filter`` with that 1-D footprint."""
    size = max(1, size | 1)
    data = np.ascontiguousarray(x if axis == 1 else x.T, dtype=np.float32)
    out = _compiled_median()(data, size)
    return out if axis == 1 else out.T


def hpss_frames(sr: int, fft_seconds: float = DEFAULT_HPSS_FFT_SECONDS) -> tuple[int, int]:
    """``(n_fft, hop)`` of the separation's STFT at ``sr``: a power of two near
    ``fft_seconds`` and :data:`~drummernet.constants.DEFAULT_HPSS_HOP_FRACTION` of it."""
    n_fft = 2 ** max(5, round(math.log2(fft_seconds * sr)))
    return n_fft, max(1, int(n_fft * DEFAULT_HPSS_HOP_FRACTION))


def hpss_masks(
    magnitude: np.ndarray,
    sr: int,
    hop: int,
    margin: float = DEFAULT_HPSS_MARGIN,
    time_kernel: float = DEFAULT_HPSS_TIME_KERNEL_SECONDS,
    freq_kernel: float = DEFAULT_HPSS_FREQ_KERNEL_HZ,
) -> tuple[np.ndarray, np.ndarray]:
    """Soft harmonic and percussive masks of a magnitude spectrogram.

    Args:
        magnitude: ``(bins, frames)`` STFT magnitude, ``bins = n_fft // 2 + 1``.
        sr: sample rate.
        hop: STFT hop in samples.
        margin: a bin counts as percussive (harmonic) only when it is ``margin`` times its
            harmonic (percussive) estimate; 1 splits all energy between the two.
        time_kernel: seconds over which the harmonic estimate takes its median.
        freq_kernel: Hz over which the percussive estimate takes its median.

    Returns:
        ``(harmonic, percussive)`` masks in ``[0, 1]``, each ``(bins, frames)`` float32; with a
        margin above 1 they sum to less than 1 (the rest is the residual).
    """
    bins = magnitude.shape[0]
    bin_hz = sr / (2 * (bins - 1))
    harmonic = median_filter(magnitude, round(time_kernel * sr / hop), axis=1)
    percussive = median_filter(magnitude, round(freq_kernel / bin_hz), axis=0)
    h2, p2 = np.square(harmonic), np.square(percussive)
    tiny = np.finfo(np.float32).tiny
    mask_h = h2 / np.maximum(h2 + margin**2 * p2, tiny)
    mask_p = p2 / np.maximum(p2 + margin**2 * h2, tiny)
    return mask_h, mask_p


def _percussive(
    audio: np.ndarray, sr: int, n_fft: int, hop: int, margin: float, time_kernel: float,
    freq_kernel: float,
) -> np.ndarray:  # fmt: skip
    """The percussive part of ``audio: (samples,)``, same length."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
    _, mask = hpss_masks(spectrum.abs().numpy(), sr, hop, margin, time_kernel, freq_kernel)
    y = torch.istft(spectrum * torch.from_numpy(mask), n_fft, hop, window=window, length=len(x))
    return y.numpy()


def process_in_chunks(
    audio: np.ndarray,
    process: Callable[[np.ndarray], np.ndarray],
    core: int,
    context: int,
    align: int = 1,
) -> np.ndarray:
    """Replace ``audio`` by ``process(audio)``, in place, one window at a time.

    Cores of ``core`` samples are processed inside windows with ``context`` samples on both sides
    (fewer at the recording's ends) and only the core of each result is kept, so the peak memory
    is one window beside the recording. A process whose output at a sample depends only on
    input within ``context`` of it gives the result of one pass over the whole recording.

    Args:
        audio: ``(samples,)``, overwritten.
        process: maps a window ``(m,)`` to ``(m,)``.
        core: core length in samples (raised to ``context``: the left context of a window is
            kept aside from the core before it, which it must fit in).
        context: samples of context on each side.
        align: window starts fall on multiples of this (an STFT hop keeps the frame grid).

    Returns:
        ``audio``.
    """
    n = len(audio)
    core = max(core, context, 1)
    core = -(-core // align) * align
    context = -(-context // align) * align
    if n <= core + 2 * context:
        audio[:] = process(audio.copy())
        return audio
    left_context: np.ndarray | None = None  # original samples before the current core
    for start in range(0, n, core):
        end = min(n, start + core)
        first = max(0, start - context)
        window = audio[first : min(n, end + context)].copy()
        if left_context is not None:
            window[: start - first] = left_context[len(left_context) - (start - first) :]
        left_context = audio[max(0, end - context) : end].copy()
        audio[start:end] = process(window)[start - first : end - first]
    return audio


def hpss_drums(
    audio: np.ndarray,
    sr: int,
    *,
    margin: float = DEFAULT_HPSS_MARGIN,
    time_kernel: float = DEFAULT_HPSS_TIME_KERNEL_SECONDS,
    freq_kernel: float = DEFAULT_HPSS_FREQ_KERNEL_HZ,
    fft_seconds: float = DEFAULT_HPSS_FFT_SECONDS,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> np.ndarray:
    """Keep the percussive part of a recording (the drums of a full mix), in place.

    Runs in chunks (:func:`process_in_chunks`) with enough context for the medians and the STFT
    (about ``time_kernel`` in all), on the frame grid of a single pass: the result equals the
    unchunked one up to rounding.

    Args:
        audio: ``(samples,)`` float32, overwritten with the result.
        sr: sample rate.
        margin, time_kernel, freq_kernel: see :func:`hpss_masks`.
        fft_seconds: STFT window length (see :func:`hpss_frames`).
        chunk_seconds: core length.

    Returns:
        ``audio``, now the percussive part.
    """
    n_fft, hop = hpss_frames(sr, fft_seconds)
    # Frames outside a core that still affect it: half the time median, the STFT's centring
    # padding and the overlap-add of the inverse STFT.
    context = (round(time_kernel * sr / hop) // 2 + 2 * (n_fft // hop) + 1) * hop

    def percussive(window: np.ndarray) -> np.ndarray:
        return _percussive(window, sr, n_fft, hop, margin, time_kernel, freq_kernel)

    return process_in_chunks(audio, percussive, round(chunk_seconds * sr), context, hop)


# --------------------------------------------------------------------------------------------
# demucs (optional)

#: Seconds of audio demucs separates per call (with :data:`DEMUCS_CONTEXT_SECONDS` each side):
#: its output for a whole song would hold four stereo sources at 44.1 kHz.
DEMUCS_CHUNK_SECONDS = 60.0
DEMUCS_CONTEXT_SECONDS = 2.0


def demucs_cache() -> Path:
    """Where demucs' pretrained weights are cached: torch hub's ``checkpoints`` folder."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def check_demucs(name: str = DEFAULT_DEMUCS_MODEL) -> Path:
    """Check that demucs is installed and that the weights of model ``name`` are cached, without
    importing torch hub's downloader or touching the network.

    The weights are looked up in :func:`demucs_cache` under the file names demucs lists in its
    ``remote/files.txt`` for the signatures of ``remote/<name>.yaml``.

    Returns:
        the folder holding demucs' own model list (``remote/``).

    Raises:
        SeparatorError: demucs is not installed, has no model ``name``, or its weights are not
            in the cache. The message is one line that says which.
    """
    spec = importlib.util.find_spec("demucs")
    if spec is None or not spec.submodule_search_locations:
        raise SeparatorError(
            "--separate demucs: the demucs package is not installed (pip install demucs)"
        )
    import yaml

    remote = Path(next(iter(spec.submodule_search_locations))) / "remote"
    bag = remote / f"{name}.yaml"
    if not bag.is_file():
        raise SeparatorError(f"--separate demucs: demucs has no pretrained model {name!r}")
    signatures = yaml.safe_load(bag.read_text())["models"]
    files = (remote / "files.txt").read_text().split()
    cache = demucs_cache()
    for sig in signatures:
        if not any(f.split("-")[0] == sig and (cache / f).is_file() for f in files):
            raise SeparatorError(
                f"--separate demucs: the weights of demucs model {name!r} are not in {cache} "
                f"(missing {sig}); run demucs once with a network connection to fetch them"
            )
    return remote


def load_demucs(name: str = DEFAULT_DEMUCS_MODEL, device: str | torch.device | None = None):
    """A pretrained demucs model (or bag of models), loaded from the local cache only: through
    demucs' local repository classes, so nothing is ever downloaded.

    Raises:
        SeparatorError: see :func:`check_demucs`.
    """
    remote = check_demucs(name)
    from demucs.repo import AnyModelRepo, BagOnlyRepo, LocalRepo

    weights = LocalRepo(demucs_cache())
    model = AnyModelRepo(weights, BagOnlyRepo(remote, weights)).get_model(name)
    return model.to(device or "cpu").eval()


def demucs_drums(
    audio: np.ndarray,
    sr: int,
    name: str = DEFAULT_DEMUCS_MODEL,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """The drum source of a mix separated by demucs (Défossez, "Hybrid Spectrogram and Waveform
    Source Separation", 2021), in place.

    The mono recording is resampled to the model's rate and fed as every channel, in chunks of
    :data:`DEMUCS_CHUNK_SECONDS` (:func:`process_in_chunks`); the drum source comes back mixed to
    mono at ``sr``.

    Args:
        audio: ``(samples,)`` float32, overwritten.
        sr: its sample rate.
        name: a pretrained demucs model.
        device: torch device.

    Raises:
        SeparatorError: see :func:`check_demucs`.
    """
    model = load_demucs(name, device)
    from demucs.apply import apply_model

    from drummernet.audio import resample

    drums = list(model.sources).index("drums")

    def separate(window: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(resample(window, sr, model.samplerate))
        x = x.expand(model.audio_channels, -1)
        scale = x.std().clamp_min(1e-8)
        with torch.inference_mode():
            out = apply_model(model, (x / scale)[None], device=device or "cpu", progress=False)
        stem = (out[0, drums].mean(0) * scale).cpu().numpy().astype(np.float32)
        stem = resample(stem, model.samplerate, sr)
        fitted = np.zeros(len(window), dtype=np.float32)
        fitted[: min(len(stem), len(window))] = stem[: len(window)]
        return fitted

    return process_in_chunks(
        audio, separate, round(DEMUCS_CHUNK_SECONDS * sr), round(DEMUCS_CONTEXT_SECONDS * sr)
    )
