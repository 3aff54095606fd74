"""Bad inputs a new user can hit end in one line that names what is wrong, and never in runaway
memory or an "unexpected ..." error: absurd sample rates, unusable arguments, model files with bad
metadata, unreadable checkpoints, unwritable output folders and bad annotations (issue 18)."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, drum_loop

from drummernet import audio as audio_io
from drummernet.audio import AudioInfo, audio_info, load_input, read_audio
from drummernet.cli import main
from drummernet.errors import AudioError, DatasetError, DrummerNetError, ModelLoadError
from drummernet.transcription.inference import load_model, transcribe


def run(capsys, *args) -> tuple[int, str]:
    code = main(["transcribe", *map(str, args)])
    return code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("drummernet: error:")]
    assert lines and "Traceback" not in err and "unexpected" not in err, err
    return lines[0]


def wav_claiming_rate(path: Path, rate: int, frames: int = 400) -> Path:
    """A valid 16-bit mono WAV whose header then claims ``rate`` Hz."""
    sf.write(path, np.zeros(frames, np.float32), SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"fmt "
    struct.pack_into("<II", data, 24, rate, rate * 2)  # sample rate, byte rate
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def loop_wav(tmp_path) -> Path:
    audio, _ = drum_loop(1.0)
    path = tmp_path / "loop.wav"
    sf.write(path, audio, SR)
    return path


# ------------------------------------------------------------------------------ sample rates


@pytest.mark.parametrize("rate", [1, 1000, 1_000_000])
def test_a_file_with_an_absurd_sample_rate_is_refused(tmp_path, rate):
    path = wav_claiming_rate(tmp_path / "odd.wav", rate)
    with pytest.raises(AudioError, match=f"odd.wav: sample rate {rate} Hz") as raised:
        audio_info(path)
    assert len(str(raised.value).splitlines()) == 1


def test_an_absurd_rate_in_a_batch_does_not_stop_the_others(
    capsys, tmp_path, loop_wav, tiny_model_file
):
    bad = wav_claiming_rate(tmp_path / "bad.wav", 1)
    out = tmp_path / "out"
    code, err = run(capsys, bad, loop_wav, "-o", out, "--model", tiny_model_file)
    assert code == 1
    assert "bad.wav: sample rate 1 Hz" in one_error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["loop.mid"]


@pytest.mark.parametrize("rate", [1, 0, -8000, 10**9, "fast"])
def test_an_array_with_an_absurd_rate_is_refused(tiny_model, rate):
    with pytest.raises(AudioError, match="sample rate"):
        transcribe(np.zeros(400, np.float32), sr=rate, model=tiny_model)


def test_a_header_that_overstates_its_length_costs_no_memory(tmp_path, monkeypatch):
    """A header may claim any length; the reader must not allocate for it up front."""
    path = tmp_path / "x.flac"
    sf.write(path, np.full(SR, 0.1, np.float32), SR)
    real = audio_info

    def lying(p):
        info = real(p)
        return AudioInfo(info.path, info.sample_rate, info.channels, 10**12)

    monkeypatch.setattr(audio_io, "audio_info", lying)
    tracemalloc.start()
    try:
        samples, _ = read_audio(path, SR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(samples) == SR
    assert peak < 64 * 2**20


# ------------------------------------------------------------------------------ API arguments


@pytest.mark.parametrize("value", [None, 5, 2.5, {"a": 1}])
def test_transcribe_of_something_that_is_not_audio_says_so(tiny_model, value):
    with pytest.raises(AudioError, match="a file path or an array") as raised:
        transcribe(value, model=tiny_model)
    assert type(value).__name__ in str(raised.value)


def test_an_array_without_a_rate_or_of_three_dimensions_is_an_audio_error():
    with pytest.raises(AudioError, match="sr is required"):
        load_input(np.zeros(400, np.float32), None, SR)
    with pytest.raises(AudioError, match=r"\(channels, samples\)"):
        load_input(np.zeros((2, 2, 400), np.float32), SR, SR)


# ------------------------------------------------------------------------------- model files


def _rewrite_model(source: Path, target: Path, config=None, extra=None) -> Path:
    """``source`` with its config and extra metadata changed by the given functions."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as handle:
        metadata = dict(handle.metadata())
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    for key, change in (("config", config), ("extra", extra)):
        if change is not None:
            value = json.loads(metadata.get(key, "{}"))
            change(value)
            metadata[key] = json.dumps(value)
    save_file(state, str(target), metadata=metadata)
    return target


BAD_METADATA = {
    "hop_length 0": ({"config": lambda c: c["analyzer"].update(hop_length=0)}, "hop_length"),
    "hop_length text": ({"config": lambda c: c["analyzer"].update(hop_length="80")}, "hop_length"),
    "huge rnn_hidden": (
        {"config": lambda c: c["analyzer"].update(rnn_hidden=10**7)},
        "weights do not match",
    ),
    "text threshold": ({"extra": lambda e: e.update(threshold="abc")}, "threshold"),
    "negative threshold": ({"extra": lambda e: e.update(threshold=-5)}, "threshold"),
    "relative threshold 7": ({"extra": lambda e: e.update(relative_threshold=7)}, "relative"),
    "per-class relative threshold 7": (
        {"extra": lambda e: e.update(relative_threshold={"HH": 7})},
        "relative",
    ),
}


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_bad_model_metadata_is_refused_on_load_naming_the_file(
    capsys, tmp_path, tiny_model_file, loop_wav, case
):
    changes, message = BAD_METADATA[case]
    path = _rewrite_model(tiny_model_file, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(ModelLoadError, match=message) as raised:
        load_model(path, load_kit=False)
    assert str(path) in str(raised.value) and len(str(raised.value).splitlines()) == 1
    code, err = run(capsys, loop_wav, "-o", tmp_path / "out", "--model", path)
    assert code == 1 and str(path) in one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_good_model_metadata_still_loads(tmp_path, tiny_model_file):
    path = _rewrite_model(
        tiny_model_file,
        tmp_path / "good.safetensors",
        extra=lambda e: e.update(threshold=0.05, relative_threshold={"HH": 0.1, "KD": 0}),
    )
    assert load_model(path, load_kit=False).extra["threshold"] == 0.05


# --------------------------------------------------------------------------- output folders


def test_an_unwritable_output_folder_is_reported_before_the_model_runs(
    capsys, tmp_path, loop_wav, tiny_model_file, monkeypatch
):
    """As root a read-only folder is still writable, so the refusal is injected where the
    operating system gives it: creating a file in that folder."""
    import errno
    import os

    out = tmp_path / "readonly"
    out.mkdir()
    real_open = os.open

    def refuse(file, flags, *args, **kwargs):
        if Path(os.fsdecode(file)).parent == out and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    calls = []
    real_transcribe = transcribe

    def counted(*args, **kwargs):
        calls.append(args)
        return real_transcribe(*args, **kwargs)

    monkeypatch.setattr("drummernet.transcription.inference.transcribe", counted)
    code, err = run(capsys, loop_wav, "-o", out, "--model", tiny_model_file)
    line = one_error_line(err)
    assert code == 1 and calls == []
    assert str(out) in line and "not writable" in line
    assert "/." not in line  # no hidden temp file named
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------- checkpoints


def _tiny_config(**changes):
    from test_trainer import tiny_train_config

    return tiny_train_config(val_every=0, log_every=1, checkpoint_every=2, **changes)


def test_a_corrupt_newest_checkpoint_falls_back_to_the_newest_readable_one(tmp_path, caplog):
    from drummernet.training.checkpoints import checkpoint_paths
    from drummernet.training.trainer import train

    run = tmp_path / "run"
    train(run, config=_tiny_config(steps=4), synthetic=True, progress=False)
    assert [p.name for p in checkpoint_paths(run)] == ["step-00000002.pt", "step-00000004.pt"]
    (run / "checkpoints" / "step-00000004.pt").write_bytes(b"\x00" * 100)
    with caplog.at_level("WARNING"):
        train(run, config=_tiny_config(steps=5), synthetic=True, resume=True, progress=False)
    assert "step-00000004.pt" in caplog.text and "step-00000002.pt" in caplog.text
    assert (run / "checkpoints" / "step-00000005.pt").is_file()


def test_no_readable_checkpoint_is_a_one_line_error(tmp_path):
    from drummernet.training.trainer import train

    run = tmp_path / "run"
    train(run, config=_tiny_config(steps=2), synthetic=True, progress=False)
    (run / "checkpoints" / "step-00000002.pt").write_bytes(b"garbage")
    with pytest.raises(DrummerNetError, match="step-00000002.pt"):
        train(run, config=_tiny_config(steps=3), synthetic=True, resume=True, progress=False)


def test_resumed_steps_are_logged_once(tmp_path):
    """A run killed after its last checkpoint logged steps that the resumed run repeats."""
    from drummernet.training.trainer import train

    run = tmp_path / "run"
    train(run, config=_tiny_config(steps=3), synthetic=True, progress=False)
    (run / "checkpoints" / "step-00000003.pt").unlink()  # killed before step 3's checkpoint
    with open(run / "metrics.jsonl", "a") as log:
        log.write('{"step": 3, "loss": 1.')  # ... and in the middle of a line
    train(run, config=_tiny_config(steps=4), synthetic=True, resume=True, progress=False)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [line["step"] for line in lines if "loss" in line]
    assert steps == [1, 2, 3, 4]


# -------------------------------------------------------------------------------- evaluation


def test_a_negative_annotation_time_is_refused(tmp_path):
    from drummernet.evaluation.annotations import read_annotation

    path = tmp_path / "notes.txt"
    path.write_text("0.5 KD\n-0.25 SD\n")
    with pytest.raises(DatasetError, match=r"notes.txt:2: .*negative"):
        read_annotation(path)


def test_a_negative_idmt_onset_is_refused(tmp_path):
    from test_evaluation import IDMT_XML, write_audio, write_text

    from drummernet.evaluation.datasets import read_idmt

    root = tmp_path / "IDMT"
    write_audio(root / "audio" / "a#MIX.wav")
    write_text(root / "annotation_xml" / "a#MIX.xml", IDMT_XML.format(name="a").replace(
        "<onsetSec>0.30", "<onsetSec>-0.30"))  # fmt: skip
    with pytest.raises(DatasetError, match="negative"):
        read_idmt(root)


@pytest.mark.parametrize("rows", ["", "song\taudio.wav\n"])
def test_a_manifest_missing_one_column_names_that_column(tmp_path, rows):
    from drummernet.evaluation.datasets import read_manifest

    (tmp_path / "tracks.tsv").write_text("track\taudio\n" + rows)
    with pytest.raises(DatasetError) as raised:
        read_manifest(tmp_path)
    assert "missing column(s) annotation (" in str(raised.value)


def test_an_empty_manifest_says_it_has_no_tracks(tmp_path):
    from drummernet.evaluation.datasets import read_manifest

    (tmp_path / "tracks.tsv").write_text("track\taudio\tannotation\n")
    with pytest.raises(DatasetError, match="no tracks"):
        read_manifest(tmp_path)
