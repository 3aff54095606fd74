"""Audio I/O: read any supported file to mono float32 at a target rate, and write files atomically.

Every file is validated by :func:`audio_info` before it is decoded, so a bad file fails the same
way everywhere: with an :class:`AudioError` whose message is one line naming the file and the
problem. :func:`load_input` is the one way from "a file or an array" to validated mono float32 at
a rate (what transcription takes); :func:`load_audio` reads a short file whole, :func:`read_audio`
streams a long one. Multichannel arrays are ``(channels, samples)`` (see :func:`to_mono`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from drummernet.constants import MIN_AUDIO_SECONDS, SAMPLE_RATE
from drummernet.errors import AudioError

if TYPE_CHECKING:
    import torch

#: File extensions treated as audio when a directory is scanned.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


def resample(audio: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    """Resample along the last axis.

    Args:
        audio: ``(..., samples)`` float array.
        orig_sr: its sample rate.
        sr: the target sample rate.

    Returns:
        ``(..., samples * sr / orig_sr)`` float32 array (the same array if the rates match).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == sr:
        return audio
    if audio.ndim == 1:
        import soxr  # librosa's "soxr_hq" resampler, without librosa's second-long import

        return soxr.resample(audio, orig_sr, sr, quality="HQ").astype(np.float32)
    import librosa

    return librosa.resample(
        np.asarray(audio, dtype=np.float32), orig_sr=orig_sr, target_sr=sr, res_type="soxr_hq"
    ).astype(np.float32)


def to_mono(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    """Mix audio down to one channel: the package's one mono convention.

    Multichannel audio is ``(channels, samples)`` everywhere in drummernet, as in torch and
    librosa and as :func:`resample` expects (``(..., samples)``); soundfile's
    ``(frames, channels)`` blocks are transposed (a view) before they come here.

    Args:
        audio: ``(samples,)`` or ``(channels, samples)``; a numpy array, or a torch tensor on any
            device.

    Returns:
        ``(samples,)`` float32, a new array that the caller may modify in place.

    Raises:
        ValueError: ``audio`` has another number of dimensions.
    """
    if not isinstance(audio, np.ndarray):
        import torch  # not at the top: reading files must not cost torch's import

        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    elif audio.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (channels, samples), got {audio.shape}")
    return np.array(audio, dtype=np.float32, copy=True)


def load_audio(path: str | os.PathLike, sr: int | None = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32, optionally resampled.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        sr: target sample rate, or ``None`` to keep the file's own rate.

    Returns:
        ``(audio, sr)`` with ``audio: (samples,)`` float32.

    Raises:
        AudioError: the file is missing, a directory, unreadable, empty, truncated, or holds
            NaN/inf samples.
    """
    path = Path(path)
    audio_info(path)  # one-line errors for missing, empty, non-audio and truncated files
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: not a readable audio file ({_first_line(error)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    audio = to_mono(data.T)
    if sr is None:
        return audio, int(file_sr)
    return resample(audio, int(file_sr), sr), sr


def files_in(folder: str | os.PathLike, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """The files under ``folder`` (searched recursively) whose extension, in any case, is one of
    ``extensions``, sorted. The package's one folder scan."""
    return sorted(
        p for p in Path(folder).rglob("*") if p.suffix.lower() in extensions and p.is_file()
    )


def find_audio_files(
    paths: Sequence[str | os.PathLike], extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[Path]:
    """Expand files and directories (searched recursively) to a list of files: each folder's
    files with one of ``extensions`` (sorted), then the next argument's.

    Files named explicitly are kept whatever their extension, so that a bad one can be reported.
    """
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found.extend(files_in(item, extensions))
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files; give the usual permissions
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


# --------------------------------------------------------------------------------------------
# Streaming: long files are read block by block, so memory holds at most the mono result.

#: Frames read from a file per block by :func:`stream_audio` (about 6 s at 44.1 kHz).
STREAM_BLOCK_FRAMES = 1 << 18

#: A placeholder chunk size written by streaming encoders that never patched their header; such a
#: size (or more) is "unknown", not "truncated".
_UNKNOWN_CHUNK_SIZE = 0x7FFFFFFF


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says.

    Attributes:
        path: the file.
        sample_rate: its sample rate.
        channels: its channel count.
        frames: frames per channel (an estimate for mp3).
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def _first_line(error: BaseException) -> str:
    import re

    text = str(error).strip()
    # soundfile repeats the path ("Error opening 'x.wav': ..."); the message already names it.
    text = re.sub(r"^Error opening .*?: ", "", text.splitlines()[0] if text else "")
    return text or type(error).__name__


def _declared_truncation(log: str) -> tuple[int, int] | None:
    """``(declared, present)`` audio bytes when a WAV/AIFF header promises more than the file has.

    libsndfile reads such files without complaint (the audio simply stops early), but notes the
    mismatch in its log as ``data : 384000 (should be 191957)``.
    """
    import re

    for match in re.finditer(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.M):
        declared, present = int(match.group(1)), int(match.group(2))
        if present < declared < _UNKNOWN_CHUNK_SIZE:
            return declared, present
    return None


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read and validate a file's header without decoding its audio.

    Raises:
        AudioError: the file is missing, a directory, empty, not audio, truncated (a WAV/AIFF
            whose header declares more audio than the file holds) or holds no samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as error:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: not a readable audio file ({_first_line(error)})") from None
    truncated = _declared_truncation(getattr(info, "extra_info", "") or "")
    if truncated is not None:
        declared, present = truncated
        raise AudioError(
            f"{path}: file is truncated (its header declares {declared} bytes of audio, "
            f"only {present} are present)"
        )
    if info.frames <= 0:
        raise AudioError(f"{path}: contains no audio samples")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def stream_audio(
    path: str | os.PathLike,
    sr: int | None = SAMPLE_RATE,
    block_frames: int = STREAM_BLOCK_FRAMES,
) -> Iterator[np.ndarray]:
    """Decode a file block by block, mixed to mono and resampled on the fly.

    Memory stays at a few blocks whatever the file's length, channel count or rate. The
    resampler is soxr's streaming one at the quality :func:`resample` uses.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        sr: output sample rate, or ``None`` for the file's own.
        block_frames: frames decoded per block.

    Yields:
        ``(samples,)`` float32 mono blocks at ``sr`` (some may be empty).

    Raises:
        AudioError: as :func:`audio_info`, or when decoding fails part-way (a corrupt stream) or
            a sample is NaN or infinite.
    """
    info = audio_info(path)
    path = info.path
    resampler = None
    if sr is not None and sr != info.sample_rate:
        import soxr  # installed with librosa; imported here so that reading at the file rate skips it

        resampler = soxr.ResampleStream(info.sample_rate, sr, 1, dtype="float32", quality="HQ")
    try:
        handle = sf.SoundFile(str(path))
    except Exception as error:
        raise AudioError(f"{path}: not a readable audio file ({_first_line(error)})") from None
    with handle:
        position = 0
        while True:
            try:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
            except Exception as error:
                raise AudioError(
                    f"{path}: corrupt audio after {position / info.sample_rate:.2f} s "
                    f"({_first_line(error)})"
                ) from None
            if block.shape[0] == 0:
                break
            if not np.isfinite(block).all():
                raise AudioError(f"{path}: contains NaN or infinite samples")
            position += block.shape[0]
            mono = to_mono(block.T) if block.shape[1] > 1 else block[:, 0]
            yield resampler.resample_chunk(mono, last=False) if resampler else mono
    if position == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


# --------------------------------------------------------------------------------------------
# Inputs: a file or an array -> validated mono float32 at a rate.


def read_audio(path: str | os.PathLike, sr: int) -> tuple[np.ndarray, int]:
    """Read a whole file as mono float32 at ``sr``, streaming.

    Blocks are decoded, mixed to mono and resampled one at a time (:func:`stream_audio`) into one
    preallocated buffer, so the peak memory is the mono result, not the file's decoded channels.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        sr: the sample rate to resample to.

    Returns:
        ``(audio (samples,), file_sample_rate)``; ``audio`` is float32, owned by the caller.

    Raises:
        AudioError: see :func:`stream_audio`.
    """
    info = audio_info(path)
    buffer = np.empty(int(math.ceil(info.frames * sr / info.sample_rate)) + 64, dtype=np.float32)
    filled = 0
    for block in stream_audio(path, sr):
        if filled + len(block) > len(buffer):  # mp3 headers only estimate the length
            grown = np.empty(max(2 * len(buffer), filled + len(block)), dtype=np.float32)
            grown[:filled] = buffer[:filled]
            buffer = grown
        buffer[filled : filled + len(block)] = block
        filled += len(block)
    return buffer[:filled], info.sample_rate


def load_input(
    audio: str | os.PathLike | np.ndarray | torch.Tensor,
    sr: int | None,
    target_sr: int,
) -> tuple[np.ndarray, int]:
    """A recording given as a file or an array, as validated mono float32 at ``target_sr``.

    Files are streamed (:func:`read_audio`); arrays are mixed down (:func:`to_mono`) and
    resampled (:func:`resample`).

    Args:
        audio: a file path (wav, flac, ogg, mp3, aiff; any rate and channel count), or an array
            or tensor ``(samples,)`` or ``(channels, samples)``.
        sr: the array's sample rate (required for arrays, ignored for files).
        target_sr: the sample rate to return the audio at.

    Returns:
        ``(audio (samples,), source sample rate)``: float32 at ``target_sr``, a new array that
        the caller may modify in place, at least :data:`~drummernet.constants.MIN_AUDIO_SECONDS`
        long; and the file's or the array's own rate.

    Raises:
        AudioError: an unreadable, empty, truncated or corrupt file (see :func:`stream_audio`),
            an empty array, NaN or infinite samples, or audio shorter than
            :data:`~drummernet.constants.MIN_AUDIO_SECONDS`.
        ValueError: an array without ``sr``, or with other than 1 or 2 dimensions.
    """
    if isinstance(audio, (str, os.PathLike)):
        name = str(audio)
        samples, source_sr = read_audio(audio, target_sr)
    else:
        if sr is None:
            raise ValueError("sr is required when audio is an array")
        name, source_sr = "audio", int(sr)
        samples = to_mono(audio)
        if samples.size == 0:
            raise AudioError(f"{name}: contains no audio samples")
        if not np.isfinite(samples).all():
            raise AudioError(f"{name}: contains NaN or infinite samples")
        samples = resample(samples, source_sr, target_sr)
    duration = len(samples) / target_sr
    if duration < MIN_AUDIO_SECONDS:
        raise AudioError(
            f"{name}: audio is too short ({duration * 1000:.0f} ms; at least "
            f"{MIN_AUDIO_SECONDS * 1000:.0f} ms needed)"
        )
    return samples, source_sr


def read_audio_frames(
    path: str | os.PathLike, start: int, frames: int, sr: int | None = SAMPLE_RATE
) -> np.ndarray:
    """Read ``frames`` frames of a file from frame ``start`` as mono float32, resampled.

    For random crops of long files (the training data): only the crop is decoded. Fewer frames
    come back where the file ends first.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        start: first frame to read, at the file's own rate.
        frames: frames to read, at the file's own rate.
        sr: output sample rate, or ``None`` for the file's own.

    Returns:
        ``(samples,)`` float32 at ``sr``.

    Raises:
        AudioError: the file cannot be opened or decoded.
    """
    try:
        data, file_sr = sf.read(
            str(path), start=start, frames=frames, dtype="float32", always_2d=True
        )
    except Exception as error:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: not a readable audio file ({_first_line(error)})") from None
    mono = to_mono(data.T)
    return mono if sr is None else resample(mono, int(file_sr), sr)
