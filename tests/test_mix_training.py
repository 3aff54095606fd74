"""Tests of training on full mixes: synthetic crops with a procedural band in the input and the
drums as the target (``SyntheticStems(accompaniment=...)``, ``TrainConfig.accompaniment``), and
``transcribe(mix_model=...)``, which reads mixes with a model of their own."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import torch
from conftest import SR, drum_loop, synthetic_kit, tiny_config

from drummernet.constants import COMPONENTS, GM_NOTES
from drummernet.errors import ConfigError
from drummernet.model.network import DrummerNet
from drummernet.training import stems as stems_module
from drummernet.training.config import TrainConfig, resolve_config
from drummernet.training.stems import SyntheticStems
from drummernet.training.unlabeled import TrainingClips
from drummernet.transcription.inference import transcribe


class FakeKit:
    """A kit with a decaying tone per component (the attributes ``prepare_kit`` reads)."""

    def __init__(self, name: str = "fake", sr: int = SR) -> None:
        t = np.arange(int(0.3 * sr)) / sr
        self.name, self.sr = name, sr
        self.samples = {
            code: (np.sin(2 * np.pi * (60 + 90 * i) * t) * np.exp(-t / 0.08)).astype(np.float32)
            for i, code in enumerate(COMPONENTS)
        }


def rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


def items(**options) -> list[torch.Tensor]:
    stream = SyntheticStems([FakeKit()], clip_seconds=0.5, seed=3, **options)
    return [stream.example(i) for i in range(6)]


def test_band_goes_into_the_input_and_the_dry_drums_stay_the_target():
    plain = items(clean_target=True)
    mixed = items(clean_target=True, accompaniment=1.0)
    for alone, mix in zip(plain, mixed, strict=True):
        assert mix.shape == (2, SR // 2) and torch.isfinite(mix).all()
        # The same drums, dry, at the loudness they have inside the mix.
        target = mix[1] * (rms(alone[1]) / rms(mix[1]))
        torch.testing.assert_close(target, alone[1], atol=1e-5, rtol=1e-4)
        assert rms(mix[1]) < rms(mix[0])
        assert not torch.allclose(mix[0], alone[0] * (rms(mix[0]) / rms(alone[0])), atol=1e-2)
    # Deterministic per item.
    torch.testing.assert_close(items(clean_target=True, accompaniment=1.0)[2], mixed[2])


@pytest.mark.parametrize("low, high", [(3.0, 3.0), (-6.0, 10.0)])
def test_band_level_is_drawn_from_the_range(low, high):
    # Without clean_target the target is the augmented drums, so input - target is the band.
    levels = []
    for item in items(accompaniment=1.0, accompaniment_db=(low, high)):
        band, drums = item[0] - item[1], item[1]
        levels.append(20 * np.log10(rms(band) / rms(drums)))
    assert low - 0.05 <= min(levels) and max(levels) <= high + 0.05
    if low < high:
        assert max(levels) - min(levels) > 1.0


def test_probability_decides_how_many_crops_get_a_band():
    none = items(accompaniment=0.0, clean_target=True)
    some = [
        SyntheticStems([FakeKit()], clip_seconds=0.5, seed=3, accompaniment=0.5).example(i)
        for i in range(40)
    ]
    assert all(item.shape == (2, SR // 2) for item in none + some)
    with_band = sum(not torch.allclose(item[0], item[1], atol=1e-6) for item in some)
    assert 8 <= with_band <= 32
    # A stream of pairs makes every item of the training mix a pair; unlabeled audio is its own
    # target.
    stream = SyntheticStems([FakeKit()], clip_seconds=0.5, seed=3, accompaniment=1.0)

    class Loops:
        def example(self, index):
            return torch.full((SR // 2,), 0.1)

    clips = [TrainingClips([stream, Loops()], seed=0)[i] for i in range(8)]
    assert all(clip.shape == (2, SR // 2) for clip in clips)
    assert any(torch.equal(clip[0], clip[1]) for clip in clips)


def test_band_follows_a_midi_files_tempo(tmp_path, monkeypatch):
    midi = pretty_midi.PrettyMIDI(initial_tempo=150.0)
    drums = pretty_midi.Instrument(0, is_drum=True)
    for k in range(16):
        time = k * 0.4  # quarter notes at 150 bpm
        drums.notes.append(pretty_midi.Note(100, GM_NOTES["KD"], time, time + 0.1))
    midi.instruments.append(drums)
    midi.write(str(tmp_path / "groove.mid"))
    calls = []
    real = stems_module.accompaniment_notes

    def spy(rng, duration, tempo=120.0, offset=0.0):
        calls.append((tempo, offset))
        return real(rng, duration, tempo, offset)

    monkeypatch.setattr(stems_module, "accompaniment_notes", spy)
    stream = SyntheticStems(
        [FakeKit()], [tmp_path / "groove.mid"], clip_seconds=0.5, seed=1, accompaniment=1.0,
        return_labels=True,
    )  # fmt: skip
    lead = stems_module.ACCOMPANIMENT_LEAD_SECONDS
    for i in range(3):
        _, labels = stream.example(i)
        tempo, offset = calls[-1]
        assert tempo == pytest.approx(150.0) and len(labels) > 0
        # The band's downbeat (the file's time 0 seen from the crop) is on the kicks' grid.
        phase = (labels.times - (offset - lead)) / 0.4
        np.testing.assert_allclose(phase, np.round(phase), atol=1e-6)
        assert offset - lead <= 0.0
    # Procedural grooves carry no tempo: a random one within the range.
    calls.clear()
    SyntheticStems([FakeKit()], clip_seconds=0.5, seed=1, accompaniment=1.0).example(0)
    low, high = stems_module.ACCOMPANIMENT_TEMPO_RANGE
    assert len(calls) == 1 and low <= calls[0][0] <= high


@pytest.mark.parametrize(
    "options",
    [
        {"accompaniment": 1.5},
        {"accompaniment": -0.1},
        {"accompaniment_db": (10.0, -6.0)},
        {"accompaniment_db": (0.0, float("inf"))},
    ],
)
def test_invalid_settings_are_refused(options):
    with pytest.raises(ValueError, match="accompaniment"):
        SyntheticStems([FakeKit()], clip_seconds=0.5, **options)
    with pytest.raises(ConfigError, match="accompaniment"):
        TrainConfig.from_dict(dict(options))


def test_config_layers_and_the_ablation_file():
    assert TrainConfig().accompaniment == 0.0
    config = resolve_config(
        ["experiments/configs/ablations/mix_accompaniment.json"],
        ["accompaniment_db=[-3,6]"],
    )
    assert config.clean_target and 0.0 < config.accompaniment <= 1.0
    assert config.accompaniment_db == (-3.0, 6.0)
    with pytest.raises(ConfigError, match="accompaniment_db"):
        resolve_config(overrides=["accompaniment_db=[1,2,3]"])


def test_mix_model_reads_only_what_is_taken_for_a_mix(tiny_model):
    torch.manual_seed(1)
    other = DrummerNet(tiny_config(), kits=synthetic_kit())
    audio, _ = drum_loop(3.0)
    for source in ("drums", "mix"):
        expected = transcribe(audio, SR, model=other if source == "mix" else tiny_model,
                              source=source)  # fmt: skip
        result = transcribe(audio, SR, model=tiny_model, mix_model=other, source=source)
        np.testing.assert_array_equal(result.activations, expected.activations)
    assert not np.array_equal(
        transcribe(audio, SR, model=tiny_model, source="mix").activations,
        transcribe(audio, SR, model=other, source="mix").activations,
    )
