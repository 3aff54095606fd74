"""The analyzer: audio in, sparse per-component impulse activations out.

After Choi & Cho, "Deep Unsupervised Drum Transcription" (ISMIR 2019): a U-Net (a multi-resolution
encoder and decoder with skip connections) followed by recurrent layers along time, then two
sparse normalisations computed in parallel and multiplied: one across the drum components of each
frame and one over time inside short windows. Most outputs are therefore exactly zero, and what is
left reads directly as "component c was hit at frame t with strength a".

Contract:
    audio ``(batch, samples)`` at ``config.sample_rate``
    -> activations ``(batch, n_components, frames)``, non-negative, ``frames = ceil(samples / hop)``,
    frame ``t`` standing for the sample ``t * hop``.

:func:`upsample_impulses` turns activations into audio-rate impulse trains by zero insertion, the
exact scheme of the paper, for the synthesizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drummernet.constants import (
    COMPONENTS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    SAMPLE_RATE,
    VOICE_CODES,
)
from drummernet.dsp import mel_filterbank, mel_magnitude

FRONTENDS = ("logmel", "waveform")
NORMALIZERS = ("sparsemax", "entmax15", "softmax", "none")
COMPONENT_NORMS = ("sparse", "independent")


#: The integer fields of :class:`AnalyzerConfig` and the range of each, ``None`` for no bound.
#: The sizes of the weights are checked against the weights a model file holds; the STFT size and
#: the mel bands are bounded here, since the front end computes its filters before any check.
_INTEGER_FIELDS: dict[str, tuple[int, int | None]] = {
    "sample_rate": (MIN_SAMPLE_RATE, MAX_SAMPLE_RATE), "hop_length": (1, None),
    "n_fft": (1, 16384), "n_mels": (1, 512), "channels": (1, None), "depth": (0, None),
    "kernel_size": (1, None), "rnn_hidden": (0, None), "rnn_layers": (1, None),
    "time_window": (1, None),
}  # fmt: skip


@dataclass(frozen=True)
class AnalyzerConfig:
    """Hyper-parameters of the analyzer. Frozen, JSON-serialisable, stored inside checkpoints.

    Attributes:
        components: component codes, in output order; may include extra voices
            (:data:`~drummernet.constants.VOICES`), each an output row of its own whose impulses
            transcription adds to its component's.
        sample_rate: audio rate the analyzer expects.
        hop_length: samples per activation frame (80 at 16 kHz = 5 ms).
        frontend: ``"logmel"`` (log-mel spectrogram, fast on CPU) or ``"waveform"`` (learned strided
            convolutions on the raw waveform, as in the paper).
        n_fft: STFT size of the log-mel front end.
        n_mels: number of mel bands.
        channels: channels of the first U-Net level (doubling per level, capped at 4x).
        depth: number of U-Net down/up-sampling levels (each halves the frame rate).
        kernel_size: width of the U-Net convolutions, in frames.
        rnn_hidden: hidden size per direction of the bidirectional GRU; 0 for convolutions only.
        rnn_layers: number of stacked GRU layers.
        normalizer: sparse normalisation applied to the scores: ``sparsemax`` (paper), ``entmax15``,
            ``softmax`` or ``none`` (a plain ReLU).
        time_window: frames per window of the time-wise normalisation (8 frames = 40 ms).
        component_norm: how components of one frame interact: ``"sparse"`` makes them compete
            through the normaliser across components (plus a "no hit" slot), as in the paper;
            ``"independent"`` gates each component with its own sigmoid, so a component keeps
            its gradient whatever its neighbours do (why this is the default:
            ``docs/notebook.md``, "Credit assignment").
        gate_bias: initial bias of the independent gates' scores (training only; a trained
            model's weights replace it). 0 starts every gate at 0.5; a negative bias (-4: gates
            at 0.018) starts every component quiet.
    """

    components: tuple[str, ...] = COMPONENTS
    sample_rate: int = SAMPLE_RATE
    hop_length: int = 80
    frontend: str = "logmel"
    n_fft: int = 1024
    n_mels: int = 80
    channels: int = 24
    depth: int = 3
    kernel_size: int = 5
    rnn_hidden: int = 32
    rnn_layers: int = 1
    normalizer: str = "sparsemax"
    time_window: int = 8
    component_norm: str = "independent"
    gate_bias: float = 0.0

    def __post_init__(self) -> None:
        # Checked here, not where they are used: a model file with hop_length 0 must fail on
        # load, naming the file, not with a ZeroDivisionError in the middle of a transcription.
        for name, (least, most) in _INTEGER_FIELDS.items():
            value = getattr(self, name)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < least
                or (most is not None and value > most)
            ):
                where = f">= {least}" if most is None else f"from {least} to {most}"
                raise ValueError(f"{name} must be an integer {where}, not {value!r}")
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {FRONTENDS}, not {self.frontend!r}")
        if self.normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, not {self.normalizer!r}")
        if self.component_norm not in COMPONENT_NORMS:
            raise ValueError(
                f"component_norm must be one of {COMPONENT_NORMS}, not {self.component_norm!r}"
            )
        unknown = [c for c in self.components if c not in VOICE_CODES]
        if unknown or not self.components:
            raise ValueError(f"unknown components {unknown}; choose from {VOICE_CODES}")
        object.__setattr__(self, "components", tuple(self.components))

    @property
    def frame_rate(self) -> float:
        """Activation frames per second."""
        return self.sample_rate / self.hop_length


class LogMelFrontend(nn.Module):
    """``(batch, samples)`` -> ``(batch, n_mels, frames)`` log-mel features; frame t at t * hop."""

    def __init__(self, config: AnalyzerConfig) -> None:
        super().__init__()
        self.n_fft, self.hop = config.n_fft, config.hop_length
        self.mel: torch.Tensor
        self.window: torch.Tensor
        mel = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, 20.0)
        self.register_buffer("mel", torch.from_numpy(mel), persistent=False)
        # An explicit device: built under torch.device("meta") (the load-time shape check), the
        # window would go through torch's decompositions and import torch._dynamo (about 1 s).
        window = torch.hann_window(config.n_fft, device="cpu")
        self.register_buffer("window", window, persistent=False)
        self.out_channels = config.n_mels

    def forward(self, audio: torch.Tensor, frames: int) -> torch.Tensor:
        magnitude = mel_magnitude(audio, self.mel, self.n_fft, self.hop, frames, self.window)
        return torch.log(magnitude + 1e-5) * 0.25 + 1.0


class WaveformFrontend(nn.Module):
    """Learned strided convolutions from the raw waveform down to the frame rate.

    ``(batch, samples)`` -> ``(batch, channels, frames)``; the strides multiply to ``hop_length``.
    """

    def __init__(self, config: AnalyzerConfig) -> None:
        super().__init__()
        strides = _factorize(config.hop_length)
        layers: list[nn.Module] = []
        in_ch, out_ch = 1, 16
        for stride in strides:
            layers += [
                nn.Conv1d(in_ch, out_ch, 2 * stride + 1, stride=stride, padding=stride),
                nn.LeakyReLU(0.1),
            ]
            in_ch, out_ch = out_ch, min(out_ch * 2, 64)
        self.net = nn.Sequential(*layers)
        self.hop = config.hop_length
        self.out_channels = in_ch

    def forward(self, audio: torch.Tensor, frames: int) -> torch.Tensor:
        audio = F.pad(audio, (0, frames * self.hop - audio.shape[-1]))
        return self.net(audio.unsqueeze(1))[..., :frames]


def _factorize(hop: int) -> list[int]:
    """Split ``hop`` into small strides (largest first), e.g. 80 -> [5, 4, 4]."""
    strides, rest = [], hop
    for p in (5, 4, 3, 2):
        while rest % p == 0 and rest > 1:
            strides.append(p)
            rest //= p
    if rest > 1:
        strides.append(rest)
    return sorted(strides, reverse=True)


class _ConvBlock(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__(
            nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2),
            nn.LeakyReLU(0.1),
            nn.Conv1d(out_ch, out_ch, kernel, padding=kernel // 2),
            nn.LeakyReLU(0.1),
        )


class UNet1d(nn.Module):
    """1-D U-Net over frames: ``(batch, in_ch, frames)`` -> ``(batch, channels, frames)``.

    ``frames`` must be a multiple of ``2 ** depth``. No normalisation layer pools over time, so a
    chunk of a long recording is analysed exactly as it would be inside the whole (up to the
    receptive field), which keeps chunked inference faithful.
    """

    def __init__(self, in_ch: int, channels: int, depth: int, kernel: int) -> None:
        super().__init__()
        widths = [min(channels * 2**i, channels * 4) for i in range(depth + 1)]
        self.inp = _ConvBlock(in_ch, widths[0], kernel)
        self.down = nn.ModuleList(
            _ConvBlock(widths[i], widths[i + 1], kernel) for i in range(depth)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose1d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)
        )
        self.merge = nn.ModuleList(
            _ConvBlock(2 * widths[i], widths[i], kernel) for i in range(depth)
        )
        self.out_channels = widths[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(F.avg_pool1d(x, 2))
        for i in reversed(range(len(self.down))):
            x = self.merge[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return x


def sparse_normalize(scores: torch.Tensor, dim: int, kind: str, alpha: float | None = None):
    """Normalise ``scores`` along ``dim`` with sparsemax, entmax-1.5, softmax or ReLU.

    ``alpha`` (between 1 and 2), when given, replaces the fixed normaliser by entmax with that
    alpha: the trainer anneals it towards 2 so that early in training every component receives
    gradient (sparsemax gives none outside its support, so a component that falls silent early
    would otherwise never come back).
    """
    from entmax import entmax15, entmax_bisect, sparsemax

    if kind == "none":
        return F.relu(scores)
    if kind == "softmax":
        return torch.softmax(scores, dim=dim)
    if alpha is not None and alpha < 2.0:
        return entmax_bisect(scores, alpha=alpha, dim=dim, n_iter=30)
    return sparsemax(scores, dim=dim) if kind == "sparsemax" else entmax15(scores, dim=dim)


class Analyzer(nn.Module):
    """U-Net + GRU analyzer with two multiplied sparse normalisations (see module docstring)."""

    def __init__(self, config: AnalyzerConfig) -> None:
        super().__init__()
        self.config = config
        frontend_cls = LogMelFrontend if config.frontend == "logmel" else WaveformFrontend
        self.frontend = frontend_cls(config)
        self.input_scale = nn.Conv1d(self.frontend.out_channels, self.frontend.out_channels, 1)
        self.unet = UNet1d(
            self.frontend.out_channels, config.channels, config.depth, config.kernel_size
        )
        width = self.unet.out_channels
        self.rnn: nn.GRU | None = None
        if config.rnn_hidden > 0:
            self.rnn = nn.GRU(
                width,
                config.rnn_hidden,
                num_layers=config.rnn_layers,
                batch_first=True,
                bidirectional=True,
            )
            width = 2 * config.rnn_hidden
        else:
            self.context = _ConvBlock(width, width, 9)
        n = len(config.components)
        # Scores for the component-wise normalisation get one extra "no hit" row, so that a frame
        # can be silent for every component.
        self.component_scores = nn.Conv1d(width, n + 1, 1)
        self.time_scores = nn.Conv1d(width, n, 1)
        self.gain = nn.Conv1d(width, n, 1)
        assert self.gain.bias is not None and self.component_scores.bias is not None
        nn.init.constant_(self.gain.bias, -1.0)
        if config.component_norm == "independent":
            with torch.no_grad():
                self.component_scores.bias[:-1].fill_(config.gate_bias)

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def n_frames(self, samples: int) -> int:
        """Number of activation frames for ``samples`` input samples."""
        return max(1, math.ceil(samples / self.config.hop_length))

    def forward(self, audio: torch.Tensor, alpha: float | None = None) -> torch.Tensor:
        """Analyse audio.

        Args:
            audio: ``(batch, samples)`` float at ``config.sample_rate``; any length >= 1.
            alpha: optional entmax alpha overriding the normaliser (training warm-up only).

        Returns:
            activations ``(batch, n_components, ceil(samples / hop))``, non-negative.
        """
        if audio.dim() != 2:
            raise ValueError(f"audio must be (batch, samples), got shape {tuple(audio.shape)}")
        cfg = self.config
        frames = self.n_frames(audio.shape[-1])
        multiple = math.lcm(2**cfg.depth, cfg.time_window)
        padded = math.ceil(frames / multiple) * multiple
        x = self.frontend(audio, frames)
        x = F.pad(x, (0, padded - frames))
        x = self.unet(self.input_scale(x))
        if self.rnn is not None:
            x = self.rnn(x.transpose(1, 2))[0].transpose(1, 2)
        else:
            x = self.context(x)
        if cfg.component_norm == "sparse":
            comp = sparse_normalize(self.component_scores(x), 1, cfg.normalizer, alpha)[:, :-1]
        else:
            comp = torch.sigmoid(self.component_scores(x)[:, :-1])
        time = self.time_scores(x)
        b, n, t = time.shape
        time = time.reshape(b, n, t // cfg.time_window, cfg.time_window)
        time = sparse_normalize(time, -1, cfg.normalizer, alpha).reshape(b, n, t)
        gain = F.softplus(self.gain(x))
        return (gain * comp * time)[..., :frames]


def upsample_impulses(activations: torch.Tensor, hop: int, samples: int) -> torch.Tensor:
    """Zero insertion: frame-rate activations to audio-rate impulse trains.

    Args:
        activations: ``(batch, n_components, frames)``.
        hop: samples per frame.
        samples: output length.

    Returns:
        ``(batch, n_components, samples)`` with ``out[..., t * hop] = activations[..., t]`` and
        zeros elsewhere.
    """
    b, n, t = activations.shape
    out = activations.new_zeros(b, n, t, hop)
    out[..., 0] = activations
    out = out.reshape(b, n, t * hop)
    if out.shape[-1] < samples:
        out = F.pad(out, (0, samples - out.shape[-1]))
    return out[..., :samples]
