"""The NMF teacher (a warm-start reference point) and the onset loss it shares with supervision."""

from __future__ import annotations

import torch
from conftest import SR, synthetic_kit

from drummernet.training.losses import onset_loss
from drummernet.training.teacher import NMFTeacher, component_templates, nmf_activations

HOP = 80


def test_templates_are_unit_sum_and_zero_for_a_component_no_kit_has():
    kits = torch.cat([synthetic_kit(), torch.zeros(1, 4000)]).unsqueeze(0)  # 4th row silent
    teacher = NMFTeacher(kits, SR, HOP)
    sums = teacher.templates.sum(0)
    torch.testing.assert_close(sums[:3], torch.ones(3))
    assert sums[3] == 0
    # A second kit lacking a component does not dilute the first kit's template.
    pool = torch.stack([kits[0], torch.cat([synthetic_kit()[:1], torch.zeros(3, 4000)])])
    both = component_templates(pool, teacher.mel, teacher.n_fft, HOP)
    torch.testing.assert_close(both[:, 1:3], teacher.templates[:, 1:3])


def test_nmf_recovers_the_activations_of_an_exact_mix_of_its_templates():
    # Three spectra on mostly different bins, overlapping everywhere a little.
    w = 0.05 + (torch.arange(21)[:, None] // 7 == torch.arange(3)).float()
    w = w / w.sum(0)
    h = torch.zeros(2, 3, 50)
    h[0, 0, 10], h[0, 1, 30], h[1, 2, 5] = 4.0, 2.0, 3.0
    found = nmf_activations(w @ h, w, iterations=200)
    assert found.shape == (2, 3, 50)
    torch.testing.assert_close(found, h, atol=0.01, rtol=0.05)


def test_teacher_peaks_at_the_hit_component_and_frame():
    kit = synthetic_kit()  # kick, snare, hat
    teacher = NMFTeacher(kit.unsqueeze(0), SR, HOP)
    hits = [(0.25, 0), (0.625, 1), (1.0, 2), (1.375, 0), (1.5, 2)]
    audio = torch.zeros(2 * SR)
    for time, c in hits:
        start = round(time * SR)
        n = min(kit.shape[1], len(audio) - start)
        audio[start : start + n] += 0.5 * kit[c, :n]
    targets = teacher(audio.unsqueeze(0))[0]
    assert targets.shape == (3, 2 * SR // HOP) and targets.max() == 1.0
    for time, c in hits:
        frame = round(time * SR / HOP)
        window = targets[:, frame - 2 : frame + 3]
        assert window.max(dim=1).values.argmax() == c, (time, c)
    # Far from every hit the teacher is silent.
    quiet = torch.ones(targets.shape[-1], dtype=torch.bool)
    for time, _ in hits:
        frame = round(time * SR / HOP)
        quiet[frame - 3 : frame + 4] = False
    assert targets[:, quiet].max() < 0.3


def test_onset_loss_prefers_hits_within_the_tolerance():
    targets = torch.zeros(1, 2, 40)
    targets[0, 0, 10] = targets[0, 1, 25] = 1.0
    exact = 0.5 * targets
    late = torch.roll(exact, 2, dims=-1)  # within the 2-frame tolerance: just as good
    off = torch.roll(exact, 6, dims=-1)
    swapped = exact.flip(1)
    silent = torch.zeros_like(targets)
    loss = {k: onset_loss(v, targets).item() for k, v in
            {"exact": exact, "late": late, "off": off, "swapped": swapped, "silent": silent}.items()}  # fmt: skip
    assert abs(loss["exact"] - loss["late"]) < 1e-6
    assert loss["exact"] < 0.1 < loss["silent"] < loss["off"]
    assert loss["swapped"] > loss["silent"]
    activations = torch.full_like(targets, 1e-3, requires_grad=True)
    onset_loss(activations, targets).backward()
    # A missed onset pulls up an activation inside its tolerance window, and nothing blows up.
    assert torch.isfinite(activations.grad).all() and activations.grad[0, 0, 8:13].min() < 0
