"""``drummernet transcribe`` run in-process on audio written in fixtures (after
descript-audio-codec's tests/test_cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import REPO, SR, drum_loop

from drummernet.cli import main
from drummernet.transcription import inference


@pytest.fixture
def loop_wav(tmp_path):
    audio, _ = drum_loop(2.0)
    path = tmp_path / "in" / "loop.wav"
    path.parent.mkdir()
    sf.write(path, audio, SR)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["transcribe", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("drummernet: error:")]
    assert errors, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert any(fragment in line for line in errors), (fragment, err)


# ---------------------------------------------------------------------------------- outputs


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from drummernet.cli import get_parser\n"
        "try:\n"
        "    get_parser().parse_args(['transcribe', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'librosa' not in sys.modules, 'librosa imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--overwrite" in done.stdout and "--format" in done.stdout


def test_transcribe_writes_midi(capsys, loop_wav, tiny_model_file, tmp_path):
    code, out, err = run(capsys, loop_wav, "-o", tmp_path / "out", "--model", tiny_model_file)
    assert code == 0, err
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "loop.mid"))
    (drums,) = midi.instruments
    assert drums.is_drum and drums.notes
    assert {n.pitch for n in drums.notes} <= {36, 38, 42}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["loop.mid"]


def test_all_formats_and_print(capsys, loop_wav, tiny_model_file, tmp_path):
    import importlib.util

    plot = importlib.util.find_spec("matplotlib") is not None  # an optional extra
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, loop_wav, "-o", out_dir, "--model", tiny_model_file,
                         "--format", "mid,json,csv,wav", "--print", "--threshold", "0.03",
                         *(["--plot"] if plot else []))  # fmt: skip
    assert code == 0, err
    expected = ["loop.csv", "loop.json", "loop.mid", "loop.png", "loop.wav"]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        name for name in expected if plot or not name.endswith(".png")
    ]
    data = json.loads((out_dir / "loop.json").read_text())
    assert out.splitlines()[0] == f"{loop_wav}: {len(data['events'])} notes"
    assert len(out.splitlines()) == len(data["events"]) + 1
    csv_lines = (out_dir / "loop.csv").read_text().splitlines()
    assert csv_lines[0] == "time,component,note,velocity"
    assert len(csv_lines) == len(out.splitlines())
    audio, sr = sf.read(out_dir / "loop.wav")
    assert sr == SR and len(audio) == 2 * SR


def test_refuses_to_overwrite(capsys, loop_wav, tiny_model_file, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    other = loop_wav.with_name("other.wav")
    other.write_bytes(loop_wav.read_bytes())
    (out_dir / "other.json").write_text("mine")
    args = [loop_wav, other, "-o", out_dir, "--model", tiny_model_file, "--format", "mid,json"]
    code, _, err = run(capsys, *args)
    assert code == 1
    assert_one_line_error(err, "other.json exists", "--overwrite")
    # Nothing at all was written, not even the outputs that did not exist.
    assert sorted(p.name for p in out_dir.iterdir()) == ["other.json"]
    assert (out_dir / "other.json").read_text() == "mine"
    code, _, err = run(capsys, *args, "--overwrite")
    assert code == 0, err
    assert json.loads((out_dir / "other.json").read_text())["events"] is not None


def test_two_inputs_with_the_same_name_are_refused(capsys, loop_wav, tiny_model_file, tmp_path):
    twin = tmp_path / "twin" / "loop.wav"
    twin.parent.mkdir()
    twin.write_bytes(loop_wav.read_bytes())
    code, _, err = run(capsys, loop_wav, twin, "-o", tmp_path / "out", "--model", tiny_model_file)
    assert code == 1
    assert_one_line_error(err, "would both write")
    assert not (tmp_path / "out").exists()


def test_usage_errors(capsys, loop_wav, tiny_model_file, tmp_path):
    code, _, err = run(capsys, loop_wav, "--format", "mp4", "--model", tiny_model_file)
    assert code == 2 and "unknown format 'mp4'" in err
    code, _, err = run(capsys, loop_wav, "--threshold", "0", "--model", tiny_model_file)
    assert code == 2 and "--threshold" in err
    for option, value in [("--onset-contrast", "-1"), ("--decay-mask", "-0.1"),
                          ("--relative-threshold", "1.5")]:  # fmt: skip
        code, _, err = run(capsys, loop_wav, option, value, "--model", tiny_model_file)
        assert code == 2 and option in err and len(err.strip().splitlines()) == 1


def test_unknown_kit_fails_before_writing(capsys, loop_wav, tiny_model_file, tmp_path):
    code, _, err = run(capsys, loop_wav, "-o", tmp_path / "out", "--model", tiny_model_file,
                       "--format", "mid,wav", "--kit", "no_such_kit")  # fmt: skip
    assert code == 1
    assert_one_line_error(err, "no_such_kit")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_default_model_is_a_one_line_error(capsys, loop_wav, tmp_path, monkeypatch):
    absent = tmp_path / "absent.safetensors"
    monkeypatch.setattr(inference, "DEFAULT_MODEL_PATH", absent)
    inference._default_model.cache_clear()
    try:
        code, out, err = run(capsys, loop_wav, "-o", tmp_path / "out", "--no-progress")
    finally:
        inference._default_model.cache_clear()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert_one_line_error(err, str(absent), "drummernet train", "--model")
    assert not (tmp_path / "out" / "loop.mid").exists()


# -------------------------------------------------------------------------------- bad input


def _write(path, audio, sr, **kwargs):
    sf.write(path, audio, sr, **kwargs)
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _noise(seconds, sr=SR, channels=1):
    shape = (int(seconds * sr), channels) if channels > 1 else (int(seconds * sr),)
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1


def _nan_audio():
    audio = _noise(1.0)
    audio[100] = np.nan
    return audio


BAD_INPUTS = {
    "missing": (lambda d: d / "missing.wav", "no such file"),
    "empty folder": (lambda d: (d / "folder").mkdir() or d / "folder", "no audio files"),
    "not audio": (lambda d: (d / "notes.wav").write_text("not audio") and d / "notes.wav",
                  "not a readable audio file"),
    "truncated wav": (lambda d: _truncate(_write(d / "cut.wav", _noise(2.0), SR)), "truncated"),
    "corrupt flac": (lambda d: _truncate(_write(d / "cut.flac", _noise(2.0), SR)), "corrupt"),
    "zero bytes": (lambda d: (d / "zero.wav").write_bytes(b"") or d / "zero.wav", "empty"),
    "no samples": (lambda d: _write(d / "none.wav", np.zeros(0, np.float32), SR),
                   "no audio samples"),
    "nan": (lambda d: _write(d / "nan.wav", _nan_audio(), SR, subtype="FLOAT"), "NaN"),
    "too short": (lambda d: _write(d / "short.wav", _noise(0.03), SR), "too short"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_error(capsys, tmp_path, tiny_model_file, case):
    make, message = BAD_INPUTS[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path = make(inputs)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, path, "-o", out_dir, "--model", tiny_model_file,
                         "--format", "mid,json,csv,wav")  # fmt: skip
    assert code == 1
    assert_one_line_error(err, path.name, message)
    assert len(err.strip().splitlines()) == 1, err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_one_bad_input_does_not_stop_the_others(capsys, loop_wav, tiny_model_file, tmp_path):
    out_dir = tmp_path / "out"
    bad = loop_wav.with_name("bad.wav")
    bad.write_text("not audio")
    code, _, err = run(capsys, bad, loop_wav, tmp_path / "missing.flac", "-o", out_dir,
                       "--model", tiny_model_file)  # fmt: skip
    assert code == 1
    assert_one_line_error(err, "bad.wav", "missing.flac", "2 of 3 inputs failed")
    assert sorted(p.name for p in out_dir.iterdir()) == ["loop.mid"]


def test_folder_input(capsys, loop_wav, tiny_model_file, tmp_path):
    loop_wav.with_name("notes.txt").write_text("ignored")
    code, _, err = run(capsys, loop_wav.parent, "-o", tmp_path / "out", "--model", tiny_model_file)
    assert code == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["loop.mid"]


# ------------------------------------------------------------------------ unusual but valid


def test_silence_gives_empty_midi_and_a_warning(capsys, tmp_path, tiny_model_file):
    path = _write(tmp_path / "silence.wav", np.zeros(SR, np.float32), SR)
    code, _, err = run(capsys, path, "-o", tmp_path, "--model", tiny_model_file)
    assert code == 0, err
    assert "drummernet: warning:" in err and "silent" in err
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "silence.mid"))
    assert sum(len(i.notes) for i in midi.instruments) == 0


@pytest.mark.parametrize(
    "sr, channels, warning",
    [(SR, 6, None), (8000, 1, "above 4 kHz is missing"), (192000, 2, None), (44100, 2, None)],
)
def test_any_rate_and_channel_count(capsys, tmp_path, tiny_model_file, sr, channels, warning):
    audio, _ = drum_loop(1.0, sr=sr)
    path = _write(tmp_path / "x.flac", np.stack([audio] * channels, axis=1), sr)
    code, _, err = run(capsys, path, "-o", tmp_path / "out", "--model", tiny_model_file,
                       "--format", "mid,json")  # fmt: skip
    assert code == 0, err
    assert ("drummernet: warning:" in err) == (warning is not None)
    if warning:
        assert warning in err
    data = json.loads((tmp_path / "out" / "x.json").read_text())
    assert data["duration"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("ext", ["ogg", "mp3"])
def test_compressed_formats(capsys, tmp_path, tiny_model_file, ext):
    audio, _ = drum_loop(1.5, sr=44100)
    path = _write(tmp_path / f"x.{ext}", np.stack([audio, audio], axis=1), 44100)
    code, _, err = run(capsys, path, "-o", tmp_path / "out", "--model", tiny_model_file,
                       "--format", "json")  # fmt: skip
    assert code == 0, err
    data = json.loads((tmp_path / "out" / "x.json").read_text())
    assert data["duration"] == pytest.approx(1.5, abs=0.1)  # mp3 pads a little


def test_bad_model_is_one_line_error(capsys, loop_wav, tmp_path):
    not_a_model = tmp_path / "model.safetensors"
    not_a_model.write_text("not a model")
    for model, message in [(tmp_path / "missing.safetensors", "no such model file"),
                           (not_a_model, "not a readable drummernet model")]:  # fmt: skip
        code, _, err = run(capsys, loop_wav, "-o", tmp_path / "out", "--model", model)
        assert code == 1
        assert_one_line_error(err, message)
        assert not (tmp_path / "out").exists()
