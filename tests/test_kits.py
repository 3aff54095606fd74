"""Tests of the drum-kit library (drum_components/) and its API (drummernet.kits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from drummernet.constants import COMPONENTS, GM_NOTES, VOICE_CODES, VOICES
from drummernet.model.kits import (
    ALIASES,
    KIT_DIR,
    DrumKit,
    KitError,
    component_for_name,
    list_kits,
    load_manifest,
)
from tools.render_kits import (
    EXAMPLE_SECONDS,
    LONG_COMPONENTS,
    PEAK_LEVEL,
    RENDER_SR,
    example_score,
    make_one_shot,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "drummernet" / "data"

#: One file name per component: aliases in various spellings, and one code in odd case.
ALIAS_FILES = {
    "KD": "kick.wav",
    "SD": "Snare.flac",
    "HH_CHH": "Closed-Hat.wav",
    "HH_PHH": "hihat_pedal.wav",
    "HH_OHH": "OPEN_HAT.wav",
    "TT_HIT": "tom_high.wav",
    "TT_MHT": "tom mid.ogg",
    "TT_HFT": "tt_HFt.wav",
    "CY_RDC": "ride.aiff",
    "CY_CRC": "crash.wav",
    "OT_TMB": "tambourine.flac",
}


def one_shot(sr: int = 44100, seconds: float = 0.2, lead: float = 0.0, seed: int = 0) -> np.ndarray:
    """A decaying noise burst after ``lead`` seconds of silence, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    hit = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * sr))
    hit *= 0.5 / np.abs(hit).max()
    return np.concatenate([np.zeros(int(lead * sr)), hit]).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = 44100) -> Path:
    sf.write(path, audio, sr)
    return path


@pytest.fixture
def alias_folder(tmp_path: Path) -> Path:
    """A user kit: all 11 components named by aliases, with leading silence, plus a stray file."""
    for i, name in enumerate(ALIAS_FILES.values()):
        write(tmp_path / name, one_shot(lead=0.05, seed=i))
    (tmp_path / "README.txt").write_text("not audio")
    (tmp_path / "unrelated.wav").write_bytes(b"")  # unknown names are ignored, even broken ones
    return tmp_path


# ---------------------------------------------------------------------------------------------
# Built-in kits


def test_list_kits_has_at_least_six_names():
    names = list_kits()
    assert len(names) >= 6
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", list_kits())
def test_builtin_kit_loads_all_components_non_silent(name):
    kit = DrumKit.load(name)
    assert kit.sr == 16000
    assert kit.components == COMPONENTS
    for code, audio in kit.samples.items():
        assert audio.dtype == np.float32 and audio.ndim == 1, code
        assert np.isclose(np.abs(audio).max(), 1.0, atol=1e-3), code  # normalised
        assert np.sqrt(np.mean(audio**2)) > 0.01, f"{name}/{code} is nearly silent"
        assert np.abs(audio[0]) >= 0.01, f"{name}/{code} does not start with its attack"
        max_seconds = 1.5 if code in LONG_COMPONENTS else 1.0
        assert len(audio) <= max_seconds * 16000 + 2, code


def test_builtin_kits_are_different():
    kits = [DrumKit.builtin(name) for name in list_kits()]
    for i, a in enumerate(kits):
        for b in kits[i + 1 :]:
            same = [
                c
                for c in COMPONENTS
                if len(a.samples[c]) == len(b.samples[c])
                and np.allclose(a.samples[c], b.samples[c], atol=1e-3)
            ]
            # SoundFont presets re-use cymbal samples; the drums themselves must differ
            assert len(same) <= len(COMPONENTS) - 5, f"{a.name} and {b.name} share {same}"


def test_builtin_cache_cannot_be_corrupted():
    kit = DrumKit.builtin("fluidr3_standard")
    with pytest.raises(ValueError):
        kit.samples["KD"][0] = 123.0
    kit.samples["KD"] = np.zeros(3, dtype=np.float32)
    del kit.samples["SD"]
    again = DrumKit.builtin("fluidr3_standard")
    assert again.components == COMPONENTS
    assert len(again.samples["KD"]) > 3


def test_builtin_subset_and_unnormalised_level():
    kit = DrumKit.load(list_kits()[0], components=["SD", "KD"], normalize=False)
    assert kit.components == ("KD", "SD")
    # the shipped files are peak-normalised to PEAK_LEVEL; resampling moves the peak a little
    assert abs(np.abs(kit.samples["KD"]).max() - PEAK_LEVEL) < 0.1


def test_unknown_builtin_name_lists_available_names():
    with pytest.raises(KitError) as error:
        DrumKit.load("no_such_kit")
    message = str(error.value)
    assert "\n" not in message
    for name in list_kits():
        assert name in message


def test_resampling_changes_length_by_the_rate_ratio(tmp_path):
    path = write(tmp_path / "KD.wav", one_shot(sr=44100, seconds=0.5), sr=44100)
    for sr in (16000, 22050, 44100):
        kit = DrumKit.from_files({"KD": path}, sr=sr, components=["KD"])
        assert kit.sr == sr
        assert abs(len(kit.samples["KD"]) - 0.5 * sr) <= 0.002 * sr
    low = DrumKit.builtin("fluidr3_standard", sr=8000).samples["CY_CRC"]
    high = DrumKit.builtin("fluidr3_standard", sr=32000).samples["CY_CRC"]
    assert abs(len(high) / len(low) - 4) < 0.02


# ---------------------------------------------------------------------------------------------
# User kits


def test_folder_with_aliases_loads(alias_folder):
    kit = DrumKit.load(str(alias_folder))
    assert kit.name == alias_folder.name
    assert kit.components == COMPONENTS
    for audio in kit.samples.values():
        assert np.isclose(np.abs(audio).max(), 1.0, atol=1e-3)
        assert np.abs(audio[0]) >= 0.01  # the 50 ms of leading silence was trimmed
        assert abs(len(audio) - 0.2 * 16000) < 50  # a little more for the lossy .ogg


def test_alias_table_covers_every_component():
    assert set(ALIASES.values()) == set(COMPONENTS)
    assert component_for_name("Closed Hat") == "HH_CHH"
    assert component_for_name("tom_floor") == "TT_HFT"
    assert component_for_name("hh_ohh") == "HH_OHH"
    assert component_for_name("cowbell") is None


def test_folder_missing_components_raises_naming_them(tmp_path):
    write(tmp_path / "KD.wav", one_shot())
    write(tmp_path / "snare.wav", one_shot(seed=1))
    with pytest.raises(KitError) as error:
        DrumKit.load(tmp_path)
    message = str(error.value)
    for code in COMPONENTS[2:]:
        assert code in message
    assert "KD," not in message and " SD" not in message

    kit = DrumKit.load(tmp_path, allow_missing=True)
    assert kit.components == ("KD", "SD")
    tensor = kit.to_tensor()
    assert tensor.shape[0] == len(COMPONENTS)
    assert torch.all(tensor[2:] == 0)


def test_folder_with_two_files_for_one_component_raises(tmp_path):
    write(tmp_path / "KD.wav", one_shot())
    write(tmp_path / "kick.flac", one_shot(seed=1))
    with pytest.raises(KitError, match="KD"):
        DrumKit.from_folder(tmp_path, allow_missing=True)


def test_mapping_with_unknown_code_raises(tmp_path):
    path = write(tmp_path / "a.wav", one_shot())
    with pytest.raises(KitError, match="XX_YY"):
        DrumKit.load({"KD": path, "XX_YY": path}, allow_missing=True)
    with pytest.raises(KitError, match="ZZ"):
        DrumKit.load({"KD": path}, components=["KD", "ZZ"])


def test_mapping_accepts_codes_and_aliases(tmp_path):
    path = write(tmp_path / "a.wav", one_shot())
    kit = DrumKit.load({"kd": path, "crash": path}, components=["KD", "CY_CRC"])
    assert kit.components == ("KD", "CY_CRC")


def test_silent_and_unreadable_one_shots_raise(tmp_path):
    silent = write(tmp_path / "silent.wav", np.zeros(4410, dtype=np.float32))
    with pytest.raises(KitError, match="silent"):
        DrumKit.load({"KD": silent}, components=["KD"])
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    with pytest.raises(KitError, match="KD"):
        DrumKit.load({"KD": broken}, components=["KD"])


def test_load_rejects_missing_folder_and_plain_file(tmp_path):
    with pytest.raises(KitError, match="no such kit folder"):
        DrumKit.load(tmp_path / "nowhere")
    path = write(tmp_path / "kick.wav", one_shot())
    with pytest.raises(KitError, match="is a file"):
        DrumKit.load(path)


# ---------------------------------------------------------------------------------------------
# to_tensor


def test_to_tensor_shape_order_padding_and_zero_rows():
    kit = DrumKit(
        "t",
        16000,
        {"KD": np.ones(100, dtype=np.float32), "SD": np.full(300, 0.5, dtype=np.float32)},
    )
    tensor = kit.to_tensor()
    assert tensor.dtype == torch.float32
    assert tensor.shape == (len(COMPONENTS), 300)
    assert torch.all(tensor[0, :100] == 1) and torch.all(tensor[0, 100:] == 0)
    assert torch.all(tensor[1] == 0.5)
    assert torch.all(tensor[2:] == 0)

    cut = kit.to_tensor(["SD", "KD", "OT_TMB"], length=50)
    assert cut.shape == (3, 50)
    assert torch.all(cut[0] == 0.5) and torch.all(cut[1] == 1) and torch.all(cut[2] == 0)
    assert kit.to_tensor(length=1000).shape == (len(COMPONENTS), 1000)
    with pytest.raises(KitError):
        kit.to_tensor(["KD", "BAD"])


def test_builtin_to_tensor_matches_samples():
    kit = DrumKit.builtin("gmbank_standard")
    tensor = kit.to_tensor()
    longest = max(len(a) for a in kit.samples.values())
    assert tensor.shape == (len(COMPONENTS), longest)
    for row, code in enumerate(COMPONENTS):
        audio = kit.samples[code]
        assert np.array_equal(tensor[row, : len(audio)].numpy(), audio)


# ---------------------------------------------------------------------------------------------
# Shipped files


def test_manifest_matches_files_on_disk():
    manifest = load_manifest()
    assert manifest["sample_rate"] == RENDER_SR
    assert tuple(manifest["components"]) == COMPONENTS
    listed = set()
    for name, entry in manifest["kits"].items():
        assert entry["description"] and entry["source"] and entry["license"], name
        # every component, plus optional extra voices (all SoundFont kits have all of them)
        assert set(COMPONENTS) <= set(entry["files"]) <= set(COMPONENTS) | set(VOICES), name
        if "bank 128" in entry["source"]:
            assert set(entry["files"]) == set(COMPONENTS) | set(VOICES), name
        for code, rel in entry["files"].items():
            path = KIT_DIR / rel
            assert path.is_file(), path
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.format) == (RENDER_SR, 1, "FLAC"), path
            assert info.duration <= (1.5 if code in LONG_COMPONENTS else 1.0) + 1e-3, path
            listed.add(path.resolve())
    on_disk = {p.resolve() for p in KIT_DIR.rglob("*.flac")}
    assert on_disk == listed, "FLAC files not in the manifest, or the reverse"
    size = sum(p.stat().st_size for p in KIT_DIR.rglob("*") if p.is_file())
    assert size < 12 * 2**20
    assert (KIT_DIR / "NOTICE").is_file()


def test_notice_names_every_kit():
    notice = (KIT_DIR / "NOTICE").read_text()
    for name in list_kits():
        assert name in notice


def test_example_recording_and_score_agree():
    audio_path, midi_path = DATA_DIR / "example.flac", DATA_DIR / "example.mid"
    info = sf.info(str(audio_path))
    assert (info.samplerate, info.channels) == (44100, 1)
    assert 6.0 <= info.duration <= 10.0
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    assert len(midi.instruments) == 1 and midi.instruments[0].is_drum
    notes = midi.instruments[0].notes
    pitches = {note.pitch for note in notes}
    assert pitches <= set(GM_NOTES.values())
    for code in ("KD", "SD", "HH_CHH", "HH_OHH", "TT_HIT", "TT_HFT", "CY_CRC"):
        assert GM_NOTES[code] in pitches, code
    assert abs(midi.get_end_time() - info.duration) < 1.0
    # every hit is audible: the 30 ms after each onset is louder than the file's quietest parts
    audio, sr = sf.read(str(audio_path), dtype="float32")
    frame = int(0.03 * sr)
    after = [
        np.sqrt(np.mean(audio[int(n.start * sr) : int(n.start * sr) + frame] ** 2)) for n in notes
    ]
    assert min(after) > 0.005


# ---------------------------------------------------------------------------------------------
# Rendering helpers (pure functions; the full render needs fluidsynth and the Debian packages)


def test_make_one_shot_trims_cuts_fades_and_normalises():
    sr = RENDER_SR
    raw = np.concatenate([np.zeros(1000), one_shot(sr=sr, seconds=2.0)[: 2 * sr]])
    raw[1000:] += 0.2 * np.sin(np.arange(2 * sr) * 0.05)  # a long ringing tail
    shot = make_one_shot(raw, max_seconds=1.0, sr=sr)
    assert len(shot) <= sr
    assert np.isclose(np.abs(shot).max(), PEAK_LEVEL, atol=1e-4)
    assert np.abs(shot[0]) >= 0.01 * PEAK_LEVEL
    assert np.abs(shot[-1]) < 1e-3  # faded out


def test_example_score_is_a_valid_groove():
    score = example_score()
    times = [t for t, _, _ in score]
    assert times == sorted(times)
    assert 0 <= times[0] and times[-1] < EXAMPLE_SECONDS
    assert {c for _, c, _ in score} <= set(COMPONENTS)
    assert all(1 <= v <= 127 for _, _, v in score)
    assert example_score() == score  # deterministic


def test_voice_rows_of_a_kit_pool_come_from_a_kit_that_has_the_voice():
    """A sample kit has no side stick: in a pool its row borrows one from a kit that has it (so
    drawing that kit never silences the voice), and alone it falls back to the snare."""
    from drummernet.model.synthesizer import load_kit_tensor

    codes = ("SD", "SD_XS")
    assert "SD_XS" in DrumKit.builtin("fluidr3_standard", components=VOICE_CODES).samples
    assert "SD_XS" not in DrumKit.builtin("audiophob", components=VOICE_CODES).samples
    pool = load_kit_tensor(["audiophob", "fluidr3_standard"], codes, 16000, max_seconds=0.5)
    assert torch.equal(pool[0, 1], pool[1, 1])  # audiophob's side stick is fluidr3's
    assert not torch.equal(pool[1, 0], pool[1, 1])  # a real voice, not the snare again
    alone = load_kit_tensor(["audiophob"], codes, 16000, max_seconds=0.5)
    assert torch.equal(alone[0, 0], alone[0, 1])
    with pytest.raises(KitError, match="unknown component"):
        DrumKit.builtin("audiophob", components=["SD_NOPE"])


def test_room_voices_are_the_main_one_shot_through_the_fixed_room(tmp_path):
    from scipy.signal import fftconvolve

    from drummernet.constants import voice_component
    from drummernet.model.synthesizer import load_kit_tensor, room_response

    assert voice_component("SD_ROOM") == "SD" and voice_component("SD_XS") == "SD"
    codes = ("KD", "SD", "SD_ROOM")
    shots = load_kit_tensor(["gmbank_standard"], codes, 16000, max_seconds=1.0)[0]
    dry = DrumKit.builtin("gmbank_standard", sr=16000).samples["SD"]
    wet = fftconvolve(dry, room_response(16000))
    assert len(dry) < len(wet) <= shots.shape[-1]  # rings on, within the 1 s cut
    np.testing.assert_allclose(shots[2, : len(wet)].numpy(), wet / np.abs(wet).max(), atol=1e-4)
    assert not shots[2, len(wet) :].any()
    # A folder kit gets its room voices too (it has no extra voices of its own to load).
    folder = tmp_path / "kit"
    folder.mkdir()
    for code in ("KD", "SD"):
        sf.write(folder / f"{code}.wav", DrumKit.builtin("gmbank_standard").samples[code], 16000)
    own = load_kit_tensor([str(folder)], codes, 16000, max_seconds=1.0)[0]
    assert own.shape[0] == 3 and own[2].abs().max() == pytest.approx(1.0)


def test_bright_voices_are_the_main_one_shot_above_the_cutoff():
    from drummernet.constants import BRIGHT_CUTOFF_HZ, voice_component
    from drummernet.model.synthesizer import load_kit_tensor

    assert voice_component("SD_HF") == "SD" and voice_component("KD_HF") == "KD"
    shots = load_kit_tensor(["fluidr3_standard"], ("SD", "SD_HF"), 16000, max_seconds=1.0)[0]
    freqs = np.fft.rfftfreq(shots.shape[-1], 1 / 16000)
    dry, bright = (np.abs(np.fft.rfft(row.numpy())) ** 2 for row in shots)
    low = freqs < BRIGHT_CUTOFF_HZ / 2
    # The octave below the cutoff loses most of its energy; well above it nothing changes shape.
    assert bright[low].sum() / bright.sum() < 0.1 * dry[low].sum() / dry.sum()
    high = freqs > 2 * BRIGHT_CUTOFF_HZ
    ratio = bright[high] / np.maximum(dry[high], 1e-12)
    assert np.median(ratio) == pytest.approx(np.median(ratio[: len(ratio) // 2]), rel=0.3)
    assert np.argmax(np.abs(shots[1].numpy()) > 0.01) < 16  # the attack stays at the start
