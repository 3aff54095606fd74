"""Reconstruction losses: how far the resynthesis is from the input, in log-magnitude bands.

The paper (Choi & Cho, ISMIR 2019) compares input and resynthesis in 8 one-octave pseudo-CQT bands
of 12 bins each, in log magnitude, with an L1 distance per band summed over bands, so every octave
weighs the same and the hi-hat's octaves count as much as the kick's. It also enhances onsets. This
module offers that loss (``domain="cqt"``) next to a multi-resolution log-STFT loss (``"stft"``)
and a log-mel loss (``"mel"``), each with optional onset weighting, plus a sparsity term.

Contract: ``loss(estimate, target)`` with both ``(batch, samples)`` returns a scalar.

:func:`onset_loss` is not part of the method: it compares activations with onset targets, either
the synthetic stream's own labels (the supervised upper bound) or an NMF teacher's activations (a
warm start, see :mod:`drummernet.training.teacher`). Both are reference points, off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from drummernet.constants import DEFAULT_THRESHOLD, SAMPLE_RATE
from drummernet.dsp import mel_filterbank

LOSS_DOMAINS = ("cqt", "stft", "mel")
#: Onset targets count as hit by an activation this many frames away (2 frames = 10 ms at hop 80):
#: the time-wise sparsemax puts one impulse somewhere in a 40 ms window, and the transcription is
#: scored with a 50 ms tolerance.
ONSET_LOSS_TOLERANCE_FRAMES = 2
#: An activation ``a`` reads as the probability ``a / (a + ONSET_LOSS_SCALE)`` of a hit, so the
#: loss's decision boundary (probability 0.5) is the transcription's note threshold, and the
#: reconstruction loss stays free to set the amplitude of a confident hit.
ONSET_LOSS_SCALE = DEFAULT_THRESHOLD
#: Floor inside ``-log(probability)``: bounds the loss and its gradient for a missed onset.
ONSET_LOSS_FLOOR = 1e-4


@dataclass(frozen=True)
class LossConfig:
    """Reconstruction-loss settings.

    Attributes:
        domain: ``"cqt"`` (octave bands, equal weight per octave), ``"stft"`` or ``"mel"``.
        fft_sizes: STFT sizes for the multi-resolution STFT and mel losses.
        hop: analysis hop of the octave-band loss, in samples (64 in the paper).
        n_octaves: octave bands of the ``cqt`` loss, counted down from the Nyquist frequency.
        bins_per_octave: log-spaced bins per octave.
        onset_weight: weight of the onset emphasis (0 turns it off): frames where the target's
            band energy rises are weighted ``1 + onset_weight * flux``.
        sparsity: weight of the L1 penalty on the activations (applied by the model).
        usage_floor: a usage prior (0: off): every component's largest activation over a batch
            should reach this level, or :func:`usage_loss` pays the shortfall. It asks each
            drum for one firing somewhere in the batch, where the reconstruction finds it
            least costly; no label says where. A component that stops firing keeps a
            gradient, so it can come back.
        usage_weight: weight of that usage prior.
        eps: floor of the magnitude inside the log.
        onset_supervision: weight of :func:`onset_loss` against the synthetic stems' own labels
            (0: off, the unsupervised method). A reference point only, the supervised upper
            bound: it needs labelled synthetic stems and no unlabeled audio.
    """

    domain: str = "cqt"
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256)
    hop: int = 64
    n_octaves: int = 8
    bins_per_octave: int = 12
    onset_weight: float = 1.0
    sparsity: float = 0.0
    usage_floor: float = 0.0
    usage_weight: float = 1.0
    eps: float = 1e-3
    onset_supervision: float = 0.0

    def __post_init__(self) -> None:
        if self.domain not in LOSS_DOMAINS:
            raise ValueError(f"loss domain must be one of {LOSS_DOMAINS}, not {self.domain!r}")
        object.__setattr__(self, "fft_sizes", tuple(self.fft_sizes))


def _log_band_filters(n_fft: int, sr: int, fmin: float, fmax: float, n_bins: int) -> np.ndarray:
    """Triangular filters centred on ``n_bins`` log-spaced frequencies in ``[fmin, fmax)``.

    Returns ``(n_bins, n_fft // 2 + 1)``; every filter covers at least one FFT bin, so narrow
    low-frequency bands never come out empty.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = fmin * (fmax / fmin) ** (np.arange(n_bins + 2) / n_bins)
    filters = np.zeros((n_bins, freqs.size), dtype=np.float32)
    for i in range(n_bins):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        filters[i] = np.clip(np.minimum(up, down), 0.0, None)
        if filters[i].sum() == 0:
            filters[i, np.argmin(np.abs(freqs - mid))] = 1.0
        filters[i] /= filters[i].sum()
    return filters


class SpectralLoss(nn.Module):
    """Multi-band log-magnitude L1 reconstruction loss (see module docstring)."""

    def __init__(self, config: LossConfig = LossConfig(), sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        self.config = config
        self.sample_rate = sample_rate
        # Each entry: (n_fft, hop, name of the filter buffer or None for the raw STFT).
        self.analyses: list[tuple[int, int, str | None]] = []
        if config.domain == "cqt":
            top = sample_rate / 2
            for octave in range(config.n_octaves):
                fmax = top / 2**octave
                fmin = fmax / 2
                # Long windows for the low octaves (frequency resolution), short ones above (time).
                n_fft = int(min(4096, max(256, 2 ** np.ceil(np.log2(8 * sample_rate / fmax)))))
                name = f"octave{octave}"
                filt = _log_band_filters(n_fft, sample_rate, fmin, fmax, config.bins_per_octave)
                self.register_buffer(name, torch.from_numpy(filt), persistent=False)
                self.analyses.append((n_fft, config.hop, name))
        elif config.domain == "mel":
            for n_fft in config.fft_sizes:
                mel = mel_filterbank(sample_rate, n_fft, min(128, n_fft // 8))
                self.register_buffer(f"mel{n_fft}", torch.from_numpy(mel), persistent=False)
                self.analyses.append((n_fft, n_fft // 4, f"mel{n_fft}"))
        else:
            self.analyses = [(n_fft, n_fft // 4, None) for n_fft in config.fft_sizes]

    def _bands(self, audio: torch.Tensor, n_fft: int, hop: int, name: str | None) -> torch.Tensor:
        window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
        spec = torch.stft(
            audio, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
        )
        # The magnitude written out (faster on CPU than .abs()); the floor keeps its gradient
        # finite at 0.
        mag = torch.sqrt(spec.real.square() + spec.imag.square() + 1e-12)
        if name is not None:
            mag = getattr(self, name) @ mag
        return torch.log(mag + self.config.eps)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L1 distance of log-magnitude bands.

        Args:
            estimate: ``(batch, samples)`` resynthesis.
            target: ``(batch, samples)`` input audio.

        Returns:
            scalar loss, the mean over analyses (octaves or resolutions) of the mean band error.
        """
        total = estimate.new_zeros(())
        for n_fft, hop, name in self.analyses:
            est = self._bands(estimate, n_fft, hop, name)
            ref = self._bands(target, n_fft, hop, name)
            err = (est - ref).abs()
            if self.config.onset_weight > 0:
                flux = torch.relu(ref[..., 1:] - ref[..., :-1]).mean(dim=-2, keepdim=True)
                flux = torch.nn.functional.pad(flux, (1, 0))
                weight = 1.0 + self.config.onset_weight * flux / (
                    flux.mean(-1, keepdim=True) + 1e-6
                )
                err = err * weight
            total = total + err.mean()
        return total / len(self.analyses)


def onset_loss(
    activations: torch.Tensor,
    targets: torch.Tensor,
    tolerance: int = ONSET_LOSS_TOLERANCE_FRAMES,
    scale: float = ONSET_LOSS_SCALE,
) -> torch.Tensor:
    """Class-balanced cross-entropy between activations and (soft) onset targets.

    An activation ``a`` is read as the hit probability ``p = a / (a + scale)``. A target frame
    (weight ``y``) is hit when some activation within ``tolerance`` frames is high (``p`` max-pooled
    over ``2 * tolerance + 1`` frames); every frame farther than ``tolerance`` from any target
    should be silent (weight ``1 - y`` max-pooled over the same window); frames in between are
    free, so the analyzer may put its impulse anywhere inside the tolerance. The positive and the
    negative terms are each averaged over their own weights, since hits are rare.

    Args:
        activations: ``(batch, n_components, frames)`` non-negative analyzer output.
        targets: ``(batch, n_components, frames)`` in ``[0, 1]``: 0/1 onset trains (labels) or
            soft ones (a teacher).
        tolerance: frames either side within which an activation hits a target.
        scale: activation of probability 0.5.

    Returns:
        scalar loss, the sum of the positive and the negative terms.
    """
    if activations.shape != targets.shape:
        raise ValueError(
            f"activations {tuple(activations.shape)} and targets {tuple(targets.shape)} differ"
        )
    targets = targets.to(activations.dtype)
    width = 2 * tolerance + 1

    def pool(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.max_pool1d(x, width, stride=1, padding=tolerance)

    # -log p and -log(1 - p) of p = a / (a + scale), written out to stay finite at a = 0.
    pooled = pool(activations)
    miss = torch.log(pooled + scale) - torch.log(pooled + ONSET_LOSS_FLOOR)
    false_alarm = torch.log1p(activations / scale)
    negative = 1.0 - pool(targets)
    positive_term = (targets * miss).sum() / targets.sum().clamp_min(1.0)
    negative_term = (negative * false_alarm).sum() / negative.sum().clamp_min(1.0)
    return positive_term + negative_term


def usage_loss(activations: torch.Tensor, floor: float) -> torch.Tensor:
    """The usage prior: the mean shortfall of each component's peak activation below ``floor``.

    Args:
        activations: ``(batch, n_components, frames)``.
        floor: the level every component's largest activation over the batch should reach.

    Returns:
        a scalar, ``mean_c relu(floor - max_{b,t} activations[b, c, t])``; its gradient reaches
        only each short component's strongest frame.
    """
    return torch.relu(floor - activations.amax(dim=(0, 2))).mean()
