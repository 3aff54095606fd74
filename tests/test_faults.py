"""Fault injection: data workers that raise, disks that fill, SIGTERM and SIGKILL at random
points of training and writing, and processes racing for one output. Each must end cleanly: no
hang, a one-line error, no partial output and no hidden temporary file, every checkpoint
readable, and nothing written without ``--overwrite`` replaced (issue 18)."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch
from conftest import REPO, SR, drum_loop
from test_trainer import TINY, tiny_train_config

from drummernet.audio import atomic_write
from drummernet.cli import main
from drummernet.errors import NoAudioError, OutputError, OutputExistsError
from drummernet.model.network import DrummerNet
from drummernet.training.checkpoints import checkpoint_paths, load_checkpoint
from drummernet.training.trainer import train

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture
def loop_wav(tmp_path) -> Path:
    audio, _ = drum_loop(1.0)
    path = tmp_path / "in" / "loop.wav"
    path.parent.mkdir()
    sf.write(path, audio, SR)
    return path


def assert_complete_outputs(folder: Path) -> None:
    """Every visible output in ``folder`` is a whole file of its format."""
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.suffix == ".mid":
            pretty_midi.PrettyMIDI(str(path))
        elif path.suffix == ".json":
            assert json.loads(path.read_text())["format"] == "drummernet-transcription"
        elif path.suffix == ".csv":
            assert path.read_text().startswith("time,component,note,velocity\n")
        elif path.suffix == ".wav":
            assert sf.info(str(path)).frames > 0


# ------------------------------------------------------------------------------ data workers


class _NoiseUntil(torch.utils.data.Dataset):
    """Noise clips, example ``i`` seeded by ``i``; from example ``fail_at`` on, a worker error."""

    def __init__(self, fail_at: int, samples: int = SR // 2) -> None:
        self.fail_at, self.samples = fail_at, samples

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, index: int) -> torch.Tensor:
        if index >= self.fail_at:
            raise NoAudioError(f"example {index}: every crop is silent")
        generator = torch.Generator().manual_seed(index)
        return torch.randn(self.samples, generator=generator) * 0.1


def test_a_data_worker_error_ends_training_and_keeps_its_progress(tmp_path):
    """Before: the worker (which ignores SIGTERM) outlived the run, and the interpreter's exit
    waited for it forever."""
    run = tmp_path / "run"
    config = tiny_train_config(steps=20, num_workers=1, val_every=0, checkpoint_every=3)
    try:
        with pytest.raises(NoAudioError) as raised:
            # Step 5 reads examples 10 and 11 (batch size 2).
            train(run, config=config, dataset=_NoiseUntil(fail_at=10), progress=False)
        alive = [p for p in multiprocessing.active_children() if p.is_alive()]
        assert alive == [], "a data worker outlived the run"
    finally:
        for child in multiprocessing.active_children():
            child.kill()
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "example 10: every crop is silent" in message and "worker" in message
    names = [p.name for p in checkpoint_paths(run)]
    assert names == ["step-00000003.pt", "step-00000005.pt"]  # the steps before the error kept
    for path in checkpoint_paths(run):
        load_checkpoint(path)


@pytest.mark.slow
def test_training_on_silent_stems_with_a_data_worker_ends_in_one_line(tmp_path):
    """The issue's trigger: a folder of silent stems, the default one data worker."""
    stems = tmp_path / "stems"
    stems.mkdir()
    for i in range(2):
        sf.write(stems / f"silent{i}.wav", np.zeros(3 * SR, np.float32), SR)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "num_workers": 1, "val_every": 0}))
    cmd = [sys.executable, "-m", "drummernet.cli", "train", str(stems), "--out",
           str(tmp_path / "run"), "--config", str(config), "--steps", "5", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        _, err = proc.communicate(timeout=120)  # a guard against the hang, not a timing
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("training hung after a data worker failed")
    assert proc.returncode == 1, err
    errors = [line for line in err.splitlines() if line.startswith("drummernet: error:")]
    assert len(errors) == 1 and "silent" in errors[0] and "Traceback" not in err, err


# -------------------------------------------------------------------------------- full disks


def _fill_disk_after(monkeypatch, target, name: str, calls: int = 0) -> None:
    """Make ``target.name`` write some bytes, then fail as a full disk does, from its
    ``calls + 1``-th call on."""
    original = getattr(target, name)
    count = {"n": 0}

    def write(*args, **kwargs):
        count["n"] += 1
        if count["n"] <= calls:
            return original(*args, **kwargs)
        path = next(a for a in (*args, *kwargs.values()) if isinstance(a, (str, os.PathLike)))
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(target, name, write)


def test_a_full_disk_keeps_the_old_output_and_leaves_no_temp_file(
    capsys, tmp_path, loop_wav, tiny_model_file, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "loop.mid").write_bytes(b"the old transcription")
    _fill_disk_after(monkeypatch, pretty_midi.PrettyMIDI, "write")
    code = main(["transcribe", str(loop_wav), "-o", str(out), "--model", str(tiny_model_file),
                 "--overwrite"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("drummernet: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], err
    assert "loop.mid" in errors[0] and "/." not in errors[0] and "unexpected" not in err
    assert (out / "loop.mid").read_bytes() == b"the old transcription"
    assert hidden_files(out) == []


def test_a_full_disk_without_overwrite_leaves_no_output_of_that_input(
    capsys, tmp_path, loop_wav, tiny_model_file, monkeypatch
):
    """The first output is written, the second fills the disk: the first is taken back."""
    out = tmp_path / "out"
    monkeypatch.setattr(Path, "write_text", _full_disk_for_json(Path.write_text))
    code = main(["transcribe", str(loop_wav), "-o", str(out), "--model", str(tiny_model_file),
                 "--format", "mid,json"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "unexpected" not in err
    assert list(out.iterdir()) == []


def _full_disk_for_json(original):
    def write_text(self, *args, **kwargs):
        if self.suffix == ".json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, *args, **kwargs)

    return write_text


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_older_ones(tmp_path, monkeypatch):
    run = tmp_path / "run"
    config = tiny_train_config(steps=6, val_every=0, checkpoint_every=2, keep_checkpoints=2)
    _fill_disk_after(monkeypatch, torch, "save", calls=1)  # step 2 saves, step 4 fills the disk
    with pytest.raises(OutputError, match="No space left on device") as raised:
        train(run, config=config, synthetic=True, progress=False)
    assert "step-00000004.pt" in str(raised.value) and "/." not in str(raised.value)
    assert [p.name for p in checkpoint_paths(run)] == ["step-00000002.pt"]
    assert hidden_files(run / "checkpoints") == []
    monkeypatch.undo()
    train(run, config=config, synthetic=True, resume=True, progress=False)
    assert load_checkpoint(checkpoint_paths(run)[-1])["step"] == 6


# ----------------------------------------------------------------------------------- signals


_SIGTERM_WHILE_WRITING = """
import os, signal, sys, time
from pathlib import Path
import pretty_midi
original = pretty_midi.PrettyMIDI.write
def write(self, path):
    Path(path).write_bytes(b"MThd partial")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
pretty_midi.PrettyMIDI.write = write
from drummernet.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_while_writing_leaves_no_temp_file(tmp_path, loop_wav, tiny_model_file):
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", _SIGTERM_WHILE_WRITING, "transcribe", str(loop_wav),
           "-o", str(out), "--model", str(tiny_model_file), "--no-progress"]  # fmt: skip
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 143, done.stderr
    assert "terminated" in done.stderr and "Traceback" not in done.stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_sigkill_at_random_points_of_writing_never_leaves_a_partial_output(
    tmp_path, loop_wav, tiny_model_file
):
    rng = np.random.default_rng(18)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "drummernet.cli", "transcribe", str(loop_wav), "-o", str(out),
           "--model", str(tiny_model_file), "--format", "mid,json,csv,wav", "--no-progress",
           "--overwrite"]  # fmt: skip
    for delay in rng.uniform(0.5, 4.0, size=2):
        proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=60)
        if out.is_dir():
            assert_complete_outputs(out)
    assert main(cmd[3:]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "loop.csv", "loop.json", "loop.mid", "loop.wav"]  # fmt: skip
    assert_complete_outputs(out)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_at_a_random_point_of_training_loses_no_checkpoint(tmp_path, sig):
    """SIGTERM (to the process group, data worker included) or SIGKILL after a random number of
    logged steps: every checkpoint left is readable, and --resume finishes the run with each
    step logged once."""
    rng = np.random.default_rng(int(sig))
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "num_workers": 1, "val_every": 0, "log_every": 1,
                                  "checkpoint_every": 2}))  # fmt: skip
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "drummernet.cli", "train", "--synthetic", "--out", str(run),
           "--config", str(config), "--no-progress"]  # fmt: skip
    proc = subprocess.Popen([*cmd, "--steps", "100000"], env=ENV, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        wanted = int(rng.integers(2, 7))
        metrics = run / "metrics.jsonl"
        for _ in range(1200):
            if proc.poll() is not None:
                break
            if metrics.is_file() and metrics.read_text().count("\n") >= wanted:
                break
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "--resume" in err, err
    paths = checkpoint_paths(run)
    assert paths, err
    for path in paths:
        load_checkpoint(path)
    last = int(paths[-1].stem.split("-")[1])
    assert main(["train", "--synthetic", "--out", str(run), "--resume", "--steps", str(last + 2),
                 "--no-progress"]) == 0  # fmt: skip
    DrummerNet.load(run / "model.safetensors")
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    steps = [line["step"] for line in lines if "loss" in line]
    assert steps == list(range(1, last + 3))


# ----------------------------------------------------------------------- concurrent writers


def test_racing_exclusive_writes_let_exactly_one_win(tmp_path):
    path = tmp_path / "out.txt"
    start = threading.Barrier(8)
    results: dict[int, object] = {}

    def write(i: int) -> None:
        def fill(tmp: str) -> None:
            Path(tmp).write_text(f"writer {i}\n" * 1000)
            start.wait()  # every writer holds a finished file before any takes the name

        try:
            results[i] = atomic_write(path, fill, overwrite=False)
        except OutputExistsError as error:
            results[i] = error

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, result in results.items() if result == path]
    assert len(winners) == 1
    assert all(isinstance(results[i], OutputExistsError) for i in results if i not in winners)
    assert path.read_text() == f"writer {winners[0]}\n" * 1000
    assert hidden_files(tmp_path) == []
    atomic_write(path, lambda tmp: Path(tmp).write_text("replaced"))  # overwrite=True replaces
    assert path.read_text() == "replaced"


_RACE = """
import os, sys, time
from pathlib import Path
from drummernet.transcription.result import Transcription
barrier, count = Path(sys.argv[1]), int(sys.argv[2])
original = Transcription.write_midi
def write_midi(self, *args, **kwargs):
    # Every process has passed the CLI's check for existing outputs before any writes.
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < count:
        time.sleep(0.02)
    return original(self, *args, **kwargs)
Transcription.write_midi = write_midi
from drummernet.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
def test_concurrent_transcribes_never_silently_replace_each_other(
    tmp_path, loop_wav, tiny_model_file
):
    """Two inputs of one name written into one folder at once, without --overwrite (with it,
    each replaces the other atomically: see the test above)."""
    other = tmp_path / "other" / "loop.wav"
    other.parent.mkdir()
    audio, _ = drum_loop(1.0, seed=1)
    sf.write(other, audio, SR)
    barrier, out = tmp_path / "barrier", tmp_path / "out"
    barrier.mkdir()
    options = ["-o", str(out), "--model", str(tiny_model_file), "--no-progress"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(barrier), "2", "transcribe", str(source), *options],
            env=ENV,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source in (loop_wav, other)
    ]
    results = [(proc.wait(timeout=180), proc.stderr.read()) for proc in procs]
    assert sorted(code for code, _ in results) == [0, 1], results
    for code, err in results:
        if code:
            errors = [line for line in err.splitlines() if "error:" in line]
            assert "loop.mid exists; use --overwrite to replace" in errors[0], err
    assert sorted(p.name for p in out.iterdir()) == ["loop.mid"]
    pretty_midi.PrettyMIDI(str(out / "loop.mid"))


def test_evaluate_json_is_created_exclusively(tmp_path, capsys, monkeypatch):
    """``--json`` without ``--overwrite``: a file that appears while evaluating is not replaced."""
    from test_evaluation import write_audio, write_text

    from drummernet.evaluation import report

    root = tmp_path / "data"
    write_audio(root / "a.wav")
    write_text(root / "a.txt", "0.1 KD\n")
    write_text(root / "tracks.tsv", "track\taudio\tannotation\na\ta.wav\ta.txt\n")
    target = tmp_path / "scores.json"
    real_atomic_write = report.atomic_write

    def appears_meanwhile(path, *args, **kwargs):
        Path(path).write_text("someone else's scores")
        return real_atomic_write(path, *args, **kwargs)

    monkeypatch.setattr(report, "atomic_write", appears_meanwhile)
    code = main(["evaluate", "--dataset", str(root), "--baseline", "--json", str(target),
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "scores.json exists; use --overwrite to replace" in err, err
    assert target.read_text() == "someone else's scores"


def test_exclusive_writes_work_without_hard_links(tmp_path, monkeypatch):
    """Some file systems (FAT, some network mounts) refuse hard links: the name is then reserved
    with O_EXCL, still exclusively."""

    def no_links(source, target, *args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "out.txt"
    atomic_write(path, lambda tmp: Path(tmp).write_text("first"), overwrite=False)
    with pytest.raises(OutputExistsError, match="out.txt exists"):
        atomic_write(path, lambda tmp: Path(tmp).write_text("second"), overwrite=False)
    assert path.read_text() == "first" and hidden_files(tmp_path) == []
