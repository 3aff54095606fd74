"""The fixed synthesizer: impulse trains and drum one-shots in, a drum mix out.

After Choi & Cho (ISMIR 2019): each component's impulse train is convolved with that component's
one-shot and the results are summed. The convolution is done with FFTs, it is exact up to float
rounding, and the module holds no trainable parameters, so in training every gradient flows to the
analyzer. The one-shots are buffers that can be swapped at run time with :meth:`set_kits`.

Contract:
    impulses ``(batch, n_components, samples)`` (audio rate, e.g. from
    :func:`drummernet.analyzer.upsample_impulses`) + kits ``(n_kits, n_components, length)``
    -> audio ``(batch, samples)``, where a unit impulse at sample ``t`` of component ``c`` returns
    the one-shot of ``c`` starting at ``t`` (cut at the end of the signal).

With several kits loaded, ``kit_index: (batch, n_components)`` picks, per example and component,
which kit's one-shot is used; as in the paper, drawing it at random in training makes a component
a timbre class rather than one sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from drummernet.audio import resample
from drummernet.constants import (
    BRIGHT_CUTOFF_HZ,
    BRIGHT_VOICES,
    ROOM_VOICES,
    VOICES,
    component_class,
    voice_component,
)
from drummernet.dsp import room_impulse_response
from drummernet.model.kits import DrumKit, load_with_voices


class Synthesizer(nn.Module):
    """Fixed FFT-convolution drum synthesizer (no trainable parameters)."""

    def __init__(self, kits: torch.Tensor) -> None:
        """
        Args:
            kits: ``(n_kits, n_components, length)`` or ``(n_components, length)`` one-shots.
        """
        super().__init__()
        self.kits: torch.Tensor
        self.register_buffer("kits", torch.empty(0), persistent=False)
        self.set_kits(kits)

    @classmethod
    def from_kits(
        cls, kits: Sequence, components: Sequence[str], sr: int, max_seconds: float = 1.0
    ) -> Synthesizer:
        """Build from kit specs (built-in names, folders or :class:`~drummernet.kits.DrumKit`).

        Args:
            kits: one or more kit specs accepted by :meth:`DrumKit.load`.
            components: component codes, in the analyzer's output order.
            sr: sample rate.
            max_seconds: one-shots are cut to this length.
        """
        return cls(load_kit_tensor(kits, components, sr, max_seconds))

    def set_kits(self, kits: torch.Tensor) -> None:
        """Replace the one-shots. ``kits: (n_kits, n_components, length)`` or ``(n_comp, length)``."""
        if kits.dim() == 2:
            kits = kits.unsqueeze(0)
        if kits.dim() != 3 or kits.shape[-1] < 1:
            raise ValueError(
                f"kits must be (n_kits, n_components, length), got {tuple(kits.shape)}"
            )
        self.kits = kits.detach().float().to(self.kits.device if self.kits.numel() else kits.device)

    @property
    def n_kits(self) -> int:
        return self.kits.shape[0]

    @property
    def n_components(self) -> int:
        return self.kits.shape[1]

    def random_kit_index(
        self, batch: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A random kit per example and component: ``(batch, n_components)`` long tensor."""
        return torch.randint(self.n_kits, (batch, self.n_components), generator=generator).to(
            self.kits.device
        )

    def forward(
        self,
        impulses: torch.Tensor,
        kit_index: torch.Tensor | None = None,
        shot_length: int | None = None,
    ) -> torch.Tensor:
        """Render impulses to audio.

        Args:
            impulses: ``(batch, n_components, samples)``.
            kit_index: ``(batch, n_components)`` kit per example and component; default kit 0.
            shot_length: cut every one-shot to this many samples (with a short fade), as the
                trainer's one-shot warm-up does; ``None`` plays them whole.

        Returns:
            audio ``(batch, samples)``.
        """
        b, n, samples = impulses.shape
        if n != self.n_components:
            raise ValueError(f"impulses have {n} components, the kit has {self.n_components}")
        if kit_index is None:
            shots = self.kits[0].expand(b, -1, -1)
        else:
            shots = self.kits[kit_index, torch.arange(n, device=self.kits.device)]
        if shot_length is not None and shot_length > 0:
            # A fade over the last quarter (the ramp's first point, 1, is the sample before it).
            shots = _cut(shots, shot_length, fade=max(1, shot_length // 4) + 1)
        from scipy.fft import next_fast_len  # on first use: analysis alone never convolves

        size = next_fast_len(samples + shots.shape[-1] - 1, real=True)
        spectrum = torch.fft.rfft(impulses, size) * torch.fft.rfft(shots.to(impulses.dtype), size)
        return torch.fft.irfft(spectrum.sum(dim=1), size)[..., :samples]


#: One-shot scalings. ``"peak"``: unit peak. ``"energy"``: every one-shot has the energy of a
#: unit-peak decaying sine of 100 ms (L2 norm ``ENERGY_NORM_REFERENCE * sqrt(sr)``). Under unit
#: peaks a 1 s cymbal carries ~30x the energy of a closed hi-hat, so an impulse costs or earns
#: wildly different loss per component: hi-hats learn slowly and stay quiet, and cymbals, whose
#: wrong guesses are the most expensive, are switched off early and never come back. Equal
#: energy gives every component's impulse the same weight in the reconstruction.
KIT_NORMS = ("peak", "energy")
ENERGY_NORM_REFERENCE = 0.2


def normalize_shots(shots: torch.Tensor, sr: int, norm: str) -> torch.Tensor:
    """Scale one-shots ``(..., length)`` per :data:`KIT_NORMS`; silent rows stay zero."""
    if norm not in KIT_NORMS:
        raise ValueError(f"kit norm must be one of {KIT_NORMS}, not {norm!r}")
    if norm == "peak":
        scale = shots.abs().amax(dim=-1, keepdim=True)
    else:
        scale = shots.norm(dim=-1, keepdim=True) / (ENERGY_NORM_REFERENCE * sr**0.5)
    return shots / torch.where(scale > 0, scale, torch.ones_like(scale))


def load_kit_tensor(
    kits: Sequence | str | DrumKit | torch.Tensor,
    components: Sequence[str],
    sr: int,
    max_seconds: float = 1.0,
    norm: str = "peak",
    class_seconds: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Stack kits into ``(n_kits, n_components, length)``, zero-padded to the longest one-shot.

    ``kits`` may also be such a tensor already (returned as is). Built or loaded kits are cut
    to ``max_seconds`` (or a component's own length in ``class_seconds``, by code or by class,
    e.g. ``{"CY": 0.25}``) and scaled per ``norm`` (:data:`KIT_NORMS`).
    """
    if isinstance(kits, torch.Tensor):
        return kits if kits.dim() == 3 else kits.unsqueeze(0)
    if isinstance(kits, (str, DrumKit)) or not isinstance(kits, Sequence):
        kits = [kits]
    components = tuple(components)
    loaded = [k if isinstance(k, DrumKit) else load_with_voices(k, components, sr) for k in kits]
    loaded = [
        k
        if k.sr == sr
        else DrumKit(k.name, sr, {c: resample(x, k.sr, sr) for c, x in k.samples.items()})
        for k in loaded
    ]
    loaded = [_add_derived_voices(k, components) for k in _fill_voices(loaded, components)]
    lengths = [_shot_seconds(code, max_seconds, class_seconds or {}) for code in components]
    tensors = [
        normalize_shots(_cut_each(k.to_tensor(components), lengths, sr), sr, norm) for k in loaded
    ]
    length = max(t.shape[-1] for t in tensors)
    return torch.stack([torch.nn.functional.pad(t, (0, length - t.shape[-1])) for t in tensors])


def room_response(sr: int) -> np.ndarray:
    """The fixed room of the room voices (:data:`~drummernet.constants.ROOM_VOICES`)."""
    from drummernet.constants import ROOM_RT60, ROOM_SEED

    return room_impulse_response(np.random.default_rng(ROOM_SEED), ROOM_RT60, sr)


def _add_derived_voices(kit: DrumKit, codes: Sequence[str]) -> DrumKit:
    """``kit`` with the derived voices among ``codes``: room voices, its main one-shots through
    :func:`room_response` (the room alone: an impulse on the dry voice and one on the room voice
    make any mix); bright voices, its main one-shots through a causal 4th-order Butterworth
    high-pass at :data:`~drummernet.constants.BRIGHT_CUTOFF_HZ` (the attack stays at sample 0)."""
    from scipy.signal import butter, fftconvolve, sosfilt  # on first use: a 0.6 s import

    parents = {**ROOM_VOICES, **BRIGHT_VOICES}
    wanted = [c for c in codes if c in parents and parents[c] in kit.samples]
    if not wanted:
        return kit
    samples = dict(kit.samples)
    room = room_response(kit.sr) if any(c in ROOM_VOICES for c in wanted) else None
    highpass = None
    if any(c in BRIGHT_VOICES for c in wanted):
        highpass = butter(4, BRIGHT_CUTOFF_HZ, btype="highpass", fs=kit.sr, output="sos")
    for code in wanted:
        shot = samples[parents[code]]
        derived = fftconvolve(shot, room) if code in ROOM_VOICES else sosfilt(highpass, shot)
        samples[code] = derived.astype(np.float32)
    return DrumKit(kit.name, kit.sr, samples)


def _fill_voices(kits: list[DrumKit], codes: Sequence[str]) -> list[DrumKit]:
    """Give every kit each extra voice in ``codes``: from the first kit of the pool that has it,
    else its component's own one-shot. Without this a sample kit (no side stick, no splash...)
    would render that voice's impulses as silence, and the analyzer would learn nothing from
    them whenever that kit is drawn."""
    out = []
    for kit in kits:
        samples = dict(kit.samples)
        for code in codes:
            if code in samples or code not in VOICES:
                continue
            donor = next((k for k in kits if code in k.samples), None)
            parent = VOICES[code][0]
            if donor is not None:
                samples[code] = donor.samples[code]
            elif parent in samples:
                samples[code] = samples[parent]
        out.append(DrumKit(kit.name, kit.sr, samples))
    return out


def _shot_seconds(code: str, default: float, class_seconds: Mapping[str, float]) -> float:
    """One-shot length of a component or voice: its code's entry, its class's, or ``default``."""
    if code in class_seconds:
        return class_seconds[code]
    return class_seconds.get(component_class(voice_component(code)), default)


def _cut_each(shots: torch.Tensor, seconds: Sequence[float], sr: int) -> torch.Tensor:
    """Cut each row of ``shots: (n_components, samples)`` to its own length, with a 20 ms fade."""
    longest = _cut(shots, int(max(seconds) * sr), fade=int(0.02 * sr))
    rows = [
        _cut(row, int(s * sr), fade=int(0.02 * sr)) for row, s in zip(longest, seconds, strict=True)
    ]
    return torch.stack([torch.nn.functional.pad(r, (0, longest.shape[-1] - len(r))) for r in rows])


def _cut(shots: torch.Tensor, length: int, fade: int) -> torch.Tensor:
    """Cut ``shots: (..., samples)`` to ``length`` with a linear fade-out over its last ``fade``
    samples (from 1 to 0), so a cut ring never clicks."""
    if shots.shape[-1] <= length:
        return shots
    shots = shots[..., :length].clone()
    fade = min(fade, length)
    shots[..., length - fade :] *= torch.linspace(1.0, 0.0, fade, device=shots.device)
    return shots
