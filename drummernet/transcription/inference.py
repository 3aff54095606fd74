"""Inference: audio (a file or an array) -> :class:`~drummernet.transcription.result.Transcription`.

The layers, each usable on its own (after torchcrepe's ``core.py``):

* :func:`load_model`: the shipped model (loaded lazily, cached), a model file or a run folder;
* :func:`drummernet.audio.load_input`: a file or an array as validated mono at the model's rate;
* :func:`drummernet.dsp.loudness_gain`: the factor that brings a recording to the training
  loudness;
* :func:`analyze_audio`: a tensor-level pass of the analyzer over a recording of any length, in
  overlapping chunks batched together (after demucs' ``apply.py``): the analyzer's bidirectional
  GRU sees its whole input, so each chunk gets :data:`~drummernet.constants.DEFAULT_OVERLAP_SECONDS`
  of context on both sides, analysed and thrown away;
* :func:`transcribe`: all of the above plus
  :func:`~drummernet.transcription.events.activations_to_events`.

DrummerNet is Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from drummernet.audio import load_input, resample
from drummernet.constants import (
    COARSE_CLASSES,
    DEFAULT_ADAPT,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_DECAY_MASK,
    DEFAULT_MIN_GAP,
    DEFAULT_MIX_THRESHOLD,
    DEFAULT_ONSET_CONTRAST,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_RELATIVE_THRESHOLD,
    DEFAULT_SOURCE,
    DEFAULT_THRESHOLD,
    DEFAULT_TOM_MASKING,
)
from drummernet.dsp import loudness_gain
from drummernet.errors import DrummerNetWarning, ModelLoadError
from drummernet.model.network import DrummerNet
from drummernet.transcription.adapt import (
    DEFAULT_ADAPT_CLASSES,
    NARROW_ADAPT_CLASSES,
    adapt_activations,
    adaptation_hop,
    adaptation_rate,
    model_templates,
    recording_spectrogram,
    reread_spectrogram,
)
from drummernet.transcription.events import activations_to_events, merge_voices
from drummernet.transcription.result import Transcription
from drummernet.transcription.source import check_source, prepare_source

#: The model shipped with the package (trained by ``experiments/``). Without it, loading the
#: default model is a :class:`~drummernet.errors.ModelLoadError`.
DEFAULT_MODEL_PATH: Path = (
    Path(__file__).resolve().parents[1] / "pretrained" / "default.safetensors"
)

#: Name of the model file inside a training run folder.
RUN_MODEL_FILE = "model.safetensors"


# --------------------------------------------------------------------------------------------
# Models


@functools.lru_cache(maxsize=4)
def _default_model(device: str | None, load_kit: bool) -> DrummerNet:
    """The shipped model on ``device`` (cached per arguments; a failure is not cached).

    Raises:
        ModelLoadError: the shipped file is missing or not a usable model.
    """
    if not DEFAULT_MODEL_PATH.is_file():
        raise ModelLoadError(
            f"{DEFAULT_MODEL_PATH}: no such model file (the default model is not installed); "
            "train one with `drummernet train` and pass it with --model (model= in Python)"
        )
    return DrummerNet.load(DEFAULT_MODEL_PATH, device=device, load_kit=load_kit)


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
            and works even where the model's kit folder is missing, but leaves a synthesizer
            that renders silence.

    Returns:
        the model, in eval mode. The shipped model is shared between calls: don't modify it.
        There is no untrained fallback: an untrained model is used only when a
        :class:`DrummerNet` object is passed to :func:`transcribe`.

    Raises:
        ModelLoadError: the file (the shipped one included) is missing or not a usable
            drummernet model.
    """
    device = str(device) if device is not None else None
    if name_or_path is None or str(name_or_path) == "default":
        return _default_model(device, load_kit)
    path = Path(name_or_path)
    if path.is_dir():
        if not (path / RUN_MODEL_FILE).is_file():
            raise ModelLoadError(f"{path}: folder holds no {RUN_MODEL_FILE} (not a training run)")
        path = path / RUN_MODEL_FILE
    return DrummerNet.load(path, device=device, load_kit=load_kit)


def resolve_model(
    model: DrummerNet | str | os.PathLike | None, device: str | torch.device | None
) -> DrummerNet:
    """A model object (moved to ``device`` if one is given) or one loaded without its kit by
    :func:`load_model` (analysis never plays the kit)."""
    if isinstance(model, DrummerNet):
        return model.to(device) if device is not None else model
    return load_model(model, device, load_kit=False)


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
    threads = torch.get_num_threads()
    workers = threads if workers is None else workers
    parallel = workers > 1 and device.type == "cpu"
    # Equal batches (5 windows at batch_size 4 make 3 + 2, not 4 + 1): a lone window pays the
    # GRU's per-step cost alone. In parallel, a multiple of `workers` batches, so that no worker
    # idles at the end (12 windows on 2 workers make 6 + 6, not 4 + 4 + 4).
    count = math.ceil(len(regular) / max(1, batch_size))
    if parallel and len(regular) >= workers:
        count = math.ceil(count / workers) * workers
    size = math.ceil(len(regular) / max(1, count))
    batches = [regular[i : i + size] for i in range(0, len(regular), size)]
    if tail:
        # The tail window runs to the real end of the recording (so it is not quite `window`
        # long and cannot join a batch); every remaining core lies inside it. First in line,
        # so that it runs beside the regular batches rather than after them.
        batches.insert(0, tail)

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

    if parallel and len(batches) > 1:
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


def transcribe(
    audio: str | os.PathLike | np.ndarray | torch.Tensor,
    sr: int | None = None,
    model: DrummerNet | str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    *,
    mix_model: DrummerNet | str | os.PathLike | None = None,
    threshold: float | None = None,
    min_gap: float = DEFAULT_MIN_GAP,
    decay_mask: float = DEFAULT_DECAY_MASK,
    relative_threshold: float | Mapping[str, float] | None = None,
    onset_contrast: float = DEFAULT_ONSET_CONTRAST,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    source: str = DEFAULT_SOURCE,
    separate: str | None = None,
    mix_threshold: float = DEFAULT_MIX_THRESHOLD,
    adapt: bool = DEFAULT_ADAPT,
    adapt_classes: Sequence[str] | None = None,
    tom_masking: float | None = None,
) -> Transcription:
    """Transcribe a drum recording, or the drums of a full mix.

    The recording is read, mixed to mono and resampled to the model's rate
    (:func:`drummernet.audio.load_input`); a full mix (given as one, or detected) has its drums
    brought forward (:func:`~drummernet.transcription.source.prepare_source`); then it is scaled
    to the training loudness
    (:func:`drummernet.dsp.loudness_gain`), analysed (:func:`analyze_audio`) and its activations
    read as notes (:func:`~drummernet.transcription.events.activations_to_events`).

    Args:
        audio: a file path (wav, flac, ogg, mp3, aiff; any rate and channel count, streamed), or
            an array / tensor ``(samples,)`` or ``(channels, samples)``.
        sr: the array's sample rate (required for arrays, ignored for files).
        model: a :class:`DrummerNet` (used as it is, trained or not), a model file or run
            folder, or ``None`` for the shipped one.
        device: torch device to run on (moves ``model`` there).
        mix_model: the model for an input taken for a full mix (a :class:`DrummerNet`, a model
            file or run folder), with its own thresholds; ``None``: ``model`` for every input.
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
            preceding :data:`~drummernet.constants.DEFAULT_CONTRAST_WINDOW` seconds (0 disables).
        chunk_seconds, overlap_seconds, batch_size, workers: see :func:`analyze_audio`.
        source: ``"drums"`` (a drum stem, analysed as it is), ``"mix"`` (a full song) or
            ``"auto"`` (decided from the audio by
            :func:`~drummernet.transcription.source.detect_source`); see
            :data:`~drummernet.constants.SOURCES`.
        separate: how a mix's drums are brought forward: ``None`` or ``"hpss"`` (built in),
            ``"demucs"`` (needs the ``demucs`` package and its cached weights). Naming one says
            the input is a mix, so ``source="auto"`` skips the detection.
        mix_threshold: the detection's threshold
            (:data:`~drummernet.constants.DEFAULT_MIX_THRESHOLD`).
        adapt: refit the activations of ``adapt_classes`` to this recording before notes are
            read (:mod:`~drummernet.transcription.adapt`; on by default,
            :data:`~drummernet.constants.DEFAULT_ADAPT`; ``False`` is about 4x
            faster). Their relative thresholds and the tom masking then come from the model
            file's ``extra["adapt_relative_threshold"]`` and ``extra["adapt_tom_masking"]``
            when it has them.
        adapt_classes: the classes adapted (``("all",)``: every one; default
            :data:`~drummernet.transcription.adapt.DEFAULT_ADAPT_CLASSES` when adaptation reads
            the band above 8 kHz, else
            :data:`~drummernet.transcription.adapt.NARROW_ADAPT_CLASSES`).
        tom_masking: a tom hit is dropped when a snare hit within ``min_gap`` is at least this
            many times as strong (0 disables; default: the model file's value for the
            activations read, see :func:`model_tom_masking`).

    Returns:
        the transcription; its velocities refer to the loudness-normalised recording (of the
        separated drums, for a mix); ``source_decision`` says what the input was taken for.

    Raises:
        AudioError: unreadable, empty, truncated, non-finite or shorter than
            :data:`~drummernet.constants.MIN_AUDIO_SECONDS` audio; something that is neither a
            path nor an array; an array without ``sr`` or with other than 1 or 2 dimensions; a
            sample rate (the file's or ``sr``) outside
            :data:`~drummernet.constants.MIN_SAMPLE_RATE` to
            :data:`~drummernet.constants.MAX_SAMPLE_RATE`.
        ModelLoadError: ``model`` names an unusable file, or it is ``None`` and the shipped
            model is missing or unusable.
        ValueError: an unknown ``source`` or ``separate``, or ``separate`` with
            ``source="drums"``.
        SeparatorError: ``separate="demucs"`` without demucs or its cached weights.

    Warns:
        DrummerNetWarning: the recording is silent (no notes), or sampled below the model's rate
            (its upper band is missing).
    """
    check_source(source, separate)
    net = resolve_model(model, device)
    rate = net.sample_rate
    path = str(audio) if isinstance(audio, (str, os.PathLike)) else None
    name = path or "audio"
    samples, file_sr = load_input(audio, sr, rate)
    duration = len(samples) / rate
    if file_sr < rate:
        warnings.warn(
            f"{name}: sampled at {file_sr} Hz, so content above {file_sr / 2000:g} kHz is missing "
            f"(the model analyses up to {rate / 2000:g} kHz); hi-hats and cymbals may be missed",
            DrummerNetWarning,
            stacklevel=2,
        )

    samples, decision = prepare_source(
        samples, rate, source, separate, threshold=mix_threshold, device=device
    )
    if decision.source == "mix" and mix_model is not None:
        net = resolve_model(mix_model, device)
        samples, rate = resample(samples, rate, net.sample_rate), net.sample_rate
    frame_rate = rate / net.hop_length
    frames = max(1, math.ceil(len(samples) / net.hop_length))
    gain = loudness_gain(samples, rate)
    if gain is None:
        warnings.warn(f"{name}: audio is silent; no notes", DrummerNetWarning, stacklevel=2)
        silent = np.zeros((len(net.components), frames), dtype=np.float32)
        activations, components = merge_voices(silent, net.components)
        return Transcription(
            [], activations, frame_rate, components, duration, path, 1.0,
            source_decision=decision,
        )  # fmt: skip

    samples *= np.float32(gain)  # in place: `samples` is our own buffer
    activations = analyze_audio(net, samples, chunk_seconds, overlap_seconds, batch_size, workers)
    narrow = False  # whether adaptation reads only the analyzer's band
    if adapt:
        wide = (
            adaptation_rate(file_sr, rate, net.hop_length) if decision.source == "drums" else rate
        )
        narrow = wide == rate
        hop = adaptation_hop(net, wide)
        if narrow:
            spectrogram = recording_spectrogram(samples, rate, hop)
    del samples  # the analyzer's copy goes before the recording is read again
    if adapt:
        if not narrow:  # the recording again, with its upper band, streamed
            spectrogram = reread_spectrogram(audio, sr, wide, hop, gain)
        if adapt_classes is None:
            adapt_classes = NARROW_ADAPT_CLASSES if narrow else DEFAULT_ADAPT_CLASSES
        activations = adapt_activations(
            activations, None, model_templates(net, wide), wide, hop, net.components,
            adapt_classes, spectrogram=spectrogram,
        )  # fmt: skip
    activations, components = merge_voices(activations, net.components)
    if threshold is None:
        threshold = model_threshold(net)
    if relative_threshold is None:
        relative_threshold = model_relative_threshold(net, adapted=adapt, narrow=narrow)
    if tom_masking is None:
        tom_masking = model_tom_masking(net, adapted=adapt, narrow=narrow)
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
        tom_masking=tom_masking,
    )
    return Transcription(
        events, activations, frame_rate, components, duration, path, gain,
        source_decision=decision, adaptation=("narrow" if narrow else "wide") if adapt else None,
    )  # fmt: skip


def model_threshold(model: DrummerNet) -> float:
    """The note threshold a model file recommends (``extra["threshold"]``), or the default."""
    value = getattr(model, "extra", {}).get("threshold")
    return float(value) if value is not None else DEFAULT_THRESHOLD


def _adapted_key(name: str, narrow: bool) -> str:
    """The model file's key of an adapted reading setting: ``adapt_<name>``, or for adaptation
    within the analyzer's band (``narrow``) ``adapt16_<name>``."""
    return f"adapt16_{name}" if narrow else f"adapt_{name}"


def model_tom_masking(model: DrummerNet, adapted: bool = False, narrow: bool = False) -> float:
    """The tom masking a model file recommends for its activations (``extra["tom_masking"]``)
    or, with ``adapted``, for adapted ones (``extra["adapt_tom_masking"]``; with ``narrow``,
    adapted within the analyzer's band, ``extra["adapt16_tom_masking"]``); else
    :data:`~drummernet.constants.DEFAULT_TOM_MASKING` (off)."""
    extra = getattr(model, "extra", {})
    value = extra.get(_adapted_key("tom_masking", narrow)) if adapted else extra.get("tom_masking")
    return float(value) if value is not None else DEFAULT_TOM_MASKING


def model_relative_threshold(
    model: DrummerNet, adapted: bool = False, narrow: bool = False
) -> float | dict[str, float]:
    """The relative thresholds a model file recommends (``extra["relative_threshold"]``, per
    component code or class), or :data:`~drummernet.constants.DEFAULT_RELATIVE_THRESHOLD`.

    With ``adapted``, the entries of ``extra["adapt_relative_threshold"]`` (calibrated on adapted
    activations by ``experiments.calibrate --adapt``) replace those of the classes they name;
    with ``narrow`` (adapted within the analyzer's band), ``extra["adapt16_relative_threshold"]``.
    """
    extra = getattr(model, "extra", {})
    value = extra.get("relative_threshold")
    adapted_values = extra.get(_adapted_key("relative_threshold", narrow)) if adapted else None
    if isinstance(adapted_values, dict) and adapted_values:
        if not isinstance(value, dict):
            value = {code: float(value) for code in COARSE_CLASSES} if value is not None else {}
        value = {**value, **adapted_values}
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items()}
    return float(value) if value is not None else DEFAULT_RELATIVE_THRESHOLD
