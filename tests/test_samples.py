"""The sample organiser: features, the shipped classifier, the CSV/JSON, the organised tree and
the kit builder, on generated audio and the built-in kits' one-shots."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import drummernet
from drummernet.cli import main
from drummernet.constants import COMPONENTS, SAMPLE_CLASSES
from drummernet.errors import KitError, ModelLoadError
from drummernet.model.kits import KIT_DIR, DrumKit, load_manifest
from drummernet.samples.classify import (
    OUTPUTS,
    WEIGHTS_PATH,
    OneShotClassifier,
    SampleRecord,
    classify_samples,
)
from drummernet.samples.features import (
    FEATURE_SR,
    N_FEATURES,
    Excerpt,
    features,
    read_excerpt,
)
from drummernet.samples.kit_builder import kit_from_samples, plan_kit
from drummernet.samples.organize import CSV_COLUMNS

SR = 44100

#: Built-in one-shots the shipped classifier was trained on, with their class.
KNOWN = {
    "KD": "kick",
    "SD": "snare",
    "HH_CHH": "hihat",
    "HH_OHH": "hihat",
    "TT_MHT": "tom",
    "CY_CRC": "cymbal",
}


def builtin(kit: str, code: str) -> Path:
    return KIT_DIR / load_manifest()["kits"][kit]["files"][code]


def loop_audio(seconds: float = 2.0) -> np.ndarray:
    """Kick and snare of a built-in kit on 8th notes: not one hit."""
    kick, _ = sf.read(builtin("gmbank_standard", "KD"), dtype="float32")
    snare, _ = sf.read(builtin("gmbank_standard", "SD"), dtype="float32")
    out = np.zeros(int(seconds * SR), np.float32)
    for i, start in enumerate(range(0, len(out), SR // 4)):
        shot = kick if i % 2 == 0 else snare
        n = min(len(shot), len(out) - start)
        out[start : start + n] += shot[:n]
    return out / np.abs(out).max() * 0.8


@pytest.fixture
def sample_folder(tmp_path: Path) -> Path:
    """A messy sample folder: built-in one-shots with meaningless names in sub-folders, a loop,
    a tone, a long recording and a file that is not audio."""
    root = tmp_path / "library"
    (root / "pack A" / "misc").mkdir(parents=True)
    (root / "pack B").mkdir()
    for n, code in enumerate(KNOWN):
        audio, rate = sf.read(builtin("fluidr3_power", code), dtype="float32")
        folder = root / ("pack A/misc" if n % 2 else "pack B")
        sf.write(folder / f"xx_{n:02d}.wav", audio * 0.5, rate)
    sf.write(root / "pack B" / "groove.wav", loop_audio(), SR)
    t = np.arange(SR * 20) / SR
    sf.write(root / "long_take.flac", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    (root / "pack A" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    return root


def test_features_have_a_fixed_length_and_count_attacks():
    shot, rate = sf.read(builtin("fluidr3_standard", "SD"), dtype="float32")
    from drummernet.audio import resample

    one = Excerpt(resample(shot, rate, FEATURE_SR), len(shot) / rate)
    vector, attacks = features(one)
    assert vector.shape == (N_FEATURES,) and vector.dtype == np.float32
    assert np.isfinite(vector).all() and attacks == 1
    # quieter, later in the file: the same description (the attack is found, the level ignored)
    shifted = np.concatenate([np.zeros(2000, np.float32), one.audio * 0.1])
    again, _ = features(Excerpt(shifted, one.duration + 2000 / FEATURE_SR))
    assert np.abs(again[:-22] - vector[:-22]).max() < 0.05
    _, loop_attacks = features(Excerpt(resample(loop_audio(), SR, FEATURE_SR), 2.0))
    assert loop_attacks > 2
    silent, none = features(Excerpt(np.zeros(FEATURE_SR, np.float32), 1.0))
    assert none == 0 and not silent.any()


def test_a_long_file_is_judged_from_a_bounded_excerpt(tmp_path):
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", 8000, 1) as file:  # 30 minutes, written in blocks
        block = np.zeros(8000 * 60, np.float32)
        block[:800] = 0.5
        for _ in range(30):
            file.write(block)
    excerpt = read_excerpt(path, seconds=2.0)
    assert len(excerpt.audio) == 2 * FEATURE_SR and excerpt.duration == pytest.approx(1800)
    (record,) = classify_samples(path)
    assert record.sample_class == "other" and "long" in record.reason


def test_shipped_classifier_is_small_and_names_known_one_shots():
    assert WEIGHTS_PATH.stat().st_size < 1_000_000
    files = [builtin("fluidr3_standard", code) for code in KNOWN]
    records = drummernet.classify_samples(files)
    assert [r.sample_class for r in records] == list(KNOWN.values())
    kick = records[0]
    assert kick.component == "KD" and kick.one_shot and 0.5 < kick.confidence <= 1.0
    assert kick.scores.shape == (len(OUTPUTS),) and kick.scores.sum() == pytest.approx(1, abs=1e-4)


def test_classifier_weights_round_trip_and_refuse_a_foreign_file(tmp_path):
    rng = np.random.default_rng(0)

    def network():
        return [(0.1 * rng.standard_normal((N_FEATURES, 4)), np.zeros(4)),
                (rng.standard_normal((4, len(OUTPUTS))), np.zeros(len(OUTPUTS)))]  # fmt: skip

    mean, scale = np.zeros(N_FEATURES), np.ones(N_FEATURES)
    first, second = network(), network()
    net = OneShotClassifier(mean, scale, [first, second])
    net.save(tmp_path / "c.npz")
    x = rng.standard_normal((3, N_FEATURES)).astype(np.float32)
    loaded = OneShotClassifier.load(tmp_path / "c.npz")
    assert len(loaded.networks) == 2
    assert np.allclose(loaded.predict(x), net.predict(x), atol=1e-3)  # float16 on disk
    # the members vote: their probabilities are averaged
    alone = [OneShotClassifier(mean, scale, [n]).predict(x) for n in (first, second)]
    assert np.allclose(net.predict(x), (alone[0] + alone[1]) / 2, atol=1e-6)
    np.savez(tmp_path / "bad.npz", mean=np.zeros(3))
    with pytest.raises(ModelLoadError):
        OneShotClassifier.load(tmp_path / "bad.npz")


def test_cli_classify_writes_csv_and_json_and_goes_on_after_a_bad_file(
    sample_folder, tmp_path, capsys
):
    before = sorted((p, p.stat().st_mtime_ns) for p in sample_folder.rglob("*"))
    out_csv, out_json = tmp_path / "names.csv", tmp_path / "names.json"
    code = main(["samples", "classify", str(sample_folder), "--csv", str(out_csv),
                 "--json", str(out_json), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1  # the broken file
    assert err.count("drummernet: error:") == 1 and "broken.wav" in err
    rows = list(csv.DictReader(out_csv.open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_file = {row["file"]: row for row in rows}
    assert len(rows) == len(KNOWN) + 2 and "pack B/groove.wav" in by_file
    assert by_file["pack B/groove.wav"]["class"] == "other"
    assert "not one hit" in by_file["pack B/groove.wav"]["reason"]
    assert by_file["long_take.flac"]["class"] == "other"
    for n, expected in enumerate(KNOWN.values()):
        row = by_file[f"{'pack A/misc' if n % 2 else 'pack B'}/xx_{n:02d}.wav"]
        assert row["class"] in SAMPLE_CLASSES and row["reason"] == ""
        assert row["class"] == expected, row
    items = json.loads(out_json.read_text())
    assert {item["file"] for item in items} == set(by_file)
    # nothing in the folder was moved, renamed, deleted or touched
    assert sorted((p, p.stat().st_mtime_ns) for p in sample_folder.rglob("*")) == before
    # outputs are never replaced without --overwrite
    assert main(["samples", "classify", str(sample_folder), "--csv", str(out_csv)]) == 1
    assert "exists" in capsys.readouterr().err


def test_cli_organize_links_by_class_and_is_safe_to_rerun(sample_folder, tmp_path, capsys):
    before = sorted((p, p.stat().st_mtime_ns) for p in sample_folder.rglob("*"))
    out = tmp_path / "sorted"
    main(["samples", "organize", str(sample_folder), str(out), "--no-progress"])
    links = sorted(p for p in out.rglob("*") if p.is_symlink())
    assert len(links) == len(KNOWN) + 2
    assert {p.relative_to(out).parts[0] for p in links} <= set(SAMPLE_CLASSES)
    assert (out / "other" / "pack B" / "groove.wav").resolve() == (
        sample_folder / "pack B" / "groove.wav"
    ).resolve()
    assert (out / "kick" / "pack B" / "xx_00.wav").is_symlink()
    capsys.readouterr()
    main(["samples", "organize", str(sample_folder), str(out), "--no-progress"])
    assert f"0 linked, {len(links)} already there" in capsys.readouterr().out
    assert sorted(p for p in out.rglob("*") if p.is_symlink()) == links
    copies = tmp_path / "copies"
    main(["samples", "organize", str(sample_folder), str(copies), "--copy", "--no-progress"])
    copied = [p for p in copies.rglob("*.wav") if p.is_file()]
    assert copied and not any(p.is_symlink() for p in copied)
    assert sorted((p, p.stat().st_mtime_ns) for p in sample_folder.rglob("*")) == before


def test_organize_inside_the_folder_leaves_its_own_tree_out(sample_folder, capsys):
    out = sample_folder / "sorted"
    main(["samples", "organize", str(sample_folder), str(out), "--no-progress"])
    first = sorted(out.rglob("*"))
    main(["samples", "organize", str(sample_folder), str(out), "--no-progress"])
    assert sorted(out.rglob("*")) == first and not (out / "other" / "sorted").exists()
    assert main(["samples", "organize", str(sample_folder), str(sample_folder)]) == 1


def test_cli_kit_build_writes_a_kit_that_loads(sample_folder, tmp_path, capsys):
    kit_dir = tmp_path / "mykit"
    main(["kit", "build", str(sample_folder), "-o", str(kit_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert "no sample for" in out and "taken from" in out
    kit = DrumKit.load(str(kit_dir))  # what --kit mykit/ does
    assert kit.components == COMPONENTS
    info = json.loads((kit_dir / "kit.json").read_text())
    assert info["components"]["KD"]["file"] == "pack B/xx_00.wav"
    assert set(info["filled_from"]) | set(info["components"]) == set(COMPONENTS)
    # refuses to write into a non-empty folder, then leaves components out when asked
    assert main(["kit", "build", str(sample_folder), "-o", str(kit_dir)]) == 1
    bare = tmp_path / "bare"
    main(["kit", "build", str(sample_folder), "-o", str(bare), "--fill", "none", "--no-progress"])
    assert "left out" in capsys.readouterr().out
    with pytest.raises(KitError, match="missing component"):
        DrumKit.load(str(bare))
    assert "KD" in DrumKit.load(str(bare), allow_missing=True).samples


def test_drumkit_from_samples_takes_a_picker(sample_folder):
    chosen = sample_folder / "pack B" / "xx_00.wav"
    kit = DrumKit.from_samples(sample_folder, lambda files: {"KD": chosen}, sr=16000)
    assert kit.components == ("KD",) and kit.sr == 16000
    heard = kit_from_samples(sample_folder)
    assert {"KD", "SD", "HH_CHH", "CY_CRC"} <= set(heard.components)
    with pytest.raises(KitError):
        DrumKit.from_samples(sample_folder / "missing", lambda files: {})


def _record(name: str, sample_class: str, **scores: float) -> SampleRecord:
    vector = np.array([scores.get(code or "none", 0.0) for code in OUTPUTS], np.float32)
    return SampleRecord(Path(name), sample_class, "", float(vector.max()), "", vector)


def test_plan_kit_keeps_classes_apart_and_orders_toms_by_pitch():
    records = [
        _record("low.wav", "tom", TT_HFT=0.7, TT_MHT=0.2),
        _record("high.wav", "tom", TT_HIT=0.5, TT_MHT=0.4),
        _record("mid.wav", "tom", TT_MHT=0.5, TT_HFT=0.3, TT_HIT=0.2),
        _record("boomy.wav", "kick", KD=0.9, TT_HFT=0.1),
        _record("loop.wav", "other"),
    ]
    records.append(SampleRecord(Path("two.wav"), "other", "", 1.0, "2 hits", np.zeros(12)))
    plan = plan_kit(records)
    assert {code: r.file.name for code, r in plan.picks.items()} == {
        "KD": "boomy.wav", "TT_HIT": "high.wav", "TT_MHT": "mid.wav", "TT_HFT": "low.wav",
    }  # fmt: skip
    assert "SD" in plan.missing and "OT_TMB" in plan.missing


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_classify_samples_accepts_a_folder(sample_folder):
    from drummernet.errors import AudioError

    with pytest.raises(AudioError):
        classify_samples(sample_folder)  # the broken file, when not asked to go on
    (sample_folder / "pack A" / "broken.wav").unlink()
    records = classify_samples(sample_folder)
    assert len(records) == len(KNOWN) + 2
