"""The CLI's non-transcription commands: kits, evaluate, train errors, top-level help."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import REPO

from drummernet.cli import main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("transcribe", "train", "evaluate", "kits"):
        assert command in out


def test_import_and_help_do_not_import_torch():
    code = (
        "import sys, drummernet, drummernet.cli\n"
        "try:\n    drummernet.cli.main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kits_lists_builtins(capsys):
    assert main(["kits"]) == 0
    out = capsys.readouterr().out
    assert "fluidr3_standard" in out and len(out.strip().splitlines()) >= 6


@pytest.fixture
def labelled_folder(tmp_path):
    """Audio + same-stem MIDI: clicks in three bands, at the annotated times."""
    sr = 44100
    rng = np.random.default_rng(0)
    audio = np.zeros(int(4 * sr), dtype=np.float32)
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    for i, t in enumerate(np.arange(0.25, 3.75, 0.5)):
        note = (36, 38, 42)[i % 3]
        n = int(0.08 * sr)
        burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * sr))
        if note == 36:
            burst = np.sin(2 * np.pi * 60 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.03 * sr))
        elif note == 42:
            burst = np.diff(burst, prepend=0)
        start = int(t * sr)
        audio[start : start + n] += 0.5 * burst
        drums.notes.append(pretty_midi.Note(100, note, t, t + 0.05))
    midi.instruments.append(drums)
    sf.write(tmp_path / "take.wav", audio, sr)
    midi.write(str(tmp_path / "take.mid"))
    return tmp_path


def test_evaluate_baseline_prints_table_and_json(labelled_folder, tmp_path, capsys):
    out_json = tmp_path / "scores.json"
    assert (
        main(["evaluate", "--dataset", str(labelled_folder), "--baseline", "--json", str(out_json)])
        == 0
    )
    out = capsys.readouterr().out
    assert "macro" in out and "KD" in out
    assert out_json.is_file()


def test_evaluate_model(labelled_folder, tiny_model, tmp_path, capsys):
    path = tiny_model.save(tmp_path / "tiny.safetensors")
    assert main(["evaluate", "--dataset", str(labelled_folder), "--model", str(path)]) == 0
    assert "macro" in capsys.readouterr().out


def test_evaluate_empty_folder_is_one_line_error(tmp_path, capsys):
    assert main(["evaluate", "--dataset", str(tmp_path), "--baseline"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("drummernet: error:") and len(err.strip().splitlines()) == 1


def test_train_without_usable_audio_is_one_line_error(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("no audio")
    code = main(["train", str(tmp_path / "x.txt"), "--out", str(tmp_path / "run"), "--steps", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no usable audio" in err and "Traceback" not in err


def test_evaluate_takes_the_peak_picking_options(labelled_folder, tiny_model, tmp_path, capsys):
    path = str(tiny_model.save(tmp_path / "tiny.safetensors"))
    common = ["evaluate", "--dataset", str(labelled_folder), "--model", path]
    outputs = []
    for options in ([], ["--onset-contrast", "0", "--relative-threshold", "0", "--threshold",
                         "1e-4", "--decay-mask", "0"]):  # fmt: skip
        out_json = tmp_path / f"scores{len(outputs)}.json"
        assert main(common + options + ["--json", str(out_json)]) == 0
        outputs.append(out_json.read_text())
    assert outputs[0] != outputs[1]  # the options reach the transcription
    capsys.readouterr()
    assert main(common + ["--onset-contrast", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--onset-contrast" in err and len(err.strip().splitlines()) == 1
