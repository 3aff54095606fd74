"""Audio I/O: read any supported file to mono float32 at a target rate, and write files atomically.

Every reader in the package goes through :func:`load_audio`, so a bad file fails the same way
everywhere: with an :class:`AudioError` whose message is one line naming the file and the problem.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .constants import SAMPLE_RATE

#: File extensions treated as audio when a directory is scanned.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


class AudioError(ValueError):
    """An input that is not usable audio. ``str(error)`` is a one-line message for the user."""


def resample(audio: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    """Resample along the last axis.

    Args:
        audio: ``(..., samples)`` float array.
        orig_sr: its sample rate.
        sr: the target sample rate.

    Returns:
        ``(..., samples * sr / orig_sr)`` float32 array (the same array if the rates match).
    """
    if orig_sr == sr:
        return np.asarray(audio, dtype=np.float32)
    import librosa  # imported lazily: librosa's import is slow and most callers never resample

    return librosa.resample(
        np.asarray(audio, dtype=np.float32), orig_sr=orig_sr, target_sr=sr, res_type="soxr_hq"
    ).astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mix ``(samples,)`` or ``(samples, channels)`` audio down to ``(samples,)``."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def load_audio(path: str | os.PathLike, sr: int | None = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32, optionally resampled.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        sr: target sample rate, or ``None`` to keep the file's own rate.

    Returns:
        ``(audio, sr)`` with ``audio: (samples,)`` float32.

    Raises:
        AudioError: the file is missing, a directory, unreadable, empty, or holds NaN/inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for bad files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    audio = to_mono(data)
    if sr is None:
        return audio, int(file_sr)
    return resample(audio, int(file_sr), sr), sr


def find_audio_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand files and directories (searched recursively) to a sorted list of audio files.

    Files named explicitly are kept whatever their extension, so that a bad one can be reported.
    """
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found.extend(
                sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
            )
        else:
            found.append(item)
    return found


def atomic_write(path: str | os.PathLike, write, suffix: str | None = None) -> Path:
    """Write a file atomically: ``write(tmp_path)`` fills a temporary file that is then renamed.

    A crash or an exception in ``write`` never leaves a partial file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix
    )
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_audio(path: str | os.PathLike, audio: np.ndarray, sr: int) -> Path:
    """Write ``audio: (samples,)`` to a wav/flac file atomically."""
    fmt = Path(path).suffix.lstrip(".").upper() or "WAV"
    return atomic_write(path, lambda tmp: sf.write(tmp, np.asarray(audio), sr, format=fmt))
