"""Audio I/O: read any supported file to mono float32 at a target rate, and write files atomically.

Every file is validated by :func:`audio_info` before it is decoded, so a bad file fails the same
way everywhere: with an :class:`AudioError` whose message is one line naming the file and the
problem. :func:`load_input` is the one way from "a file or an array" to validated mono float32 at
a rate (what transcription takes); :func:`load_audio` reads a short file whole, :func:`read_audio`
streams a long one. Multichannel arrays are ``(channels, samples)`` (see :func:`to_mono`).

Every file drummernet writes goes through :func:`atomic_write`: complete or absent, never partial,
and created exclusively unless replacing was asked for.
"""

from __future__ import annotations

import errno
import math
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from drummernet.constants import MAX_SAMPLE_RATE, MIN_AUDIO_SECONDS, MIN_SAMPLE_RATE, SAMPLE_RATE
from drummernet.errors import AudioError, OutputError, OutputExistsError

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
        AudioError: ``audio`` has another number of dimensions, or does not hold numbers.
    """
    if not isinstance(audio, np.ndarray):
        import torch  # not at the top: reading files must not cost torch's import

        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
    try:
        audio = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise AudioError(f"audio must be an array of numbers ({_first_line(error)})") from None
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    elif audio.ndim != 1:
        raise AudioError(f"audio must be (samples,) or (channels, samples), got {audio.shape}")
    return np.array(audio, dtype=np.float32, copy=True)


def check_sample_rate(sr: object, name: str = "audio") -> int:
    """``sr`` as an int, when it is a whole number of Hz from
    :data:`~drummernet.constants.MIN_SAMPLE_RATE` to :data:`~drummernet.constants.MAX_SAMPLE_RATE`.

    Args:
        sr: the rate to check.
        name: what the rate belongs to (a file name), for the message.

    Raises:
        AudioError: ``sr`` is not a whole number, or outside the range.
    """
    if isinstance(sr, (int, np.integer)) and not isinstance(sr, bool):
        rate = int(sr)
    elif isinstance(sr, (float, np.floating)) and float(sr).is_integer():
        rate = int(sr)
    else:
        raise AudioError(f"{name}: sample rate must be a whole number of Hz, not {sr!r}")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{name}: sample rate {rate} Hz is outside the supported range "
            f"({MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    return rate


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


def _create_hidden(folder: Path, name: str, suffix: str) -> str:
    """Create an empty hidden file ``folder/.name.XXXXXXXX<suffix>`` (mode 0600); its path.

    The name is chosen before the file exists, so a caller that holds it can always clean up,
    whenever an exception (a signal turned into one) interrupts it.
    """
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return tmp
        except FileExistsError:
            continue


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _link_exclusively(tmp: str, path: Path) -> None:
    """Give the finished file ``tmp`` the name ``path``, failing if ``path`` exists.

    A hard link is created exclusively, so two processes racing for one name cannot both win;
    ``tmp`` is then removed. Where the file system has no hard links, the name is reserved with
    ``O_EXCL`` and the file moved over the reservation.

    Raises:
        FileExistsError: ``path`` exists.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as error:
        no_links = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK)
        if error.errno not in no_links:
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            os.replace(tmp, path)
        except BaseException:
            os.unlink(path)
            raise
        return
    os.unlink(tmp)


def atomic_write(
    path: str | os.PathLike,
    write: Callable[..., object],
    suffix: str | None = None,
    *,
    overwrite: bool = True,
) -> Path:
    """Write a file atomically: ``write(tmp_path)`` fills a hidden file beside ``path``, which
    then takes its name in one step.

    ``path`` is never partial: an exception in ``write`` or a signal the process turns into one
    (the CLI does so for SIGTERM and SIGINT) removes the hidden file, and ``path`` keeps its old
    content or stays absent. Only a SIGKILL can leave the hidden file behind, never ``path``.

    Args:
        path: the file to write; its folder is created if missing.
        write: fills the file at the path it is given.
        suffix: the hidden file's extension, for writers that go by it (default ``path``'s).
        overwrite: replace an existing ``path``. Without it the file is created exclusively:
            whichever of two processes racing for ``path`` comes second gets the error.

    Returns:
        ``path``.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        OutputError: the folder cannot be created or written, or the disk is full.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_hidden(path.parent, path.name, suffix or path.suffix)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # give the permissions an ordinary new file gets
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_exclusively(tmp, path)
    except BaseException as error:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(error, FileExistsError) and not overwrite and path.exists():
            raise OutputExistsError(f"{path} exists") from None
        if isinstance(error, (FileExistsError, NotADirectoryError)) and not path.parent.is_dir():
            raise OutputError(
                f"{path}: cannot write (a file is in the way of its folder)"
            ) from None
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(f"{path}: cannot write ({error.strerror or error})") from error
        raise
    return path


def check_writable(folder: str | os.PathLike) -> None:
    """Check that files can be created in ``folder``, or in the folder that would hold it.

    Raises:
        OutputError: the folder is a file, or no file can be created in it (read-only, no
            permission, disk full).
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{existing}: output folder is a file")
    try:
        os.unlink(_create_hidden(existing, "drummernet-write-test", ""))
    except OSError as error:
        raise OutputError(
            f"{existing}: output folder is not writable ({error.strerror or error})"
        ) from None


def write_audio(
    path: str | os.PathLike, audio: np.ndarray, sr: int, *, overwrite: bool = True
) -> Path:
    """Write ``audio: (samples,)`` to a wav/flac file atomically (see :func:`atomic_write`)."""
    fmt = Path(path).suffix.lstrip(".").upper() or "WAV"
    return atomic_write(
        path, lambda tmp: sf.write(tmp, np.asarray(audio), sr, format=fmt), overwrite=overwrite
    )


# --------------------------------------------------------------------------------------------
# Streaming: long files are read block by block, so memory holds at most the mono result.

#: Frames read from a file per block by :func:`stream_audio` (about 6 s at 44.1 kHz).
STREAM_BLOCK_FRAMES = 1 << 18

#: The most frames a header may claim per byte of its file before :func:`read_audio` stops
#: trusting it to size its buffer: PCM holds under one frame per byte, and FLAC or Ogg about
#: that much; only long digital silence compresses further.
MAX_FRAMES_PER_BYTE = 64

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
            whose header declares more audio than the file holds), holds no samples, or claims
            a sample rate outside :data:`~drummernet.constants.MIN_SAMPLE_RATE` to
            :data:`~drummernet.constants.MAX_SAMPLE_RATE`.
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
    if info.channels <= 0:
        raise AudioError(f"{path}: not a readable audio file (no channels)")
    rate = check_sample_rate(info.samplerate, str(path))
    return AudioInfo(path, rate, int(info.channels), int(info.frames))


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
    # Blocks of many channels are cut shorter, so a block stays the size of a stereo one.
    if info.channels > 2:
        block_frames = max(1, block_frames * 2 // info.channels)
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
    The buffer is sized from the header only as far as the file's size makes the header
    plausible (:data:`MAX_FRAMES_PER_BYTE`); beyond that it grows as the audio arrives, so a
    header claiming hours in a small file costs nothing.

    Args:
        path: a wav, flac, ogg, mp3 or aiff file, any sample rate and channel count.
        sr: the sample rate to resample to.

    Returns:
        ``(audio (samples,), file_sample_rate)``; ``audio`` is float32, owned by the caller.

    Raises:
        AudioError: see :func:`stream_audio`.
    """
    info = audio_info(path)
    plausible = min(info.frames, info.path.stat().st_size * MAX_FRAMES_PER_BYTE)
    buffer = np.empty(int(math.ceil(plausible * sr / info.sample_rate)) + 64, dtype=np.float32)
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
            something that is neither a path nor an array, an array without ``sr`` or with
            other than 1 or 2 dimensions, a sample rate out of range
            (:func:`check_sample_rate`), an empty array, NaN or infinite samples, or audio
            shorter than :data:`~drummernet.constants.MIN_AUDIO_SECONDS`.
    """
    if isinstance(audio, (str, os.PathLike)):
        name = str(audio)
        samples, source_sr = read_audio(audio, target_sr)
    else:
        if not (isinstance(audio, (list, tuple)) or hasattr(audio, "__array__")):
            raise AudioError(
                f"audio must be a file path or an array of samples, not {type(audio).__name__}"
            )
        if sr is None:
            raise AudioError("sr is required when audio is an array")
        name = "audio"
        source_sr = check_sample_rate(sr, name)
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
