"""The analysis-by-synthesis model: synthesizer contract, sparsity, shapes, persistence, fitting."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import SR, TINY_COMPONENTS, synthetic_kit, tiny_config

from drummernet.model.analyzer import AnalyzerConfig, sparse_normalize, upsample_impulses
from drummernet.model.kits import DrumKit
from drummernet.model.network import DrummerNet, ModelConfig, ModelLoadError
from drummernet.model.synthesizer import Synthesizer
from drummernet.training.losses import LossConfig, SpectralLoss


@pytest.mark.parametrize("t", [0, 1, 777, 15999])
def test_unit_impulse_returns_one_shot(t):
    kit = synthetic_kit(length=3000)
    synth = Synthesizer(kit)
    samples = 16000
    for c in range(3):
        impulses = torch.zeros(1, 3, samples)
        impulses[0, c, t] = 1.0
        out = synth(impulses)[0]
        expected = torch.zeros(samples)
        n = min(3000, samples - t)
        expected[t : t + n] = kit[c, :n]
        torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)


def test_synthesizer_sums_components_and_picks_kits():
    kits = torch.stack([synthetic_kit(1000, seed=1), synthetic_kit(1000, seed=2)])
    synth = Synthesizer(kits)
    impulses = torch.zeros(2, 3, 4000)
    impulses[:, 0, 100] = 0.5
    impulses[:, 2, 2000] = 2.0
    index = torch.tensor([[0, 0, 0], [1, 1, 1]])
    out = synth(impulses, index)
    for b in range(2):
        expected = torch.zeros(4000)
        expected[100:1100] += 0.5 * kits[b, 0]
        expected[2000:3000] += 2.0 * kits[b, 2]
        torch.testing.assert_close(out[b], expected, atol=2e-6, rtol=0)


def test_synthesizer_can_cut_its_one_shots_for_the_warm_up():
    kit = synthetic_kit(length=3000)
    synth = Synthesizer(kit)
    impulses = torch.zeros(1, 3, 6000)
    impulses[0, 1, 100] = 1.0
    cut = synth(impulses, shot_length=800)[0]
    torch.testing.assert_close(cut[100:700], kit[1, :600], atol=2e-6, rtol=0)  # before the fade
    ramp = cut[700:900] / kit[1, 600:800]
    assert ramp[0] > 0.95 and ramp[-1] < 0.01 and torch.all(ramp[1:] <= ramp[:-1] + 1e-4)
    assert cut[900:].abs().max() < 1e-5  # nothing after the cut
    whole = synth(impulses)[0]  # default, and any length beyond the one-shot: unchanged
    torch.testing.assert_close(synth(impulses, shot_length=5000)[0], whole)
    torch.testing.assert_close(whole[100:3100], kit[1], atol=2e-6, rtol=0)


def test_zero_insertion_is_exact():
    act = torch.rand(2, 3, 7)
    up = upsample_impulses(act, 80, 7 * 80 - 13)
    assert up.shape == (2, 3, 7 * 80 - 13)
    torch.testing.assert_close(up[..., ::80], act)
    mask = torch.ones(up.shape[-1], dtype=torch.bool)
    mask[::80] = False
    assert (up[..., mask] == 0).all()


def test_synthesizer_fixed_and_gradients_reach_analyzer(tiny_model):
    assert not any(p.requires_grad for p in tiny_model.synthesizer.parameters())
    assert len(list(tiny_model.synthesizer.parameters())) == 0
    audio = torch.randn(2, SR) * 0.1
    recon, _ = tiny_model(audio)
    SpectralLoss(LossConfig())(recon, audio).backward()
    grads = [p.grad for p in tiny_model.analyzer.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0
    assert tiny_model.synthesizer.kits.grad is None


def test_kit_can_be_swapped(tiny_model):
    audio = torch.randn(1, SR) * 0.1
    with torch.no_grad():
        a1 = tiny_model.analyze(audio)
        r1 = tiny_model.synthesize(a1, SR)
        tiny_model.synthesizer.set_kits(synthetic_kit(seed=5) * 0.5)
        r2 = tiny_model.synthesize(a1, SR)
    assert not torch.allclose(r1, r2)


@pytest.mark.parametrize("normalizer", ["sparsemax", "entmax15"])
def test_sparse_outputs_have_exact_zeros(normalizer):
    scores = torch.randn(4, 12, 64)
    out = sparse_normalize(scores, 1, normalizer)
    assert (out == 0).any() and (out >= 0).all()
    torch.testing.assert_close(out.sum(1), torch.ones(4, 64))

    torch.manual_seed(0)
    # The paper's two multiplied normalisations. With independent gates (our default) only the
    # time-wise one makes zeros, and how many depends on how peaked the learned scores are.
    config = tiny_config(normalizer=normalizer, component_norm="sparse")
    model = DrummerNet(config, kits=synthetic_kit())
    # Spread the score heads as training does, so the normalisers have something to select.
    for head in (model.analyzer.component_scores, model.analyzer.time_scores):
        torch.nn.init.normal_(head.weight, std=3.0)
    with torch.no_grad():
        act = model.analyze(torch.randn(2, 2 * SR) * 0.1)
    assert (act >= 0).all()
    zeros = (act == 0).float().mean().item()
    assert zeros > 0.5, zeros


def test_softmax_ablation_is_dense():
    torch.manual_seed(0)
    model = DrummerNet(tiny_config(normalizer="softmax"), kits=synthetic_kit())
    with torch.no_grad():
        act = model.analyze(torch.randn(1, SR) * 0.1)
    assert (act > 0).all()


@pytest.mark.parametrize("samples", [1, int(0.3 * SR), 61 * SR])
@pytest.mark.parametrize("frontend", ["logmel", "waveform"])
def test_shapes_for_awkward_lengths(samples, frontend):
    model = DrummerNet(tiny_config(frontend=frontend), kits=synthetic_kit())
    with torch.no_grad():
        recon, act = model(torch.randn(1, samples) * 0.1)
    assert recon.shape == (1, samples)
    assert act.shape == (1, 3, -(-samples // 80))
    assert torch.isfinite(recon).all()


@pytest.mark.parametrize("sr,hop", [(8000, 40), (22050, 105), (44100, 441)])
def test_shapes_for_other_sample_rates(sr, hop):
    model = DrummerNet(tiny_config(sample_rate=sr, hop_length=hop), kits=synthetic_kit())
    samples = int(0.77 * sr)
    with torch.no_grad():
        recon, act = model(torch.randn(2, samples) * 0.1)
    assert recon.shape == (2, samples)
    assert act.shape == (2, 3, -(-samples // hop))


def test_save_load_identical(tiny_model, tmp_path):
    path = tiny_model.save(tmp_path / "m.safetensors", extra={"steps": 3})
    loaded = DrummerNet.load(path, kits=synthetic_kit())
    assert loaded.config == tiny_model.config
    audio = torch.randn(1, SR) * 0.1
    tiny_model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(audio)[0], tiny_model(audio)[0], rtol=0, atol=0)


def test_config_round_trips_through_json():
    config = ModelConfig(analyzer=AnalyzerConfig(depth=4, normalizer="entmax15"), kits=("a", "b"))
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_foreign_and_tampered_files_fail_clearly(tiny_model, tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(ModelLoadError, match="not a drummernet model"):
        DrummerNet.load(foreign)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 this is not a model" * 10)
    with pytest.raises(ModelLoadError, match="not a readable drummernet model"):
        DrummerNet.load(garbage)

    good = tiny_model.save(tmp_path / "good.safetensors")
    data = bytearray(good.read_bytes())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelLoadError):
        DrummerNet.load(truncated)

    # A valid file whose config says one thing and whose weights say another.
    other = DrummerNet(tiny_config(channels=4), kits=synthetic_kit())
    from safetensors.torch import load_file

    state = load_file(str(other.save(tmp_path / "other.safetensors")))
    meta = {
        "format": "drummernet",
        "format_version": "1",
        "config": json.dumps(tiny_model.config.to_dict()),
    }
    mismatched = tmp_path / "mismatched.safetensors"
    save_file(state, str(mismatched), metadata=meta)
    with pytest.raises(ModelLoadError, match="do not match"):
        DrummerNet.load(mismatched, kits=synthetic_kit())

    future = tmp_path / "future.safetensors"
    save_file(state, str(future), metadata={**meta, "format_version": "99"})
    with pytest.raises(ModelLoadError, match="newer"):
        DrummerNet.load(future, kits=synthetic_kit())

    with pytest.raises(ModelLoadError, match="no such"):
        DrummerNet.load(tmp_path / "missing.safetensors")


FIT_ONSETS = {
    0: [0.1, 0.6, 1.1, 1.35],
    1: [0.35, 0.85, 1.6],
    2: [0.1, 0.225, 0.35, 0.475, 0.6, 0.85, 1.1, 1.35, 1.6, 1.85],
}


def _fit_clip(seed: int, steps: int = 400) -> tuple[DrummerNet, torch.Tensor, list[float]]:
    """Fit a fresh small model to a 2 s clip rendered from known onsets; return the losses."""
    torch.manual_seed(seed)
    kit = synthetic_kit()
    # Convolutions only and independent gates, to keep the test fast (about 15 s on 2 cores).
    config = tiny_config(channels=32, depth=3, rnn_hidden=0, component_norm="independent")
    model = DrummerNet(config, kits=kit)
    samples, hop = 2 * SR, 80
    truth = torch.zeros(1, 3, samples // hop)
    for c, times in FIT_ONSETS.items():
        for t in times:
            truth[0, c, round(t * SR / hop)] = 0.8
    with torch.no_grad():
        audio = model.synthesize(truth, samples)
    audio = audio / audio.abs().max() * 0.5
    loss_fn = SpectralLoss(LossConfig(domain="stft"))
    opt = torch.optim.Adam(model.analyzer.parameters(), 3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    losses = []
    for step in range(steps):
        alpha = 1.3 + 0.7 * step / (steps - 1)  # entmax warm-up ending at sparsemax
        recon, _ = model(audio, alpha=alpha)
        loss = loss_fn(recon, audio)
        opt.zero_grad()
        loss.backward()
        # A tight clip: with 1.0 some seeds jump out of a good basin into the all-silent one.
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.3)
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model, audio, losses


@pytest.mark.slow
def test_tiny_model_fits_a_generated_clip():
    """Loss drops 10x and the learned impulses land within 20 ms of the true onsets.

    Fitting one clip from scratch has local minima (a hit split over two neighbouring frames, or
    every gate switched off), so the test makes three random restarts and keeps the one with the
    lowest final loss, as a fitting procedure would (no onsets involved in the choice). Which
    restart wins, and whether it misses a stroke, varies with the CPU's floating point even on
    one thread (an AMD EPYC machine's best fit missed 1 of 17 strokes), so the onsets must be
    found at 90% recall and precision, pooled over the components.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fits = [_fit_clip(seed) for seed in range(3)]
    finally:
        torch.set_num_threads(threads)
    model, audio, losses = min(fits, key=lambda fit: fit[2][-1])
    assert losses[0] / losses[-1] >= 10, (losses[0], losses[-1])

    hop = model.hop_length
    with torch.no_grad():
        act = model.analyze(audio)[0]
    found_true = n_true = true_found = n_found = 0
    for c, times in FIT_ONSETS.items():
        frames = act[c]
        peak = frames.max()
        found = [
            i * hop / SR
            for i in range(len(frames))
            if frames[i] > 0.2 * peak
            and frames[i] >= frames[max(i - 1, 0)]
            and frames[i] >= frames[min(i + 1, len(frames) - 1)]
        ]
        assert found, TINY_COMPONENTS[c]
        found_true += sum(min(abs(t - f) for f in found) <= 0.02 for t in times)
        true_found += sum(min(abs(t - f) for t in times) <= 0.02 for f in found)
        n_true, n_found = n_true + len(times), n_found + len(found)
    assert found_true >= 0.9 * n_true, (found_true, n_true)
    assert true_found >= 0.9 * n_found, (true_found, n_found)


@pytest.mark.parametrize("sr,n_fft,n_mels", [(16000, 1024, 80), (22050, 512, 40)])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels):
    import librosa

    from drummernet.dsp import mel_filterbank

    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=20.0)
    np.testing.assert_allclose(mel_filterbank(sr, n_fft, n_mels, 20.0), expected, atol=1e-6)


@pytest.mark.parametrize("samples", [1, 511, 513, 80 * 256 - 1, 80 * 256 * 2 + 37])
def test_mel_magnitude_matches_the_stft(samples):
    """The block-wise spectrogram is the one-call ``torch.stft`` one, blocks and edges included."""
    from drummernet.dsp import MEL_BLOCK_FRAMES, mel_filterbank, mel_magnitude

    assert MEL_BLOCK_FRAMES == 256  # the lengths above straddle block boundaries
    audio = torch.randn(2, samples, generator=torch.Generator().manual_seed(samples))
    mel = torch.from_numpy(mel_filterbank(16000, 1024, 80, 20.0))
    window = torch.hann_window(1024)
    frames = math.ceil(samples / 80)
    spec = torch.stft(audio, 1024, 80, window=window, center=True, pad_mode="constant",
                      return_complex=True)[..., :frames]  # fmt: skip
    expected = mel @ spec.abs()
    got = mel_magnitude(audio, mel, 1024, 80, window=window)
    assert got.shape == (2, 80, frames)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * expected.max().item())
    with pytest.raises(ValueError, match="frames"):
        mel_magnitude(audio, mel, 1024, 80, frames=samples // 80 + 2, window=window)


def test_kit_norms():
    from drummernet.model.synthesizer import ENERGY_NORM_REFERENCE, normalize_shots

    shots = synthetic_kit() * torch.tensor([[0.3], [2.0], [5.0]])
    peak = normalize_shots(shots, SR, "peak")
    torch.testing.assert_close(peak.abs().amax(-1), torch.ones(3))
    energy = normalize_shots(shots, SR, "energy")
    torch.testing.assert_close(
        energy.norm(dim=-1), torch.full((3,), ENERGY_NORM_REFERENCE * SR**0.5)
    )
    assert (normalize_shots(torch.zeros(2, 10), SR, "energy") == 0).all()
    with pytest.raises(ValueError, match="kit norm"):
        normalize_shots(shots, SR, "loudest")


def test_gate_bias_starts_every_component_quiet():
    torch.manual_seed(0)
    loud = DrummerNet(tiny_config(), kits=synthetic_kit())
    torch.manual_seed(0)
    quiet = DrummerNet(tiny_config(gate_bias=-4.0), kits=synthetic_kit())
    audio = torch.randn(1, SR)
    bias = quiet.analyzer.component_scores.bias
    assert torch.all(bias[:-1] == -4.0) and bias[-1] == loud.analyzer.component_scores.bias[-1]
    with torch.no_grad():
        ratio = quiet.analyze(audio).sum() / loud.analyze(audio).sum()
    assert 0.01 < ratio < 0.1  # sigmoid(-4) / sigmoid(0) is about 0.036, weights aside


def test_class_shot_seconds_cuts_only_the_named_classes():
    from drummernet.model.synthesizer import load_kit_tensor

    kit = DrumKit(
        "long", SR, {c: np.full(SR, 0.5, dtype=np.float32) for c in ("KD", "CY_CRC", "CY_RDC")}
    )
    components = ("KD", "CY_CRC", "CY_RDC")
    full = load_kit_tensor(kit, components, SR, 1.0)
    cut = load_kit_tensor(kit, components, SR, 1.0, class_seconds={"CY": 0.25, "CY_RDC": 0.5})
    assert torch.equal(cut[0, 0], full[0, 0])  # the kick is untouched
    assert cut.shape == full.shape
    assert torch.count_nonzero(cut[0, 1]) < 0.25 * SR <= torch.count_nonzero(cut[0, 1]) + 2
    assert torch.count_nonzero(cut[0, 2]) < 0.5 * SR  # a code's own entry beats its class's
    assert torch.all(cut[0, 1, int(0.25 * SR) :] == 0)
    with pytest.raises(ValueError, match="class_shot_seconds"):
        ModelConfig(class_shot_seconds={"CY": 2.0})
