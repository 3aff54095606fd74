"""Tests of the synthetic training data: performances, procedural grooves, rendering and the
stream of stems (drummernet.training.performances, grooves, render, augment, stems)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

from drummernet.constants import (
    COMPONENTS,
    GM_NOTES,
    GM_TO_RENDERED_COMPONENT,
    GM_TO_VOICE,
    VOICE_CODES,
    VOICES,
)
from drummernet.training import augment, grooves
from drummernet.training import render as render_module
from drummernet.training.grooves import PROCEDURAL_STYLES, procedural_groove
from drummernet.training.performances import Performance, groove_midi_files, read_drum_midi
from drummernet.training.render import prepare_kit, render
from drummernet.training.stems import (
    DEFAULT_TARGET_DBFS,
    LabelledStems,
    SyntheticStems,
    collate_with_labels,
    onset_targets,
)

SR = 16000
IDX = {code: i for i, code in enumerate(COMPONENTS)}
HATS = {IDX["HH_CHH"], IDX["HH_PHH"], IDX["HH_OHH"]}


@dataclass
class FakeKit:
    """Stands in for drummernet.model.kits.DrumKit: the same three attributes."""

    name: str
    sr: int
    samples: dict[str, np.ndarray]


def make_kit(name: str = "fake", seed: int = 0, sr: int = SR) -> FakeKit:
    """A kit of synthetic one-shots: a decaying tone plus noise per component, unit peak."""
    rng = np.random.default_rng(seed)
    samples = {}
    for i, code in enumerate(COMPONENTS):
        seconds = {"CY_CRC": 1.5, "CY_RDC": 1.0, "HH_OHH": 0.6}.get(code, 0.3)
        t = np.arange(int(seconds * sr)) / sr
        shot = np.sin(2 * np.pi * (60 + 80 * i + 10 * seed) * t) + i / 10 * rng.standard_normal(
            len(t)
        )
        shot *= np.exp(-t / (seconds / 6))
        samples[code] = (shot / np.abs(shot).max()).astype(np.float32)
    return FakeKit(name, sr, samples)


@pytest.fixture(scope="module")
def kits() -> list[FakeKit]:
    return [make_kit("a", 0), make_kit("b", 1)]


def data_root() -> Path:
    """Shared data: $DRUMMERNET_DATA, else ../shared/data beside the repository."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("DRUMMERNET_DATA", default))


def write_drum_midi(path: Path, notes: list[tuple[int, float, int]], extra_end: float = 0.0):
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    for pitch, start, velocity in notes:
        drums.notes.append(pretty_midi.Note(velocity, pitch, start, start + 0.05))
    piano = pretty_midi.Instrument(program=0)  # not drums: must be ignored
    piano.notes.append(pretty_midi.Note(100, 36, 0.0, 0.5 + extra_end))
    midi.instruments += [drums, piano]
    midi.write(str(path))


# -- performances and MIDI -------------------------------------------------------------------


def test_read_drum_midi_maps_roland_notes(tmp_path):
    notes = [
        (36, 0.0, 100),  # KD
        (40, 0.1, 90),  # SD rim
        (22, 0.2, 80),  # closed hat edge
        (44, 0.3, 70),  # pedal hat
        (26, 0.4, 60),  # open hat edge
        (48, 0.5, 50),  # tom 1 -> high tom
        (45, 0.6, 40),  # tom 2 -> mid tom
        (58, 0.7, 30),  # tom 3 rim -> floor tom
        (53, 0.8, 20),  # ride bell
        (52, 0.9, 10),  # china -> crash
        (54, 1.0, 5),  # tambourine
        (81, 1.1, 99),  # open triangle: unknown, dropped
    ]
    write_drum_midi(tmp_path / "d.mid", notes, extra_end=1.5)
    perf = read_drum_midi(tmp_path / "d.mid")
    expected = ["KD", "SD", "HH_CHH", "HH_PHH", "HH_OHH", "TT_HIT", "TT_MHT", "TT_HFT"]
    expected += ["CY_RDC", "CY_CRC", "OT_TMB"]
    assert [COMPONENTS[c] for c in perf.components] == expected
    np.testing.assert_allclose(perf.times, np.arange(11) / 10, atol=1e-3)
    assert perf.velocities.tolist() == [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5]
    assert perf.duration == pytest.approx(2.0, abs=1e-3)  # the piano note ends last


def test_read_drum_midi_keeps_the_voice_of_each_note(tmp_path):
    notes = [(38, 0.0, 100), (37, 0.1, 90), (40, 0.2, 80), (52, 0.3, 70), (49, 0.4, 60)]
    write_drum_midi(tmp_path / "v.mid", notes)
    perf = read_drum_midi(tmp_path / "v.mid")
    assert [COMPONENTS[c] for c in perf.components] == ["SD", "SD", "SD", "CY_CRC", "CY_CRC"]
    assert [VOICE_CODES[v] for v in perf.voices] == ["SD", "SD_XS", "SD_RIM", "CY_CHN", "CY_CRC"]
    cropped = perf.crop(0.05, 0.35)  # voices travel with their hits
    assert [VOICE_CODES[v] for v in cropped.voices] == ["SD_XS", "SD_RIM", "CY_CHN"]


def test_performance_voices_default_to_the_components_and_are_checked():
    perf = Performance(np.array([0.2, 0.1]), np.array([IDX["SD"], IDX["KD"]]), [90, 80], 1.0)
    assert perf.voices.tolist() == [IDX["KD"], IDX["SD"]]  # sorted with the hits
    with pytest.raises(ValueError, match="voice indices"):
        Performance(np.array([0.1]), np.array([IDX["SD"]]), [90], 1.0, np.array([99]))
    with pytest.raises(ValueError, match="same length"):
        Performance(np.array([0.1]), np.array([IDX["SD"]]), [90], 1.0, np.array([1, 1]))


def test_render_plays_a_hit_with_its_voice_where_the_kit_has_it():
    kit = make_kit()
    click = np.zeros(800, np.float32)
    click[:40] = np.hanning(40)  # a side stick: a short click, unlike the fake snare
    with_voice = FakeKit("v", SR, {**kit.samples, "SD_XS": click})
    perf = Performance(
        np.array([0.1, 0.5]), np.array([IDX["SD"]] * 2), [127, 127], 1.0,
        np.array([VOICE_CODES.index("SD_XS"), IDX["SD"]]),
    )  # fmt: skip
    audio = render(perf, [with_voice], np.random.default_rng(0), augment=False)
    start, second = int(0.1 * SR), int(0.5 * SR)
    np.testing.assert_allclose(audio[start : start + 800], click, atol=1e-6)
    shot = kit.samples["SD"]
    np.testing.assert_allclose(audio[second : second + 1000], shot[:1000], atol=2e-3)
    # A kit without the voice plays the component's main one-shot.
    plain = render(perf, [kit], np.random.default_rng(0), augment=False)
    np.testing.assert_allclose(plain[start : start + 1000], shot[:1000], atol=2e-3)


def test_general_midi_notes_of_every_voice_map_back():
    for code, (component, note) in VOICES.items():
        assert GM_TO_RENDERED_COMPONENT[note] == component
        assert GM_TO_VOICE[note] == code


def test_general_midi_notes_of_every_component_map_back():
    for code, note in GM_NOTES.items():
        assert GM_TO_RENDERED_COMPONENT[note] == code


def test_performance_crop_shifts_times_and_sorts():
    perf = Performance(np.array([0.5, 0.1, 1.2]), np.array([1, 0, 2]), np.array([10, 20, 300]), 2)
    assert perf.times.tolist() == [0.1, 0.5, 1.2]
    assert perf.velocities.tolist() == [20, 10, 127]  # clipped to the MIDI range
    crop = perf.crop(0.4, 1.4)
    np.testing.assert_allclose(crop.times, [0.1, 0.8])
    assert crop.components.tolist() == [1, 2]
    assert crop.duration == pytest.approx(1.0)
    with pytest.raises(ValueError):
        Performance(np.zeros(1), np.array([len(COMPONENTS)]), np.ones(1), 1.0)


def test_groove_midi_files_reads_info_csv(tmp_path):
    groove = tmp_path / "groove"
    groove.mkdir()
    (groove / "info.csv").write_text(
        "drummer,midi_filename,duration,beat_type,split\n"
        "d1,d1/a.mid,10.0,beat,train\n"
        "d1,d1/b.mid,3.0,fill,train\n"
        "d2,d2/c.mid,12.0,beat,test\n"
    )
    assert groove_midi_files(groove) == [groove / "d1/a.mid", groove / "d1/b.mid"]
    assert groove_midi_files(tmp_path, split="test") == [groove / "d2/c.mid"]  # parent works
    assert groove_midi_files(groove, split=None, beat_type="beat") == [
        groove / "d1/a.mid",
        groove / "d2/c.mid",
    ]
    with pytest.raises(ValueError):
        groove_midi_files(groove, split="dev")
    with pytest.raises(FileNotFoundError):
        groove_midi_files(tmp_path / "missing")


def test_groove_midi_dataset_if_present():
    root = data_root() / "gmd" / "groove"
    if not (root / "info.csv").exists():
        pytest.skip(f"Groove MIDI Dataset not found at {root}")
    train = groove_midi_files(root, split="train")
    assert len(train) > 100 and all(p.suffix == ".mid" for p in train)
    perf = read_drum_midi(train[0])
    assert len(perf) > 10 and {IDX["KD"], IDX["SD"]} <= set(perf.components.tolist())
    assert perf.times.max() < perf.duration + 1e-6


# -- procedural grooves -----------------------------------------------------------------------


@pytest.mark.parametrize("style", PROCEDURAL_STYLES)
def test_procedural_groove_has_kick_snare_and_hats(style):
    for seed in range(3):
        perf = procedural_groove(np.random.default_rng(seed), 8.0, style=style)
        present = set(perf.components.tolist())
        assert IDX["KD"] in present and IDX["SD"] in present and present & HATS
        assert perf.duration == 8.0
        assert perf.times.min() >= 0.0 and perf.times.max() < 8.0
        assert np.all(np.diff(perf.times) >= 0)
        assert perf.velocities.min() >= 1 and perf.velocities.max() <= 127


def test_procedural_groove_keeps_tempo_within_jitter():
    perf = procedural_groove(np.random.default_rng(3), 10.0, style="four_on_the_floor", tempo=120)
    kicks = perf.times[perf.components == IDX["KD"]]
    # Four on the floor: one kick per beat, each at most 10 ms off the grid.
    np.testing.assert_allclose(np.diff(kicks), 0.5, atol=2 * grooves.DEFAULT_MAX_JITTER)


def test_procedural_groove_is_reproducible_and_varied():
    a = procedural_groove(np.random.default_rng(7), 6.0)
    b = procedural_groove(np.random.default_rng(7), 6.0)
    c = procedural_groove(np.random.default_rng(8), 6.0)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.components, b.components)
    assert len(a) != len(c) or not np.array_equal(a.times, c.times)
    styles = {str(np.random.default_rng(s).choice(PROCEDURAL_STYLES)) for s in range(40)}
    assert styles == set(PROCEDURAL_STYLES)
    with pytest.raises(ValueError):
        procedural_groove(np.random.default_rng(0), 1.0, style="polka")


# -- rendering --------------------------------------------------------------------------------


def placed(kit: FakeKit, perf: Performance, n: int) -> np.ndarray:
    """The plain rendering, written out: each one-shot scaled by (v/127)**2 at its sample."""
    out = np.zeros(n, np.float64)
    for t, c, v in zip(perf.times, perf.components, perf.velocities, strict=True):
        start = round(t * SR)
        shot = kit.samples[COMPONENTS[c]][: n - start]
        out[start : start + len(shot)] += (v / 127) ** 2 * shot
    return out


def test_render_without_augment_is_the_sum_of_placed_one_shots():
    kit = make_kit()
    perf = Performance(
        np.array([0.1, 0.5, 0.9, 1.25]),
        np.array([IDX["KD"], IDX["SD"], IDX["HH_CHH"], IDX["CY_CRC"]]),
        np.array([100, 64, 90, 127]),
        2.0,
    )
    audio = render(perf, [kit], np.random.default_rng(0), augment=False)
    assert audio.shape == (2 * SR,) and audio.dtype == np.float32
    # Trimmed one-shot tails are below -60 dB, hence the tolerance.
    np.testing.assert_allclose(audio, placed(kit, perf, 2 * SR), atol=2e-3)
    assert np.all(audio[: int(0.1 * SR)] == 0)  # nothing before the first hit


def test_render_chokes_an_open_hat_at_the_next_closed_hat():
    kit = make_kit()
    perf = Performance(np.array([0.1, 0.3]), np.array([IDX["HH_OHH"], IDX["HH_CHH"]]), [127] * 2, 1)
    audio = render(perf, [kit], np.random.default_rng(0), augment=False)
    after = int((0.3 + render_module.CHOKE_FADE_SECONDS) * SR) + 1
    only_closed = placed(kit, perf.select([IDX["HH_CHH"]]), SR)
    np.testing.assert_allclose(audio[after:], only_closed[after:], atol=1e-3)  # trimmed tails
    ringing = placed(kit, perf, SR)  # without the choke the open hat would still sound there
    assert np.abs(ringing[after:] - only_closed[after:]).max() > 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_augmented_render_puts_energy_at_hit_times(kits, seed):
    hits = np.array([0.25, 1.0, 1.75])
    perf = Performance(hits, [IDX["KD"]] * 3, [110] * 3, 2.5)
    audio = render(perf, kits, np.random.default_rng(seed))
    assert audio.shape == (int(2.5 * SR),) and np.isfinite(audio).all()
    assert np.abs(audio).max() <= 1.0
    window = int(0.05 * SR)
    for t in hits:
        start = int(t * SR)
        after = np.mean(audio[start : start + window] ** 2)
        before = np.mean(audio[start - window : start] ** 2)
        assert after > 10 * before


def test_render_same_seed_same_audio_different_seed_differs(kits):
    perf = procedural_groove(np.random.default_rng(0), 3.0)
    a = render(perf, kits, np.random.default_rng(5))
    b = render(perf, kits, np.random.default_rng(5))
    c = render(perf, kits, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_render_leaves_components_no_kit_has_silent():
    kit = make_kit()
    kit = FakeKit("kick only", SR, {"KD": kit.samples["KD"]})
    perf = Performance(np.array([0.1]), np.array([IDX["SD"]]), np.array([100]), 0.5)
    assert not render(perf, [kit], np.random.default_rng(0)).any()


def test_render_resamples_kits_at_another_rate():
    kit = make_kit(sr=44100)
    perf = Performance(np.array([0.1]), np.array([IDX["KD"]]), np.array([127]), 0.5)
    audio = render(perf, [kit], np.random.default_rng(0), augment=False)
    assert audio.shape == (SR // 2,)
    assert np.abs(audio).max() == pytest.approx(1.0, abs=0.05)


# -- dataset ----------------------------------------------------------------------------------


def take(dataset: SyntheticStems, n: int) -> list:
    return list(itertools.islice(iter(dataset), n))


def test_dataset_yields_normalised_clips(kits):
    clips = take(SyntheticStems(kits, clip_seconds=0.5, seed=0), 6)
    for audio in clips:
        assert isinstance(audio, torch.Tensor) and audio.dtype == torch.float32
        assert audio.shape == (SR // 2,) and torch.isfinite(audio).all()
        assert audio.abs().max() <= 1.0
        rms_db = 20 * torch.log10(audio.pow(2).mean().sqrt())
        # -20 dBFS, or quieter where reaching it would have clipped.
        assert -30.0 < rms_db <= DEFAULT_TARGET_DBFS + 0.01
    levels = torch.stack([20 * torch.log10(a.pow(2).mean().sqrt()) for a in clips])
    assert int(((levels - DEFAULT_TARGET_DBFS).abs() < 0.01).sum()) >= 3


def test_dataset_same_seed_same_stream(kits):
    a = take(SyntheticStems(kits, clip_seconds=0.25, seed=3), 3)
    b = take(SyntheticStems(kits, clip_seconds=0.25, seed=3), 3)
    c = take(SyntheticStems(kits, clip_seconds=0.25, seed=4), 3)
    d = take(SyntheticStems(kits, clip_seconds=0.25, seed=3, rank=1, world_size=2), 3)
    epoch = SyntheticStems(kits, clip_seconds=0.25, seed=3)
    epoch.set_epoch(1)
    e = take(epoch, 3)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    for other in (c, d, e):
        assert not torch.equal(a[0], other[0])


def test_dataset_labels_only_when_asked(kits):
    (audio,) = take(SyntheticStems(kits, clip_seconds=0.5), 1)
    assert isinstance(audio, torch.Tensor)
    dataset = SyntheticStems(kits, clip_seconds=0.5, return_labels=True, clips_per_epoch=4)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_with_labels)
    batches = list(loader)
    assert len(batches) == 2 and len(dataset) == 4
    audio, labels = batches[0]
    assert audio.shape == (2, SR // 2) and len(labels) == 2
    for perf in labels:
        assert isinstance(perf, Performance) and perf.duration == pytest.approx(0.5)
        assert len(perf) == 0 or (perf.times.min() >= 0 and perf.times.max() < 0.5)


def test_dataset_crops_midi_files(kits, tmp_path):
    notes = [(36, t, 100) for t in np.arange(0.0, 20.0, 0.5)]
    notes += [(38, t + 0.25, 90) for t in np.arange(0.0, 20.0, 1.0)]
    write_drum_midi(tmp_path / "long.mid", notes)
    dataset = SyntheticStems(
        kits,
        midi_files=[tmp_path / "long.mid"],
        clip_seconds=1.0,
        augment=False,
        return_labels=True,
    )
    for audio, perf in take(dataset, 4):
        assert audio.shape == (SR,) and torch.isfinite(audio).all()
        # A kick every 0.5 s, so each 1 s crop holds two kicks and one snare.
        assert np.bincount(perf.components, minlength=2)[:2].tolist() == [2, 1]
        onset = round(perf.times[0] * SR)
        assert (
            audio[onset : onset + 400].abs().max()
            > 5 * audio[max(onset - 400, 0) : onset].abs().max()
        )


def test_dataset_stream_is_the_same_for_any_number_of_workers(kits):
    def run(workers: int) -> list[torch.Tensor]:
        dataset = SyntheticStems(kits, clip_seconds=0.25, clips_per_epoch=5)
        return list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers))

    single, parallel = run(0), run(2)
    assert len(single) == len(parallel) == 5
    assert all(torch.equal(x, y) for x, y in zip(single, parallel, strict=True))
    assert not torch.equal(parallel[0], parallel[1])  # worker 0 and worker 1 differ


def test_dataset_with_built_in_kits_if_available():
    kits_module = pytest.importorskip("drummernet.model.kits")
    names = kits_module.list_kits()
    if not names:
        pytest.skip("no built-in kits")
    (audio,) = take(SyntheticStems(names[:2], clip_seconds=0.5), 1)
    assert audio.shape == (SR // 2,) and torch.isfinite(audio).all()


# -- onset targets (the supervised reference point) -----------------------------------------


def test_onset_targets_mark_the_frame_and_row_of_each_hit():
    perf = Performance(
        np.array([0.1, 0.104, 0.5, 0.7, 5.0]),
        np.array([IDX["KD"], IDX["HH_CHH"], IDX["SD"], IDX["TT_HIT"], IDX["KD"]]),
        np.array([100] * 5),
        1.0,
    )
    # Analyzer order differs from COMPONENTS; TT_HIT is not an output, the hit at 5 s is past
    # the frames: both are dropped.
    targets = onset_targets(perf, ("SD", "KD", "HH_CHH"), frames=200, frame_rate=200.0)
    assert targets.shape == (3, 200) and targets.dtype == torch.float32
    assert targets.nonzero().tolist() == [[0, 100], [1, 20], [2, 21]]  # 0.104 s -> frame 20.8


def test_labelled_stems_targets_sit_on_the_rendered_hits(kits):
    stems = SyntheticStems(kits, clip_seconds=1.0, seed=2, augment=False)
    hop = 80
    labelled = LabelledStems(stems, COMPONENTS, hop)
    audio, targets = labelled.example(0)
    plain = SyntheticStems(kits, clip_seconds=1.0, seed=2, augment=False).example(0)
    assert torch.equal(audio, plain)  # labels change nothing of the audio
    assert targets.shape == (len(COMPONENTS), SR // hop) and targets.sum() > 0
    onsets = targets.amax(dim=0).nonzero().flatten()
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop).pow(2).sum(-1)
    for f in onsets.tolist():
        if 1 <= f < len(frames) - 1:  # the hit frame (or the next) is louder than the one before
            assert frames[f : f + 2].max() > frames[f - 1]


def test_synthetic_stems_load_extra_voices_only_when_asked():
    plain = prepare_kit("fluidr3_standard", SR)
    voiced = prepare_kit("fluidr3_standard", SR, voices=True)
    side_stick = VOICE_CODES.index("SD_XS")
    assert side_stick not in plain.shots and side_stick in voiced.shots
    assert set(plain.shots) == set(range(len(COMPONENTS)))


# -- denoising targets -------------------------------------------------------------------------


def test_dry_mix_is_the_placed_one_shots_and_the_input_is_unchanged(kits):
    perf = procedural_groove(np.random.default_rng(1), 2.0)
    plain = render(perf, kits, np.random.default_rng(4), augment=False)
    again, dry = render(perf, kits, np.random.default_rng(4), augment=False, return_dry=True)
    np.testing.assert_allclose(dry / max(1.0, np.abs(dry).max()), plain, atol=1e-6)
    np.testing.assert_allclose(again, plain, atol=1e-6)
    # Asking for the dry mix draws nothing more: the augmented input is the usual one.
    augmented = render(perf, kits, np.random.default_rng(4))
    same, dry = render(perf, kits, np.random.default_rng(4), return_dry=True)
    np.testing.assert_allclose(same, augmented, atol=1e-6)
    assert not np.allclose(dry / np.abs(dry).max(), same / np.abs(same).max(), atol=1e-2)


def test_dry_mix_has_no_room_tail(kits, monkeypatch):
    monkeypatch.setattr(augment, "REVERB_PROBABILITY", 1.0)
    monkeypatch.setattr(augment, "REVERB_WET_RANGE", (0.5, 0.5))
    monkeypatch.setattr(augment, "REVERB_RT60_RANGE", (1.0, 1.0))
    monkeypatch.setattr(augment, "NOISE_PROBABILITY", 0.0)
    perf = Performance(np.array([0.1]), np.array([IDX["KD"]]), np.array([120]), 2.0)
    audio, dry = render(perf, kits, np.random.default_rng(0), return_dry=True)
    late = slice(int(0.5 * SR), int(0.9 * SR))  # the 0.3 s kick is over; the room still rings
    assert np.abs(dry[late]).max() < 1e-4 < np.abs(audio[late]).max()


def test_stem_eq_filters_each_drum_of_the_input_only(kits):
    perf = procedural_groove(np.random.default_rng(2), 2.0)
    for seed in range(3):
        eq, dry = render(perf, kits, np.random.default_rng(seed), stem_eq=True, return_dry=True)
        same = render(perf, kits, np.random.default_rng(seed), stem_eq=True)
        np.testing.assert_allclose(same, eq, atol=1e-6)
        assert np.isfinite(eq).all() and np.abs(eq).max() <= 1.0 and np.abs(dry).max() > 0
    # Without augmentation there is no per-drum EQ either.
    plain = render(perf, kits, np.random.default_rng(0), augment=False)
    np.testing.assert_array_equal(
        render(perf, kits, np.random.default_rng(0), augment=False, stem_eq=True), plain
    )


def test_clean_target_items_pair_the_input_with_its_dry_mix_at_one_loudness(kits):
    plain = take(SyntheticStems(kits, clip_seconds=0.5, seed=2), 4)
    pairs = take(SyntheticStems(kits, clip_seconds=0.5, seed=2, clean_target=True), 4)
    for audio, pair in zip(plain, pairs, strict=True):
        assert pair.shape == (2, SR // 2) and pair.dtype == torch.float32
        torch.testing.assert_close(pair[0], audio, atol=1e-6, rtol=0)
        rms = pair.pow(2).mean(dim=1).sqrt()
        torch.testing.assert_close(rms[1], rms[0], rtol=1e-4, atol=0)
        assert not torch.allclose(pair[0], pair[1], atol=1e-3)
    # In a mix with unlabeled audio, that audio is its own target.
    from drummernet.training.unlabeled import TrainingClips

    class Loops:
        def example(self, index):
            return torch.full((SR // 2,), 0.1)

    stream = SyntheticStems(kits, clip_seconds=0.5, seed=2, clean_target=True)
    items = [TrainingClips([stream, Loops()], seed=0)[i] for i in range(8)]
    assert all(item.shape == (2, SR // 2) for item in items)
    assert any(torch.equal(item[0], item[1]) for item in items)
    assert any(not torch.equal(item[0], item[1]) for item in items)


def test_drum_notes_are_the_performance_as_general_midi():
    from drummernet.constants import GM_NOTES
    from drummernet.midi import DrumNote

    kd, crash = COMPONENTS.index("KD"), COMPONENTS.index("CY_CRC")
    perf = Performance([0.5, 1.25], [kd, crash], [100, 64], 2.0)
    assert perf.drum_notes() == [
        DrumNote(0.5, GM_NOTES["KD"], 100),
        DrumNote(1.25, GM_NOTES["CY_CRC"], 64),
    ]


def test_balance_scales_each_drum_by_its_own_level(kits):
    perf = procedural_groove(np.random.default_rng(3), 2.0)
    code = COMPONENTS[int(np.bincount(perf.components).argmax())]  # the most played drum
    hats = perf.select([COMPONENTS.index(code)])
    plain = render(hats, kits, np.random.default_rng(0), augment=False)
    quiet = render(hats, kits, np.random.default_rng(0), augment=False, balance_db={code: -20})
    np.testing.assert_allclose(quiet, 0.1 * plain, atol=1e-6)
    # Another drum's level leaves the hats alone; with augmentation the draws stay the same.
    other = render(
        hats,
        kits,
        np.random.default_rng(0),
        augment=False,
        balance_db={c: -20 for c in COMPONENTS if c != code},
    )
    np.testing.assert_array_equal(other, plain)
    loud = render(hats, kits, np.random.default_rng(5), balance_db={code: 0.0})
    np.testing.assert_allclose(loud, render(hats, kits, np.random.default_rng(5)), atol=1e-6)


def test_natural_balance_stems_lower_the_hats_under_the_snare(kits):
    plain = take(SyntheticStems(kits, clip_seconds=1.0, seed=4), 6)
    natural = take(SyntheticStems(kits, clip_seconds=1.0, seed=4, natural_balance=True), 6)
    assert all(torch.isfinite(x).all() for x in natural)
    assert any(not torch.allclose(a, b, atol=1e-3) for a, b in zip(plain, natural, strict=True))
