"""Per-recording adaptation: the analyzer's activations refitted to the recording itself.

The analyzer was trained to explain many recordings with one fixed kit, so on a recording whose
snare is brighter or boomier than every snare in the kit it paints the difference with other
drums: a tom under the snare's body, a hi-hat over its rattle. Those strokes lower the
reconstruction error, which is all the analyzer was asked to do, and they become phantom notes.

Adaptation fits the synthesizer to this recording before notes are read, with the same goal of
reconstructing it and no labels. It is NMFD (non-negative matrix factor deconvolution: Smaragdis,
"Non-negative matrix factor deconvolution", ICA 2004; for drums, Lindsay-Smith et al., DAFx
2012) started from the analyzer's output:

* ``V: (bands, frames)``, a magnitude mel spectrogram of the recording, is modelled as
  ``sum_c (G_c * W_c) conv H_c``: each component's one-shot spectrogram ``W_c`` (the mean over
  the model's kit pool, :data:`ADAPT_TEMPLATE_SECONDS` long, the cymbals' longer, see
  :data:`ADAPT_TEMPLATE_SECONDS_BY_CLASS`), shaped by a per-recording
  equaliser ``G_c`` (one gain per band, within :data:`ADAPT_EQ_RANGE`; smooth across bands,
  except the toms', see :data:`ADAPT_EQ_SMOOTH_BY_CLASS`), and played by the activations
  ``H_c``;
* ``H`` starts as the analyzer's activations and ``G`` as flat, and both take multiplicative
  updates for the generalised Kullback-Leibler divergence (Lee & Seung, NIPS 2001), which keep
  every zero a zero: adaptation rescales the strokes the analyzer wrote, it adds none, except in
  the rows it revives (:data:`DEFAULT_REVIVE_CLASSES`: the cymbals, which start at every stroke
  the analyzer hears, because the shipped analyzer never writes them);
* when the equalised snare explains its own body and rattle, the strokes that painted them
  shrink (they are "explained away"), and the note reading drops them.

Only the rows of :data:`DEFAULT_ADAPT_CLASSES` are replaced by their adapted values (see the
constant for why). A recording is adapted in windows of :data:`ADAPT_CHUNK_SECONDS` with one
template length of context on each side, so memory stays bounded on any length.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import weakref
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from drummernet.audio import audio_info, load_input, stream_audio
from drummernet.constants import component_class
from drummernet.dsp import mel_filterbank
from drummernet.errors import ModelLoadError
from drummernet.model.network import DrummerNet, config_kit

#: The classes whose rows adaptation may revive: they start at :data:`ADAPT_REVIVE_LEVEL` on
#: every frame where the analyzer hears a stroke (its activations summed over the components
#: reach :data:`ADAPT_REVIVE_FLOOR` in a 10 ms frame), not only where the analyzer wrote them. The
#: shipped analyzer's crash and ride rows are silent (they died in training), and multiplicative
#: updates never move a zero; seeded, the cymbal templates take the strokes whose wash the other
#: drums cannot explain, and only those grow.
DEFAULT_REVIVE_CLASSES: tuple[str, ...] = ("CY",)
#: Starting activation of a revived row at a stroke.
ADAPT_REVIVE_LEVEL = 0.05
#: A 10 ms frame is a stroke when the analyzer's activations, summed, reach this (of 0.1, 0.2,
#: 0.3 and 0.5, the best cymbal F1 over the two held-out synthetic sets; docs/notebook.md).
ADAPT_REVIVE_FLOOR = 0.3
#: Multiplicative updates; every second one also updates the equalisers.
DEFAULT_ADAPT_ITERATIONS = 30
#: The classes whose notes are read from adapted activations: the hi-hat, toms and cymbals. On
#: the 32 synthetic calibration tracks (44.1 kHz, so adapted up to 16 kHz; each class at its
#: own calibrated relative threshold) adaptation raised the hi-hat (0.548 to 0.584), the snare
#: (0.671 to 0.697), toms and cymbals, and lowered the kick (0.634 to 0.609), which keeps the
#: analyzer's activations. The snare keeps them too, a choice the dev scores made: its
#: calibrated adapted reading lowered the 4 real dev tracks' snare from 0.863 to 0.792
#: (MusicDelta_Rock's precision fell to 0.57), though it raised both held-out synthetic sets
#: (docs/notebook.md, session 7; in session 6, adapting at 16 kHz, only the toms and cymbals).
DEFAULT_ADAPT_CLASSES: tuple[str, ...] = ("HH", "TT", "CY")
#: The classes adapted when adaptation reads only the analyzer's band (a recording below 32 kHz,
#: or a mix's separated drums): the toms and cymbals, session 6's choice at 16 kHz, where the
#: adapted hi-hat gained nothing on the other-kits set (+0.001) and lost on dev. The reading
#: settings of this case are stored apart (``extra["adapt16_..."]``).
NARROW_ADAPT_CLASSES: tuple[str, ...] = ("TT", "CY")
#: Mel bands of the adaptation's spectrogram (from 30 Hz).
ADAPT_BANDS = 48
#: STFT size (64 ms at 16 kHz: the low bands must tell a kick from a floor tom).
ADAPT_N_FFT = 1024
#: The adaptation's frames are this many analyzer frames (10 ms at the analyzer's 5 ms hop).
ADAPT_FRAME_FACTOR = 2
#: Length of the one-shot spectrograms.
ADAPT_TEMPLATE_SECONDS = 0.5
#: Classes whose one-shot spectrograms are longer when adaptation reads up to 16 kHz: the
#: cymbals', which ring for more than 0.5 s. Cut at 0.5 s, a crash's or ride's template leaves its
#: tail to be painted by more strokes. On the 64 synthetic calibration tracks the cymbal F1 rose
#: from 0.544 to 0.560 (hi-hat 0.530 to 0.528, toms 0.711 to 0.712), and on the four held-out
#: synthetic sets the phantom cymbal notes halved (``docs/notebook.md``, "Session 12").
ADAPT_TEMPLATE_SECONDS_BY_CLASS: dict[str, float] = {"CY": 1.0}
#: An equaliser gain stays within [1 / range, range] (4: +-12 dB).
ADAPT_EQ_RANGE = 4.0
#: Equaliser gains are smoothed (in log) over this many bands on each side.
ADAPT_EQ_SMOOTH = 2
#: Classes whose equalisers are smoothed over another number of bands when adaptation reads up
#: to 16 kHz (within the analyzer's band every equaliser is smoothed): the toms' are not
#: smoothed. Free to follow a tom's narrow resonances band by band, their equalised templates
#: stop explaining a snare's body, and the phantom toms under snares shrink. On the 64 synthetic
#: calibration tracks (flat and natural balance, thresholds chosen for each setting) the tom F1
#: rose from 0.642 to 0.711 with 0.9 phantom tom notes per track without toms (was 4.0); the
#: hi-hat moved 0.544 to 0.530, the cymbals 0.512 to 0.544 (``docs/notebook.md``, "Session 12").
ADAPT_EQ_SMOOTH_BY_CLASS: dict[str, int] = {"TT": 0}
#: Window length; each window gets one template length of context on both sides.
ADAPT_CHUNK_SECONDS = 30.0
#: The rate adaptation reads a recording at when the recording has it: the analyzer hears up to
#: 8 kHz (16 kHz audio), but a hi-hat's or a cymbal's energy lies mostly above, where a snare
#: has little. Fitted up to 16 kHz, the equalised templates tell them apart: on the dev tracks
#: the crash notes went from 1 of 34 found to most of them (``docs/notebook.md``, "Session 7").
ADAPT_SAMPLE_RATE = 32000
_EPS = 1e-6


def _spectrogram(audio: torch.Tensor, mel: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``(samples,)`` -> magnitude mel spectrogram ``(bands, frames)``, frame ``t`` centred on
    sample ``t * hop``."""
    window = torch.hann_window(n_fft, device=audio.device)
    spectrum = torch.stft(
        audio.reshape(1, -1), n_fft, hop, window=window, center=True, return_complex=True
    )
    return mel @ spectrum.abs()[0]


@functools.lru_cache(maxsize=1)
def _mel(sample_rate: int) -> torch.Tensor:
    return torch.as_tensor(mel_filterbank(sample_rate, ADAPT_N_FFT, ADAPT_BANDS, fmin=30.0))


def recording_spectrogram(
    audio: torch.Tensor | np.ndarray | Iterable[np.ndarray],
    sample_rate: int,
    hop_length: int,
    expected_samples: int = 0,
) -> torch.Tensor:
    """The adaptation's spectrogram of a recording: ``(ADAPT_BANDS, frames)`` magnitudes, one
    frame per :data:`ADAPT_FRAME_FACTOR` analyzer hops of ``hop_length``, frame ``t`` centred
    on sample ``t * hop`` (zeros beyond the ends), ``frames = samples // hop + 1``.

    ``audio`` is ``(samples,)``, or the recording as consecutive blocks of samples (for example
    :func:`drummernet.audio.stream_audio` of a file), which are consumed as they come: either
    way only :data:`ADAPT_CHUNK_SECONDS` of audio at a time is copied and transformed, so a long
    recording costs its mel bands, never its whole STFT (1.5 GB for an hour) nor, when streamed,
    its samples (460 MB for an hour at 32 kHz).

    The frames go into one buffer, sized for ``expected_samples`` (an estimate is enough; a
    stream longer than that grows it): kept as many small tensors beside the transforms'
    temporaries, they fragmented the heap to 1.4 GB for an hour."""
    hop = hop_length * ADAPT_FRAME_FACTOR
    if isinstance(audio, (torch.Tensor, np.ndarray)):
        audio = [np.asarray(audio, dtype=np.float32).reshape(-1)]
        expected_samples = audio[0].shape[0]
    mel = _mel(sample_rate)
    window = torch.hann_window(ADAPT_N_FFT)
    block = max(1, round(ADAPT_CHUNK_SECONDS * sample_rate / hop))  # frames per transform
    queue = _SampleQueue()
    queue.push(np.zeros(ADAPT_N_FFT // 2, dtype=np.float32))  # frame 0 is centred on sample 0
    out = torch.empty(ADAPT_BANDS, max(0, expected_samples) // hop + 1)
    done = 0

    def transform(count: int) -> None:
        """The next ``count`` frames, from the queue's first samples; their hops leave it."""
        nonlocal out, done
        piece = torch.from_numpy(queue.first((count - 1) * hop + ADAPT_N_FFT))
        spectrum = torch.stft(piece, ADAPT_N_FFT, hop, window=window, center=False,
                              return_complex=True)  # fmt: skip
        if done + count > out.shape[1]:  # longer than expected: grow by half at least
            grown = torch.empty(ADAPT_BANDS, max(done + count, out.shape[1] * 3 // 2))
            grown[:, :done] = out[:, :done]
            out = grown
        torch.matmul(mel, spectrum.abs(), out=out[:, done : done + count])
        done += count
        queue.drop(count * hop)

    length = 0
    for samples in audio:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        length += samples.shape[0]
        queue.push(samples)
        while queue.size >= (block - 1) * hop + ADAPT_N_FFT:
            transform(block)
    remaining = length // hop + 1 - done
    if remaining > 0:
        queue.push(np.zeros(max(0, (remaining - 1) * hop + ADAPT_N_FFT - queue.size), np.float32))
        transform(remaining)
    return out[:, :done]


def reread_spectrogram(
    audio: str | os.PathLike | np.ndarray | torch.Tensor,
    sr: int | None,
    sample_rate: int,
    hop_length: int,
    gain: float,
) -> torch.Tensor:
    """The :func:`recording_spectrogram` of a recording read again at ``sample_rate`` (see
    :func:`adaptation_rate`), scaled by its loudness ``gain``. A file is streamed, so its samples
    at that rate are never held whole; an array (``sr``: its rate) is resampled."""
    if isinstance(audio, (str, os.PathLike)):
        info = audio_info(audio)
        expected = math.ceil(info.frames * sample_rate / info.sample_rate)
        spectrogram = recording_spectrogram(
            stream_audio(audio, sample_rate), sample_rate, hop_length, expected
        )
    else:
        spectrogram = recording_spectrogram(
            load_input(audio, sr, sample_rate)[0], sample_rate, hop_length
        )
    return spectrogram.mul_(gain)


class _SampleQueue:
    """Consecutive sample blocks, read from the front without joining the whole."""

    def __init__(self) -> None:
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self.size = 0

    def push(self, samples: np.ndarray) -> None:
        if samples.size:
            self._blocks.append(samples)
            self.size += samples.size

    def first(self, count: int) -> np.ndarray:
        """A copy of the first ``count`` samples (``count <= size``)."""
        out, filled = np.empty(count, dtype=np.float32), 0
        for samples in self._blocks:
            take = min(count - filled, samples.size)
            out[filled : filled + take] = samples[:take]
            filled += take
            if filled == count:
                break
        return out

    def drop(self, count: int) -> None:
        while count > 0 and self._blocks:
            head = self._blocks[0]
            if head.size <= count:
                self._blocks.popleft()
                count -= head.size
                self.size -= head.size
            else:
                self._blocks[0] = head[count:]
                self.size -= count
                count = 0


def reads_upper_band(sample_rate: int) -> bool:
    """Whether adaptation at ``sample_rate`` (from :func:`adaptation_rate`) reads above the
    analyzer's 8 kHz, up to 16 kHz: only then do :data:`ADAPT_EQ_SMOOTH_BY_CLASS` and
    :data:`ADAPT_TEMPLATE_SECONDS_BY_CLASS` apply, the case they were chosen for."""
    return sample_rate >= ADAPT_SAMPLE_RATE


def adaptation_rate(recording_rate: int, model_rate: int, hop_length: int) -> int:
    """The rate adaptation reads a recording at: :data:`ADAPT_SAMPLE_RATE` when the recording
    has it (``recording_rate`` at least that) and the analyzer's frames fall on its sample grid,
    else the analyzer's own ``model_rate``."""
    if (
        recording_rate >= ADAPT_SAMPLE_RATE > model_rate
        and hop_length * ADAPT_SAMPLE_RATE % model_rate == 0
    ):
        return ADAPT_SAMPLE_RATE
    return model_rate


def adaptation_hop(model: DrummerNet, sample_rate: int) -> int:
    """The hop at ``sample_rate`` that spans the model's analyzer hop (5 ms), so that the
    adaptation's frames fall on the analyzer's (``sample_rate`` from :func:`adaptation_rate`)."""
    return model.hop_length * sample_rate // model.sample_rate


def kit_templates(
    shots: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    seconds: Sequence[float] | None = None,
) -> torch.Tensor:
    """One-shot spectrograms: the mean magnitude over the kit pool.

    Args:
        shots: ``(n_kits, n_components, samples)``, the synthesizer's kit tensor.
        sample_rate: its rate.
        hop_length: the analyzer's hop; templates are on the adaptation's grid
            (:data:`ADAPT_FRAME_FACTOR` analyzer frames).
        seconds: each component's template length (default :data:`ADAPT_TEMPLATE_SECONDS`
            for every one); the templates are as long as the longest, the others zero after
            their own length.

    Returns:
        ``(n_components, ADAPT_BANDS, frames)`` non-negative templates.
    """
    hop = hop_length * ADAPT_FRAME_FACTOR
    lengths = [ADAPT_TEMPLATE_SECONDS] * shots.shape[1] if seconds is None else list(seconds)
    if len(lengths) != shots.shape[1]:
        raise ValueError(f"{len(lengths)} template lengths for {shots.shape[1]} components")
    counts = [max(1, round(length * sample_rate / hop)) for length in lengths]
    frames = max(counts)
    mel = _mel(sample_rate)
    flat = shots.float().reshape(-1, shots.shape[-1])
    specs = torch.stack([_spectrogram(x, mel, ADAPT_N_FFT, hop) for x in flat])
    specs = specs.reshape(*shots.shape[:2], ADAPT_BANDS, -1).mean(0)
    if specs.shape[-1] < frames:
        specs = F.pad(specs, (0, frames - specs.shape[-1]))
    specs = specs[..., :frames].contiguous()
    for row, count in enumerate(counts):
        specs[row, :, count:] = 0.0
    return specs


def _smooth_log(gains: torch.Tensor, width: int) -> torch.Tensor:
    """Moving average of ``log(gains)`` over ``2 * width + 1`` bands: ``(C, B, 1)`` -> same."""
    if width <= 0:
        return gains
    kernel = torch.full((1, 1, 2 * width + 1), 1.0 / (2 * width + 1))
    log = torch.log(gains.clamp_min(_EPS))[:, None, :, 0]
    return torch.exp(F.conv1d(F.pad(log, (width, width), mode="replicate"), kernel))[:, 0, :, None]


def nmfd(
    spectrogram: torch.Tensor,
    templates: torch.Tensor,
    activations: torch.Tensor,
    iterations: int,
    smoothing: Sequence[int] | None = None,
) -> torch.Tensor:
    """Fit activations and per-component equalisers to a spectrogram (see the module docstring).

    Args:
        spectrogram: ``(bands, frames)`` magnitudes.
        templates: ``(n_components, bands, length)``.
        activations: ``(n_components, frames)`` non-negative starting activations.
        iterations: multiplicative updates (odd ones update the equalisers).
        smoothing: per component, the bands on each side its equaliser is smoothed over
            (default: :data:`ADAPT_EQ_SMOOTH` for every one).

    Returns:
        ``(n_components, frames)`` fitted activations; zero wherever ``activations`` is zero.
    """
    n_comp, bands, length = templates.shape
    frames = spectrogram.shape[1]
    target = spectrogram + _EPS
    size = 1 << math.ceil(math.log2(frames + length))
    spectra = torch.fft.rfft(templates, n=size)
    h = activations.clone()
    gains = torch.ones(n_comp, bands, 1)
    widths = [ADAPT_EQ_SMOOTH] * n_comp if smoothing is None else list(smoothing)
    if len(widths) != n_comp:
        raise ValueError(f"smoothing has {len(widths)} widths for {n_comp} components")
    groups = [(w, [i for i, v in enumerate(widths) if v == w]) for w in sorted(set(widths))]
    for step in range(iterations):
        h_spectrum = torch.fft.rfft(h, n=size)[:, None]  # (C, 1, F)
        if step % 2:
            # Each component's contribution (C, B, T), needed by the equaliser update only.
            parts = torch.fft.irfft(spectra * h_spectrum, n=size)[..., :frames].clamp_min(0.0)
            ratio = target / ((gains * parts).sum(0) + _EPS)
            gains = gains * (parts * ratio).sum(-1, keepdim=True) / (parts.sum(-1, keepdim=True)
                                                                     + 1e-9)  # fmt: skip
            smooth = torch.empty_like(gains)
            for width, rows in groups:
                smooth[rows] = _smooth_log(gains[rows], width)
            gains = smooth.clamp(1 / ADAPT_EQ_RANGE, ADAPT_EQ_RANGE)
        else:
            shaped = gains * spectra  # the equalisers are constant in time
            model = torch.fft.irfft((shaped * h_spectrum).sum(0), n=size)[:, :frames]
            ratio = target / (model.clamp_min(0.0) + _EPS)
            # The correlation of the ratio with each equalised template:
            # numerator[c, t] = sum_b sum_tau gains[c, b] templates[c, b, tau] ratio[b, t + tau].
            correlation = (shaped.conj() * torch.fft.rfft(ratio, n=size)[None]).sum(1)
            numerator = torch.fft.irfft(correlation, n=size)[:, :frames]
            denominator = (gains * templates).sum((1, 2))[:, None] + 1e-9
            h = h * numerator.clamp_min(0.0) / denominator
    return h


def adapt_activations(
    activations: np.ndarray,
    audio: np.ndarray | None,
    templates: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    codes: Sequence[str],
    classes: Sequence[str] = DEFAULT_ADAPT_CLASSES,
    iterations: int = DEFAULT_ADAPT_ITERATIONS,
    chunk_seconds: float = ADAPT_CHUNK_SECONDS,
    revive: Sequence[str] = DEFAULT_REVIVE_CLASSES,
    spectrogram: torch.Tensor | None = None,
) -> np.ndarray:
    """The analyzer's activations with the rows of ``classes`` adapted to the recording.

    Args:
        activations: ``(n_components, frames)`` from the analyzer, frame ``t`` at sample
            ``t * hop_length``.
        audio: ``(samples,)``, the loudness-normalised recording the activations describe, at
            ``sample_rate`` (``None`` when ``spectrogram`` is given).
        templates: ``(n_components, ADAPT_BANDS, length)`` from :func:`kit_templates` at
            ``sample_rate``.
        sample_rate, hop_length: the analyzer's, or another rate (see :func:`adaptation_rate`)
            with the hop that spans the same 5 ms there.
        codes: the component code of each row.
        classes: the classes whose rows take the adapted values (``"all"`` in the list: every
            row).
        iterations: multiplicative updates per window.
        chunk_seconds: window length.
        revive: the adapted classes whose rows start at every stroke (see
            :data:`DEFAULT_REVIVE_CLASSES`).
        spectrogram: the recording's :func:`recording_spectrogram`, when already computed.

    Returns:
        ``(n_components, frames)`` float32 activations. An adapted row is the analyzer's row
        scaled, frame by frame, by the factor adaptation gave its 10 ms frame; a revived row is
        the fitted activation itself, on the first analyzer frame of each 10 ms frame.
    """
    activations = np.asarray(activations, dtype=np.float32)
    rows = [
        i for i, code in enumerate(codes) if "all" in classes or component_class(code) in classes
    ]
    if not rows or iterations <= 0 or not activations.any():
        return activations
    factor = ADAPT_FRAME_FACTOR
    hop = hop_length * factor
    n_comp, n_frames = activations.shape
    frames = math.ceil(n_frames / factor)
    padded = np.zeros((n_comp, frames * factor), dtype=np.float32)
    padded[:, :n_frames] = activations
    start_h = torch.from_numpy(padded.reshape(n_comp, frames, factor).sum(-1))
    revived = [i for i in rows if component_class(codes[i]) in revive]
    seeded = start_h.clone()
    if revived:
        strokes = (start_h.sum(0) >= ADAPT_REVIVE_FLOOR).float() * ADAPT_REVIVE_LEVEL
        seeded[revived] = torch.maximum(start_h[revived], strokes)
    if spectrogram is None:
        if audio is None:
            raise ValueError("adapt_activations needs the audio or its spectrogram")
        spectrogram = recording_spectrogram(torch.as_tensor(audio), sample_rate, hop_length)
    if spectrogram.shape[1] < frames:
        spectrogram = F.pad(spectrogram, (0, frames - spectrogram.shape[1]))
    spectrogram = spectrogram[:, :frames]
    widths = ADAPT_EQ_SMOOTH_BY_CLASS if reads_upper_band(sample_rate) else {}
    smoothing = [widths.get(component_class(code), ADAPT_EQ_SMOOTH) for code in codes]
    core = max(1, round(chunk_seconds * sample_rate / hop))
    context = templates.shape[-1]
    fitted = torch.empty_like(start_h)
    for first in range(0, frames, core):
        last = min(first + core, frames)
        lo, hi = max(0, first - context), min(frames, last + context)
        h = nmfd(spectrogram[:, lo:hi], templates, seeded[:, lo:hi], iterations, smoothing)
        fitted[:, first:last] = h[:, first - lo : last - lo]
    scale = torch.where(start_h > 0, fitted / start_h.clamp_min(1e-12), torch.zeros_like(fitted))
    scale_frames = scale.repeat_interleave(factor, dim=1)[:, :n_frames].numpy()
    out = activations.copy()
    out[rows] = activations[rows] * scale_frames[rows]
    if revived:
        placed = np.zeros((len(revived), frames * factor), dtype=np.float32)
        placed[:, ::factor] = fitted[revived].numpy()
        out[revived] = placed[:, :n_frames]
    return out


_TEMPLATES: weakref.WeakKeyDictionary[DrummerNet, dict[int, torch.Tensor]] = (
    weakref.WeakKeyDictionary()
)


def model_templates(model: DrummerNet, sample_rate: int | None = None) -> torch.Tensor:
    """:func:`kit_templates` of a model's kit pool at ``sample_rate`` (default: the model's),
    computed once per model object and rate.

    The kit is read from the model's kit folders when the model was loaded without it, or when
    another rate is asked for. At a rate that reads up to 16 kHz (:func:`reads_upper_band`), the
    classes of :data:`ADAPT_TEMPLATE_SECONDS_BY_CLASS` get templates of their own length.

    Raises:
        ModelLoadError: the model's kit cannot be read.
    """
    rate = sample_rate or model.sample_rate
    cached = _TEMPLATES.setdefault(model, {})
    templates = cached.get(rate)
    if templates is None:
        shots = model.synthesizer.kits
        if rate != model.sample_rate or not shots.numel() or not bool(shots.abs().amax() > 0):
            try:
                shots = config_kit(model.config, sample_rate=rate)
            except (OSError, ValueError) as error:  # KitError is a ValueError
                raise ModelLoadError(
                    f"adaptation needs the model's kit ({model.config.kits}), which cannot be "
                    f"read: {error}"
                ) from error
        seconds = None
        if reads_upper_band(rate):
            seconds = [
                ADAPT_TEMPLATE_SECONDS_BY_CLASS.get(component_class(code), ADAPT_TEMPLATE_SECONDS)
                for code in model.components
            ]
        templates = kit_templates(shots.cpu(), rate, adaptation_hop(model, rate), seconds)
        cached[rate] = templates
    return templates
