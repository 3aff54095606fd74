"""An NMF teacher: activations of fixed drum templates, to warm-start the analyzer.

A reference point outside the method, not part of it: the ``nmf_warm_start`` experiment pulls the
analyzer towards this teacher for its first ``teacher_steps`` steps, then trains on
reconstruction alone. The teacher uses no labels.

Non-negative matrix factorisation with fixed templates, the classic unsupervised drum transcriber
(Paulus & Virtanen, "Drum transcription with non-negative spectrogram factorisation", EUSIPCO
2005; Dittmar & Gärtner, "Real-time transcription and separation of drum recordings based on NMF
decomposition", DAFx 2014): a magnitude mel spectrogram ``V: (bins, frames)`` is approximated by
``W @ H``, where column ``c`` of ``W`` is the mean spectrum of component ``c``'s one-shots over the
synthesizer's kit pool and stays fixed; only the activations ``H: (components, frames)`` are
fitted, with the multiplicative updates of Lee & Seung ("Algorithms for non-negative matrix
factorization", NIPS 2001) for the generalised Kullback-Leibler divergence. ``H`` follows each
drum's envelope, while the analyzer emits impulses at onsets, so the teacher's targets are the
rises of ``H`` (half-wave rectified frame differences), normalised per clip.

Contract:
    audio ``(batch, samples)`` at the analyzer's rate -> targets ``(batch, n_components, frames)``
    in ``[0, 1]``, on the analyzer's frame grid (``frames = ceil(samples / hop)``, frame ``t`` at
    sample ``t * hop``).
"""

from __future__ import annotations

import torch
from torch import nn

from drummernet.dsp import mel_filterbank, mel_magnitude

#: STFT size of the teacher's spectrogram: 32 ms at 16 kHz, short enough to place onsets within a
#: frame or two, long enough to tell a kick's fundamental from a tom's.
DEFAULT_TEACHER_N_FFT = 512
#: Mel bands of the teacher's spectrogram.
DEFAULT_TEACHER_N_MELS = 40
#: Multiplicative updates of the activations (KL NMF converges in a few tens with fixed templates).
DEFAULT_NMF_ITERATIONS = 30
#: Rises below this fraction of a clip's largest rise are dropped as noise of the factorisation.
DEFAULT_TEACHER_FLOOR = 0.1
_EPS = 1e-8


def component_templates(
    kits: torch.Tensor, mel: torch.Tensor, n_fft: int, hop: int
) -> torch.Tensor:
    """Fixed NMF templates: the mean mel magnitude spectrum of each component's one-shots.

    Each one-shot's spectrum is summed over its frames (so its loud part dominates) and scaled to
    unit sum; the kits are then averaged, ignoring kits that lack the component.

    Args:
        kits: ``(n_kits, n_components, length)`` one-shots (the synthesizer's ``kits``).
        mel: ``(n_mels, n_fft // 2 + 1)`` filterbank.
        n_fft: STFT size.
        hop: STFT hop.

    Returns:
        ``(n_mels, n_components)``, each column summing to 1 (0 for a component no kit has).
    """
    n_kits, n_components, length = kits.shape
    spectra = mel_magnitude(kits.reshape(-1, length).float(), mel, n_fft, hop).sum(-1)
    spectra = spectra.reshape(n_kits, n_components, -1)
    total = spectra.sum(-1, keepdim=True)
    present = (total > _EPS).float()
    spectra = spectra / total.clamp_min(_EPS) * present
    mean = spectra.sum(0) / present.sum(0).clamp_min(1.0)
    return (mean / mean.sum(-1, keepdim=True).clamp_min(_EPS)).T.contiguous()


def nmf_activations(
    spectrogram: torch.Tensor, templates: torch.Tensor, iterations: int = DEFAULT_NMF_ITERATIONS
) -> torch.Tensor:
    """Fit the activations of fixed templates by KL-divergence multiplicative updates.

    ``H <- H * (W^T (V / (W H))) / (W^T 1)``, batched; ``W`` never changes.

    Args:
        spectrogram: ``V: (batch, n_bins, frames)``, non-negative.
        templates: ``W: (n_bins, n_components)``, non-negative.
        iterations: number of updates.

    Returns:
        ``H: (batch, n_components, frames)``, non-negative.
    """
    w = templates.to(spectrogram.dtype)
    norm = w.sum(0).clamp_min(_EPS)[:, None]  # W^T 1
    # Start from each frame's energy shared equally among the components that have a template,
    # so that W H matches the level of V from the first update on.
    active = (w.sum(0) > _EPS).to(w.dtype)[:, None]
    h = spectrogram.sum(-2, keepdim=True) / active.sum().clamp_min(1.0) * active
    for _ in range(iterations):
        ratio = spectrogram / (w @ h + _EPS)
        h = h * (w.T @ ratio) / norm
    return h


def rise_targets(activations: torch.Tensor, floor: float = DEFAULT_TEACHER_FLOOR) -> torch.Tensor:
    """Rises of NMF activations as soft onset targets.

    Args:
        activations: ``(batch, n_components, frames)`` NMF activations.
        floor: rises below this fraction of the clip's largest are set to 0.

    Returns:
        ``(batch, n_components, frames)`` in ``[0, 1]``, peak 1 per clip (0 for a silent clip).
    """
    previous = torch.cat([activations[..., :1], activations[..., :-1]], dim=-1)
    rise = torch.relu(activations - previous)
    rise = rise / rise.amax(dim=(1, 2), keepdim=True).clamp_min(_EPS)
    return torch.where(rise >= floor, rise, torch.zeros_like(rise))


class NMFTeacher(nn.Module):
    """Fixed-template NMF on a mel spectrogram (see the module docstring); no trainable weights.

    Args:
        kits: ``(n_kits, n_components, length)`` one-shots, e.g. ``model.synthesizer.kits``.
        sample_rate: audio rate.
        hop_length: samples per frame (the analyzer's).
        n_fft: STFT size.
        n_mels: mel bands.
        iterations: multiplicative updates per call.
        floor: see :func:`rise_targets`.
    """

    def __init__(
        self,
        kits: torch.Tensor,
        sample_rate: int,
        hop_length: int,
        n_fft: int = DEFAULT_TEACHER_N_FFT,
        n_mels: int = DEFAULT_TEACHER_N_MELS,
        iterations: int = DEFAULT_NMF_ITERATIONS,
        floor: float = DEFAULT_TEACHER_FLOOR,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.iterations, self.floor = iterations, floor
        self.mel: torch.Tensor
        self.templates: torch.Tensor
        mel = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels, 20.0))
        self.register_buffer("mel", mel, persistent=False)
        templates = component_templates(kits.detach().cpu(), mel, n_fft, hop_length)
        self.register_buffer("templates", templates, persistent=False)

    @classmethod
    def from_model(cls, model, **kwargs) -> NMFTeacher:
        """The teacher of a :class:`~drummernet.model.DrummerNet`: its kit pool and frame grid."""
        kits = model.synthesizer.kits
        return cls(kits, model.sample_rate, model.hop_length, **kwargs).to(kits.device)

    @torch.no_grad()
    def activations(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio: (batch, samples)`` -> NMF activations ``(batch, n_components, frames)``."""
        spectrogram = mel_magnitude(audio.float(), self.mel, self.n_fft, self.hop_length)
        return nmf_activations(spectrogram, self.templates, self.iterations)

    @torch.no_grad()
    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio: (batch, samples)`` -> soft onset targets ``(batch, n_components, frames)``."""
        return rise_targets(self.activations(audio), self.floor)
