"""Inference: audio (a file or an array) -> :class:`~drummernet.transcription.Transcription`.

The layers, each usable on its own (after torchcrepe's ``core.py``):

* :func:`load_model`: the shipped model (loaded lazily, cached), a model file or a run folder;
* :func:`read_audio`: a file streamed block by block to mono at the model's rate;
* :func:`loudness_gain`: the factor that brings a recording to the training loudness;
* :func:`analyze_audio`: a tensor-level pass of the analyzer over a recording of any length, in
  overlapping chunks batched together (after demucs' ``apply.py``): the analyzer's bidirectional
  GRU sees its whole input, so each chunk gets :data:`~drummernet.constants.DEFAULT_OVERLAP_SECONDS`
  of context on both sides, analysed and thrown away;
* :func:`transcribe`: all of the above plus
  :func:`~drummernet.transcription.activations_to_events`;
* :func:`transcription_system`: :func:`transcribe` as a system for
  :func:`drummernet.evaluation.evaluate`.

DrummerNet is Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from drummernet.audio import AudioError, audio_info, resample, stream_audio
from drummernet.constants import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_DECAY_MASK,
    DEFAULT_LOUDNESS_BLOCK_SECONDS,
    DEFAULT_LOUDNESS_GATE_DB,
    DEFAULT_MIN_GAP,
    DEFAULT_ONSET_CONTRAST,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_RELATIVE_THRESHOLD,
    DEFAULT_SILENCE_RMS,
    DEFAULT_TARGET_RMS,
    DEFAULT_THRESHOLD,
    GM_TO_CLASS,
    MIN_AUDIO_SECONDS,
)
from drummernet.errors import DrummerNetWarning
from drummernet.model.network import DrummerNet, ModelConfig, ModelLoadError, silent_kit
from drummernet.transcription.result import Transcription, activations_to_events, merge_voices

if TYPE_CHECKING:
    from drummernet.evaluation.scoring import Track

#: The model shipped with the package (trained by ``experiments/``; may be absent in a checkout).
DEFAULT_MODEL_PATH: Path = (
    Path(__file__).resolve().parents[1] / "pretrained" / "default.safetensors"
)

#: Name of the model file inside a training run folder.
RUN_MODEL_FILE = "model.safetensors"


# --------------------------------------------------------------------------------------------
# Models


@functools.lru_cache(maxsize=4)
def _default_model(device: str | None, load_kit: bool) -> tuple[DrummerNet, bool]:
    """The shipped model on ``device``, and whether it is trained (cached per arguments)."""
    if DEFAULT_MODEL_PATH.is_file():
        return DrummerNet.load(DEFAULT_MODEL_PATH, device=device, load_kit=load_kit), True
    config = ModelConfig()
    # fork_rng: a fixed seed for a reproducible stand-in, without touching the caller's RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DrummerNet(config, kits=None if load_kit else silent_kit(config)).eval()
    return (model.to(device) if device else model), False


def load_model(
    name_or_path: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    *,
    load_kit: bool = True,
) -> DrummerNet:
    """Load a transcription model.

    Args:
        name_or_path: ``None`` or ``"default"`` for the shipped model (loaded on first use, then
            cached); a model file written by :meth:`DrummerNet.save`; or a training run folder
            holding ``model.safetensors``.
        device: torch device to put the model on (default: CPU).
        load_kit: load the synthesizer's drum kit. Transcription only runs the analyzer, so
            :func:`transcribe` passes ``False``: that skips reading and resampling the one-shots
            (about half a second) and works even where the model's kit folder is missing, but
            leaves a synthesizer that renders silence.

    Returns:
        the model, in eval mode. The shipped model is shared between calls: don't modify it.

    Raises:
        ModelLoadError: the file is missing or not a usable drummernet model.

    Warns:
        DrummerNetWarning: no trained model is shipped yet; an untrained stand-in is returned.
    """
    device = str(device) if device is not None else None
    if name_or_path is None or str(name_or_path) == "default":
        model, trained = _default_model(device, load_kit)
        if not trained:
            warnings.warn(
                "no pretrained model is shipped with this drummernet (expected "
                f"{DEFAULT_MODEL_PATH.name}); using an UNTRAINED model, so the transcription is "
                "meaningless. Train one with `drummernet train` and pass it with --model/model=",
                DrummerNetWarning,
                stacklevel=2,
            )
        return model
    path = Path(name_or_path)
    if path.is_dir():
        if not (path / RUN_MODEL_FILE).is_file():
            raise ModelLoadError(f"{path}: folder holds no {RUN_MODEL_FILE} (not a training run)")
        path = path / RUN_MODEL_FILE
    return DrummerNet.load(path, device=device, load_kit=load_kit)


def _resolve_model(model: DrummerNet | str | os.PathLike | None, device) -> DrummerNet:
    if isinstance(model, DrummerNet):
        return model.to(device) if device is not None else model
    return load_model(model, device, load_kit=False)


# --------------------------------------------------------------------------------------------
# Audio


def read_audio(path: str | os.PathLike, sr: int) -> tuple[np.ndarray, int]:
    """Read a whole file as mono float32 at ``sr``, streaming.

    Blocks are decoded, mixed to mono and resampled one at a time into one preallocated buffer,
    so the peak memory is the mono result, not the file's decoded channels: an hour of 44.1 kHz
    stereo needs 230 MB at 16 kHz instead of 1.3 GB.

    Returns:
        ``(audio (samples,), file_sample_rate)``.

    Raises:
        AudioError: see :func:`drummernet.audio.stream_audio`.
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


# --------------------------------------------------------------------------------------------
# Analysis


def _frame_multiple(model: DrummerNet) -> int:
    """Chunk boundaries must fall on multiples of this many frames: the U-Net halves the frame
    rate ``depth`` times and the time-wise normalisation works on fixed windows from the start of
    its input, so only such boundaries see the same grid as the unchunked pass."""
    config = model.config.analyzer
    return math.lcm(2**config.depth, config.time_window)


def analyze_audio(
    model: DrummerNet,
    audio: np.ndarray | torch.Tensor,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
) -> np.ndarray:
    """Run the analyzer over a recording of any length.

    The recording is cut into cores of ``chunk_seconds``; each is analysed inside a window with
    ``overlap_seconds`` of context on both sides (moved inwards at the ends of the recording, so
    the first and last frames see the recording's real edges), and only the core is kept. Windows
    of equal length are stacked ``batch_size`` at a time into one forward pass. A recording that
    fits in one window is analysed in one pass, exactly as ``model.analyze`` would.

    On CPU, batches run in ``workers`` threads of one torch thread each rather than one batch at
    a time over all of torch's threads: the analyzer's GRU is a long sequence of small steps
    that intra-op threads cannot share, while whole batches parallelise perfectly.

    Args:
        model: the model (its mode is left unchanged; the analyzer has no dropout or batch norm).
        audio: ``(samples,)`` at ``model.sample_rate``, already loudness-normalised.
        chunk_seconds: core length.
        overlap_seconds: context on each side.
        batch_size: windows per forward pass.
        workers: parallel batches on CPU; default ``torch.get_num_threads()``. 1 runs batches
            one after another with torch's own threading.

    Returns:
        ``(n_components, ceil(samples / hop))`` float32 activations, frame ``t`` at sample
        ``t * hop``.
    """
    audio = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(-1)
    hop = model.hop_length
    n = audio.shape[0]
    frames = max(1, math.ceil(n / hop))
    multiple = _frame_multiple(model)
    frame_rate = model.sample_rate / hop
    core = max(multiple, round(chunk_seconds * frame_rate / multiple) * multiple)
    context = max(0, math.ceil(overlap_seconds * frame_rate / multiple) * multiple)
    window = core + 2 * context
    device = next(model.parameters()).device

    if frames <= window:
        with torch.inference_mode():
            return model.analyze(audio.unsqueeze(0).to(device))[0].float().cpu().numpy()

    # Each job is (first frame of a core, first frame of the window analysing it).
    regular: list[tuple[int, int]] = []
    tail: list[tuple[int, int]] = []
    tail_start = max(0, (frames - window) // multiple * multiple)
    for index in range(math.ceil(frames / core)):
        start = max(0, index * core - context)
        if start + window >= frames:
            tail.append((index * core, tail_start))
        else:
            regular.append((index * core, start))
    # Equal batches (5 windows at batch_size 4 make 3 + 2, not 4 + 1): a lone window pays the
    # GRU's per-step cost alone.
    size = math.ceil(len(regular) / max(1, math.ceil(len(regular) / max(1, batch_size))))
    batches = [regular[i : i + size] for i in range(0, len(regular), size)]
    if tail:
        # The tail window runs to the real end of the recording (so it is not quite `window`
        # long and cannot join a batch); every remaining core lies inside it.
        batches.append(tail)

    def run(jobs: list[tuple[int, int]]) -> np.ndarray:
        with torch.inference_mode():  # thread-local, so entered in each worker
            if jobs is tail:
                x = audio[tail_start * hop :].unsqueeze(0)
            else:
                x = torch.stack([audio[s * hop : (s + window) * hop] for _, s in jobs])
            return model.analyze(x.to(device)).float().cpu().numpy()

    out = np.empty((len(model.components), frames), dtype=np.float32)

    def keep(results: np.ndarray, jobs: list[tuple[int, int]]) -> None:
        for i, (first, start) in enumerate(jobs):
            last = min(first + core, frames)
            out[:, first:last] = results[min(i, len(results) - 1), :, first - start : last - start]

    threads = torch.get_num_threads()
    workers = threads if workers is None else workers
    if workers > 1 and len(batches) > 1 and device.type == "cpu":
        from concurrent.futures import ThreadPoolExecutor

        per_worker = max(1, threads // workers)
        try:
            # torch.set_num_threads is per thread for OpenMP, so each worker sets its own.
            with ThreadPoolExecutor(
                workers, initializer=torch.set_num_threads, initargs=(per_worker,)
            ) as pool:
                for jobs, results in zip(batches, pool.map(run, batches), strict=True):
                    keep(results, jobs)
        finally:
            torch.set_num_threads(threads)  # ... but MKL's count is global: restore it
    else:
        for jobs in batches:
            keep(run(jobs), jobs)
    return out


# --------------------------------------------------------------------------------------------
# Transcription


def _as_mono(audio: Any) -> np.ndarray:
    """An array ``(samples,)`` or ``(channels, samples)`` (or a tensor) as a new mono float32."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    elif audio.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (channels, samples), got {audio.shape}")
    return np.array(audio, dtype=np.float32, copy=True)


def transcribe(
    audio: str | os.PathLike | np.ndarray | torch.Tensor,
    sr: int | None = None,
    model: DrummerNet | str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    *,
    threshold: float | None = None,
    min_gap: float = DEFAULT_MIN_GAP,
    decay_mask: float = DEFAULT_DECAY_MASK,
    relative_threshold: float | Mapping[str, float] | None = None,
    onset_contrast: float = DEFAULT_ONSET_CONTRAST,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
) -> Transcription:
    """Transcribe a drum recording.

    The recording is mixed to mono, resampled to the model's rate, scaled to the training
    loudness (:func:`loudness_gain`), analysed (:func:`analyze_audio`) and its activations read as
    notes (:func:`~drummernet.transcription.activations_to_events`).

    Args:
        audio: a file path (wav, flac, ogg, mp3, aiff; any rate and channel count, streamed), or
            an array / tensor ``(samples,)`` or ``(channels, samples)``.
        sr: the array's sample rate (required for arrays, ignored for files).
        model: a :class:`DrummerNet`, a model file or run folder, or ``None`` for the shipped one.
        device: torch device to run on (moves ``model`` there).
        threshold: smallest impulse strength that makes a note (default: the threshold stored
            in the model file, else :data:`~drummernet.constants.DEFAULT_THRESHOLD`).
        min_gap: seconds; closer hits of one component merge.
        decay_mask: seconds; echoes weaker than a component's decaying previous hit are
            dropped (0 disables).
        relative_threshold: hits must also reach this fraction of their component's strong
            hits in the recording (0 disables), one value or one per component code or class
            (``{"HH": 0.1}``; default: the values stored in the model file, else
            :data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD` for every component).
        onset_contrast: hits must also reach this multiple of their component's level over the
            preceding 120 ms (0 disables).
        chunk_seconds, overlap_seconds, batch_size, workers: see :func:`analyze_audio`.

    Returns:
        the transcription; its velocities refer to the loudness-normalised recording.

    Raises:
        AudioError: unreadable, empty, truncated, non-finite or shorter than
            :data:`~drummernet.constants.MIN_AUDIO_SECONDS` audio.
        ModelLoadError: ``model`` names an unusable file.

    Warns:
        DrummerNetWarning: the recording is silent (no notes), or sampled below the model's rate
            (its upper band is missing), or no trained model is shipped.
    """
    net = _resolve_model(model, device)
    rate = net.sample_rate
    if isinstance(audio, (str, os.PathLike)):
        source: str | None = str(audio)
        samples, file_sr = read_audio(audio, rate)
        name = source
    else:
        if sr is None:
            raise ValueError("sr is required when audio is an array")
        source, name, file_sr = None, "audio", int(sr)
        samples = _as_mono(audio)
        if samples.size == 0:
            raise AudioError(f"{name}: contains no audio samples")
        if not np.isfinite(samples).all():
            raise AudioError(f"{name}: contains NaN or infinite samples")
        samples = resample(samples, file_sr, rate)

    duration = len(samples) / rate
    if duration < MIN_AUDIO_SECONDS:
        raise AudioError(
            f"{name}: audio is too short ({duration * 1000:.0f} ms; at least "
            f"{MIN_AUDIO_SECONDS * 1000:.0f} ms needed)"
        )
    if file_sr < rate:
        warnings.warn(
            f"{name}: sampled at {file_sr} Hz, so content above {file_sr / 2000:g} kHz is missing "
            f"(the model analyses up to {rate / 2000:g} kHz); hi-hats and cymbals may be missed",
            DrummerNetWarning,
            stacklevel=2,
        )

    frame_rate = rate / net.hop_length
    frames = max(1, math.ceil(len(samples) / net.hop_length))
    gain = loudness_gain(samples, rate)
    if gain is None:
        warnings.warn(f"{name}: audio is silent; no notes", DrummerNetWarning, stacklevel=2)
        silent = np.zeros((len(net.components), frames), dtype=np.float32)
        activations, components = merge_voices(silent, net.components)
        return Transcription([], activations, frame_rate, components, duration, source, 1.0)

    samples *= np.float32(gain)  # in place: `samples` is our own buffer
    activations = analyze_audio(net, samples, chunk_seconds, overlap_seconds, batch_size, workers)
    del samples
    activations, components = merge_voices(activations, net.components)
    if threshold is None:
        threshold = model_threshold(net)
    if relative_threshold is None:
        relative_threshold = model_relative_threshold(net)
    events = activations_to_events(
        activations,
        frame_rate,
        components,
        threshold,
        min_gap,
        decay_mask=decay_mask,
        relative_threshold=relative_threshold,
        onset_contrast=onset_contrast,
        analysis_window=net.window_seconds,
    )
    return Transcription(events, activations, frame_rate, components, duration, source, gain)


def model_threshold(model: DrummerNet) -> float:
    """The note threshold a model file recommends (``extra["threshold"]``), or the default."""
    value = getattr(model, "extra", {}).get("threshold")
    return float(value) if value is not None else DEFAULT_THRESHOLD


def model_relative_threshold(model: DrummerNet) -> float | dict[str, float]:
    """The relative thresholds a model file recommends (``extra["relative_threshold"]``, per
    component code or class), or :data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD`."""
    value = getattr(model, "extra", {}).get("relative_threshold")
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return float(value) if value is not None else DEFAULT_RELATIVE_THRESHOLD


def transcription_labels(result: Transcription) -> dict[str, np.ndarray]:
    """Onset times per label, as :func:`drummernet.evaluation.evaluate` scores them.

    Returns:
        every component code -> its onsets, and every coarse class (KD, SD, HH, TT, CY, OT) ->
        the merged onsets of its events, by :data:`~drummernet.constants.GM_TO_CLASS` of each
        event's General MIDI note.
    """
    from drummernet.evaluation.scoring import COARSE_CLASSES, merge_onsets

    labels = result.onsets()
    by_class: dict[str, list[float]] = {label: [] for label in COARSE_CLASSES}
    for event in result.events:
        label = GM_TO_CLASS.get(event.note)
        if label is not None:
            by_class.setdefault(label, []).append(event.time)
    for label, times in by_class.items():
        labels[label] = merge_onsets(times)
    return labels


def transcription_system(
    model: DrummerNet | str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> Callable[[Track], dict[str, np.ndarray]]:
    """:func:`transcribe` as a system for :func:`drummernet.evaluation.evaluate`.

    Args:
        model: as for :func:`transcribe`; loaded once here.
        device: torch device.
        **options: keyword options of :func:`transcribe` (``threshold``, ``min_gap``, ...).

    Returns:
        ``system(track) -> {label: (onsets,)}`` for tracks with an ``audio_path``; labels as
        :func:`transcription_labels`.
    """
    net = _resolve_model(model, device)

    def system(track: Track) -> dict[str, np.ndarray]:
        return transcription_labels(transcribe(track.audio_path, model=net, **options))

    return system
