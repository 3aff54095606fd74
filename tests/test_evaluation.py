"""Tests of drummernet.evaluation: dataset readers on tiny generated fixtures, and scoring on
hand-made cases whose precision/recall/F1 are known."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import mir_eval
import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from drummernet.cli import main
from drummernet.errors import DatasetError
from drummernet.evaluation.datasets import (
    Track,
    read_dataset,
    read_enst,
    read_idmt,
    read_manifest,
    read_mdb,
    read_midi_pairs,
)
from drummernet.evaluation.metrics import (
    OnsetScore,
    complete_classes,
    events_to_labels,
    score_onsets,
)
from drummernet.evaluation.scoring import evaluate

SR = 8000


def write_audio(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(SR * seconds), dtype=np.float32), SR)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_onsets(reference: dict, expected: dict) -> None:
    assert sorted(reference) == sorted(expected)
    for label, times in expected.items():
        np.testing.assert_allclose(reference[label], times, err_msg=label)


# ---------------------------------------------------------------------------------------------
# Dataset fixtures, one per layout

MDB_CLASS = "0.100000 \t KD \n0.300000\tSD\n 0.200000 \t HH \n0.400000\tHH\n0.500000\tTT\n0.6\tOT\n"
MDB_SUBCLASS = "0.1\tKD\n0.3\tSDG\n0.2\tCHH\n0.4\tOHH\n0.5\tLFT\n0.6\tSST\n"
MDB_EXPECTED = {
    "KD": [0.1],
    "SD": [0.3],
    "HH": [0.2, 0.4],
    "TT": [0.5],
    "OT": [0.6],
    "HH_CHH": [0.2],
    "HH_OHH": [0.4],
    "TT_HFT": [0.5],  # low floor tom -> the kit's floor tom; side stick (OT in MDB) has none
}


@pytest.fixture
def manifest_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mdb_like"
    write_audio(root / "audio" / "song.flac")
    write_text(root / "annotations" / "class" / "song_class.txt", MDB_CLASS)
    write_text(root / "annotations" / "subclass" / "song_subclass.txt", MDB_SUBCLASS)
    write_audio(root / "audio" / "plain.flac")
    write_text(root / "plain.txt", "0.25 KD\n0.75 HH\n")
    write_text(
        root / "tracks.tsv",
        "track\taudio\tannotation\n"
        "song\taudio/song.flac\tannotations/class/song_class.txt\n"
        "plain\taudio/plain.flac\tplain.txt\n",
    )
    return root


@pytest.fixture
def mdb_dir(tmp_path: Path) -> Path:
    root = tmp_path / "MDBDrums"
    write_audio(root / "audio" / "drum_only" / "MusicDelta_Song_Drum.wav")
    write_text(root / "annotations" / "class" / "MusicDelta_Song_class.txt", MDB_CLASS)
    write_text(root / "annotations" / "subclass" / "MusicDelta_Song_subclass.txt", MDB_SUBCLASS)
    return root


IDMT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<instrumentRecording>
  <globalParameter><audioFileName>{name}.wav</audioFileName></globalParameter>
  <transcription>
    <event><pitch>36</pitch><onsetSec>0.30</onsetSec><offsetSec>0.4</offsetSec>
      <instrument>SD</instrument></event>
    <event><pitch>36</pitch><onsetSec>0.10</onsetSec><offsetSec>0.2</offsetSec>
      <instrument>KD</instrument></event>
    <event><pitch>42</pitch><onsetSec>0.20</onsetSec><offsetSec>0.3</offsetSec>
      <instrument>HH</instrument></event>
  </transcription>
</instrumentRecording>
"""


@pytest.fixture
def idmt_dir(tmp_path: Path) -> Path:
    root = tmp_path / "IDMT-SMT-DRUMS-V2"
    for name in ("RealDrum01_00#MIX", "RealDrum01_00#KD"):
        write_audio(root / "audio" / f"{name}.wav")
        write_text(root / "annotation_xml" / f"{name}.xml", IDMT_XML.format(name=name))
    return root


@pytest.fixture
def enst_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ENST-drums-public"
    drummer = root / "drummer_1"
    write_audio(drummer / "audio" / "wet_mix" / "001_hits_snare-drum_sticks_x6.wav")
    write_audio(drummer / "audio" / "overhead_L" / "001_hits_snare-drum_sticks_x6.wav")
    write_text(
        drummer / "annotation" / "001_hits_snare-drum_sticks_x6.txt",
        "0.100000 bd\n0.200000 chh\n0.300000 sd-\n0.400000 rc3\n0.500000 lmt\n"
        "0.600000 cr1\n0.700000 spl2\n0.800000 sweep\n0.900000 ohh\n",
    )
    return root


ENST_EXPECTED = {
    "KD": [0.1],
    "SD": [0.3],
    "HH": [0.2, 0.9],
    "HH_CHH": [0.2],
    "HH_OHH": [0.9],
    "CY": [0.4, 0.6, 0.7],
    "CY_RDC": [0.4],
    "CY_CRC": [0.6],
    "TT": [0.5],
    "TT_MHT": [0.5],
}


def write_midi(path: Path, notes: list[tuple[float, int]]) -> Path:
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, pitch, t, t + 0.05) for t, pitch in notes]
    midi.instruments.append(drums)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    root = tmp_path / "e-gmd"
    notes = [(0.1, 36), (0.2, 42), (0.2, 44), (0.3, 38), (0.4, 26), (0.5, 52), (0.6, 56)]
    write_audio(root / "drummer1" / "session1" / "1_funk_80_beat_4-4_1.wav")
    write_midi(root / "drummer1" / "session1" / "1_funk_80_beat_4-4_1.midi", notes)
    write_audio(root / "drummer1" / "session1" / "2_rock_90_beat_4-4.wav")
    write_midi(root / "drummer1" / "session1" / "2_rock_90_beat_4-4.mid", [(0.25, 36)])
    write_audio(root / "drummer1" / "session1" / "unannotated.wav")
    return root


# ---------------------------------------------------------------------------------------------
# Readers


def test_manifest_reads_class_and_subclass_files(manifest_dir: Path) -> None:
    song, plain = read_manifest(manifest_dir / "tracks.tsv")
    assert (song.name, song.audio_path) == ("song", manifest_dir / "audio" / "song.flac")
    assert song.has_components
    assert_onsets(song.reference, MDB_EXPECTED)
    assert not plain.has_components
    assert_onsets(plain.reference, {"KD": [0.25], "HH": [0.75]})


def test_original_mdb_layout(mdb_dir: Path) -> None:
    (track,) = read_mdb(mdb_dir)
    assert track.name == "MusicDelta_Song"
    assert track.audio_path.name == "MusicDelta_Song_Drum.wav"
    assert_onsets(track.reference, MDB_EXPECTED)


def test_idmt_reads_mixtures_only(idmt_dir: Path) -> None:
    (track,) = read_idmt(idmt_dir)
    assert track.name == "RealDrum01_00#MIX"
    assert not track.has_components
    assert_onsets(track.reference, {"KD": [0.1], "SD": [0.3], "HH": [0.2]})
    assert len(read_idmt(idmt_dir, mix_only=False)) == 2


def test_enst_maps_labels_to_classes_and_components(enst_dir: Path) -> None:
    (track,) = read_enst(enst_dir)
    assert track.name == "drummer_1/001_hits_snare-drum_sticks_x6"
    assert track.audio_path.parent.name == "wet_mix"
    assert_onsets(track.reference, ENST_EXPECTED)
    assert read_enst(enst_dir / "drummer_1")[0].name == track.name


def test_midi_pairs_map_gm_notes(midi_dir: Path) -> None:
    first, second = read_midi_pairs(midi_dir)
    assert first.name == "drummer1/session1/1_funk_80_beat_4-4_1"
    assert_onsets(
        first.reference,
        {
            "KD": [0.1],
            "SD": [0.3],
            "HH": [0.2, 0.4],  # closed + pedal hi-hat at 0.2 s are one stroke
            "HH_CHH": [0.2],
            "HH_PHH": [0.2],
            "HH_OHH": [0.4],  # 26: Roland open hi-hat edge
            "CY": [0.5],
            "CY_CRC": [0.5],  # 52: crash 2 edge on the Roland kit of Groove / E-GMD
            "OT": [0.6],  # cowbell: no component of its own
        },
    )
    assert_onsets(second.reference, {"KD": [0.25]})


@pytest.mark.parametrize(
    "fixture, reader",
    [
        ("manifest_dir", read_manifest),
        ("mdb_dir", read_mdb),
        ("idmt_dir", read_idmt),
        ("enst_dir", read_enst),
        ("midi_dir", read_midi_pairs),
    ],
)
def test_read_dataset_detects_each_layout(fixture: str, reader, request) -> None:
    root = request.getfixturevalue(fixture)
    found, expected = read_dataset(root), reader(root)
    assert [t.name for t in found] == [t.name for t in expected]
    for a, b in zip(found, expected, strict=True):
        assert_onsets(a.reference, b.reference)


def test_read_dataset_accepts_manifest_path(manifest_dir: Path) -> None:
    assert len(read_dataset(manifest_dir / "tracks.tsv")) == 2


@pytest.mark.parametrize("make", ["empty", "missing", "audio_only"])
def test_read_dataset_rejects_unusable_folders(tmp_path: Path, make: str) -> None:
    root = tmp_path / "data"
    if make != "missing":
        root.mkdir()
    if make == "audio_only":
        write_audio(root / "loop.wav")
    with pytest.raises(DatasetError) as error:
        read_dataset(root)
    assert "\n" not in str(error.value) and str(root) in str(error.value)


def test_unknown_label_names_file_and_line(manifest_dir: Path) -> None:
    write_text(manifest_dir / "plain.txt", "0.25 KD\n0.75 XX\n")
    with pytest.raises(DatasetError, match=r"plain\.txt:2: unknown label 'XX'"):
        read_dataset(manifest_dir)


def test_missing_audio_is_reported(manifest_dir: Path) -> None:
    (manifest_dir / "audio" / "plain.flac").unlink()
    with pytest.raises(DatasetError, match="plain.flac"):
        read_dataset(manifest_dir)


def test_unreadable_midi_is_a_dataset_error(midi_dir: Path) -> None:
    bad = midi_dir / "drummer1" / "session1" / "2_rock_90_beat_4-4.mid"
    bad.write_bytes(b"not a MIDI file")
    with pytest.raises(DatasetError, match=r"4-4\.mid: not a readable MIDI file \("):
        read_dataset(midi_dir)


def test_events_to_labels_merges_and_drops() -> None:
    labels = events_to_labels([(0.3, 56), (0.1, 36), (0.104, 35), (0.2, 42), (0.4, 99)])
    assert_onsets(labels, {"KD": [0.1], "HH": [0.2], "HH_CHH": [0.2], "OT": [0.3]})


def test_complete_classes_builds_missing_classes_from_components() -> None:
    completed = complete_classes({"HH_CHH": [0.5, 0.1], "HH_OHH": [0.3, 0.105], "KD": [0.2]})
    np.testing.assert_allclose(completed["HH"], [0.1, 0.3, 0.5])
    np.testing.assert_allclose(completed["HH_CHH"], [0.1, 0.5])
    assert "SD" not in completed
    # A class the system gives itself is kept as it is.
    assert complete_classes({"HH": [1.0], "HH_OHH": [2.0]})["HH"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# Scoring


def test_score_onsets_known_counts() -> None:
    reference = [1.0, 2.0, 3.0, 4.0]
    # 1.01 hit, 2.06 outside the 50 ms window, 3.0 hit, 4.0 missed, 5.0 extra.
    score = score_onsets(reference, [1.01, 2.06, 3.0, 5.0])
    assert (score.tp, score.fp, score.fn) == (2, 2, 2)
    assert (score.precision, score.recall, score.f1) == (0.5, 0.5, 0.5)
    one_missed = score_onsets(reference, [1.0, 2.0, 3.0])
    assert (one_missed.precision, one_missed.recall) == (1.0, 0.75)
    assert one_missed.f1 == pytest.approx(2 * 0.75 / 1.75)
    one_extra = score_onsets(reference, [1.0, 2.0, 2.5, 3.0, 4.0])
    assert (one_extra.precision, one_extra.recall) == (0.8, 1.0)
    assert score_onsets(reference, [2.06], window=0.1).tp == 1


def test_score_onsets_matches_mir_eval() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        reference = np.sort(rng.uniform(0, 10, rng.integers(1, 40)))
        estimated = np.sort(rng.uniform(0, 10, rng.integers(1, 40)))
        f, p, r = mir_eval.onset.f_measure(reference, estimated, window=0.05)
        score = score_onsets(reference, estimated)
        assert (score.f1, score.precision, score.recall) == pytest.approx((f, p, r))


def test_empty_sides() -> None:
    assert math.isnan(score_onsets([], []).f1)
    assert score_onsets([1.0], []).f1 == 0.0
    assert score_onsets([], [1.0]).precision == 0.0
    assert OnsetScore(1, 2, 3) + OnsetScore(1, 1, 1) == OnsetScore(2, 3, 4)


def make_track(name: str, reference: dict, has_components: bool = False) -> Track:
    onsets = {k: np.asarray(v, dtype=float) for k, v in reference.items()}
    return Track(name, Path(f"{name}.wav"), onsets, has_components)


def test_macro_leaves_out_tracks_without_the_class_but_micro_counts_them() -> None:
    tracks = [
        make_track("a", {"KD": [1, 2, 3, 4], "SD": [1.5, 2.5], "HH": [1, 2]}),
        make_track("b", {"KD": [1, 2], "SD": [1.5]}),  # no hi-hat in the reference
    ]
    predictions = {
        "a": {"KD": [1, 2, 3, 4], "SD": [1.5], "HH": [1, 2, 3, 4]},
        "b": {"KD": [1, 2], "SD": [1.5], "HH": [5, 6, 7]},  # three false hi-hats
    }
    result = evaluate(lambda track: predictions[track.name], tracks, progress=False)
    assert result.macro("KD")["f1"] == 1.0
    assert result.macro("SD") == pytest.approx(
        {"precision": 1.0, "recall": 0.75, "f1": (2 * 0.5 / 1.5 + 1.0) / 2, "tracks": 2}
    )
    # Macro HH is track a alone: P 2/4, R 1, F 2/3.
    assert result.macro("HH") == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "tracks": 1}
    )
    # Micro HH counts track b's false positives: tp 2, fp 2 + 3, fn 0.
    assert result.micro("HH") == OnsetScore(tp=2, fp=5, fn=0)
    assert result.micro("HH").precision == pytest.approx(2 / 7)
    assert result.mean_f1 == pytest.approx((1.0 + (2 / 3 + 1) / 2 + 2 / 3) / 3)
    assert math.isnan(result.tracks[1].f1("HH"))
    assert result.tracks[1].mean_f1 == 1.0
    assert result.components == ()
    # Phantom notes: hi-hats written on the track without any (b), none for kick and snare.
    assert (result.phantom("HH"), result.phantom_tracks("HH")) == (3, 1)
    assert result.phantom("KD") == 0 and result.phantom_tracks("KD") == 0
    assert result.to_dict()["classes"]["HH"]["phantom"] == 3
    assert "3 (1 track)" in result.table()


def test_five_classes_by_default_with_the_core_mean_apart() -> None:
    tracks = [make_track("a", {"KD": [1.0], "SD": [2.0], "HH": [3.0], "TT": [4.0]})]
    result = evaluate(
        lambda t: {"KD": [1.0], "SD": [2.0], "HH": [3.0], "TT": [6.0], "CY": [5.0]},
        tracks,
        progress=False,
    )
    assert result.labels == ("KD", "SD", "HH", "TT", "CY")
    assert result.core_mean_f1 == 1.0  # KD/SD/HH
    assert result.mean_f1 == pytest.approx(3 / 4)  # TT missed; CY absent from the reference
    assert result.phantom("CY") == 1 and result.phantom("TT") == 0
    assert "mean F over KD/SD/HH: 1.000" in result.table()


def test_missing_prediction_key_means_no_onsets() -> None:
    track = make_track("a", {"KD": [1.0], "SD": [2.0], "HH": [3.0]})
    result = evaluate(lambda t: {"KD": [1.0]}, [track], progress=False)
    assert result.micro("SD") == OnsetScore(tp=0, fp=0, fn=1)
    assert result.mean_f1 == pytest.approx(1 / 3)


def test_components_are_scored_on_tracks_that_annotate_them() -> None:
    tracks = [
        make_track("fine", {"KD": [1.0], "HH": [2.0, 3.0], "HH_CHH": [2.0], "HH_OHH": [3.0]}, True),
        make_track("coarse", {"KD": [1.0], "HH": [2.0]}),
    ]

    def system(track: Track) -> dict:
        return {"KD": [1.0], "HH_CHH": [2.0, 3.0]}  # the open hi-hat heard as closed

    result = evaluate(system, tracks, progress=False)
    assert result.components == ("KD", "HH_CHH")
    assert result.tracks[0].f1("HH") == 1.0  # HH assembled from the predicted components
    assert result.micro("HH_CHH") == OnsetScore(tp=1, fp=1, fn=0)  # only the "fine" track
    assert result.tracks[1].component_scores == {}
    assert "HH_CHH" in result.table() and "Components (1 tracks" in result.table()


def test_table_and_json(tmp_path: Path) -> None:
    tracks = [
        make_track("track_with_long_name", {"KD": [1.0], "SD": [2.0], "HH": [3.0]}),
        make_track("no_hihat", {"KD": [1.0], "SD": [2.0]}),
    ]
    result = evaluate(lambda t: {"KD": [1.0], "SD": [2.2], "HH": [3.0]}, tracks, progress=False)
    table = result.table()
    lines = table.splitlines()
    assert "window +-50 ms" in lines[0]
    no_hihat = next(line for line in lines if line.startswith("no_hihat"))
    # HH P R F left out; mean F over KD (1) and SD (0, its onset 200 ms late).
    assert no_hihat.split()[-4:] == ["-", "-", "-", "0.500"]
    macro = next(line for line in lines if line.startswith("macro "))
    assert macro.split()[-1] == f"{result.mean_f1:.3f}"
    assert any(line.startswith("micro ") for line in lines)

    path = result.to_json(tmp_path / "out" / "scores.json")
    data = json.loads(path.read_text())
    assert data["mean_f1"] == pytest.approx(result.mean_f1)
    assert data["classes"]["HH"]["micro"] == {
        "tp": 1, "fp": 1, "fn": 0, "precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3)
    }  # fmt: skip
    assert data["tracks"][1]["scores"]["HH"]["f1"] == 0.0
    assert data["classes"]["SD"]["macro"]["f1"] == 0.0
    assert not list(path.parent.glob(".*"))  # the atomic write left no temporary file


def test_cli_scores_the_baseline(manifest_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "scores.json"
    command = ["evaluate", "--baseline", "--no-progress", "--dataset"]
    assert main([*command, str(manifest_dir), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro" in printed and "song" in printed
    assert json.loads(out.read_text())["window"] == 0.05
    assert main([*command, str(manifest_dir), "--json", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main([*command, str(manifest_dir), "--json", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    assert main([*command, str(manifest_dir), "--window", "0"]) == 2
    assert "--window must be positive" in capsys.readouterr().err
    assert main([*command, str(tmp_path / "nowhere")]) == 1
    assert "no such file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The shared development data, when present


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DRUMMERNET_DATA", default))


def test_mdb_dev_baseline() -> None:
    root = shared_data() / "mdb_dev"
    if not (root / "tracks.tsv").is_file():
        pytest.skip(f"{root} not present")
    from drummernet.evaluation.baselines import bandwise_system

    tracks = read_dataset(root)
    assert len(tracks) == 4 and all(t.has_components for t in tracks)
    beatles = next(t for t in tracks if "Beatles" in t.name)
    assert "HH" not in beatles.reference and "OT_TMB" in beatles.reference
    result = evaluate(bandwise_system, tracks, progress=False)
    assert result.macro("HH")["tracks"] == 3
    # A regression guard around the measured 0.776 (KD/SD/HH, 50 ms, macro).
    assert 0.72 < result.core_mean_f1 < 0.85
