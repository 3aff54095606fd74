"""Unsupervised training: runs, checkpoints, exact resume, bad files, signals and torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import REPO, SR, TINY_COMPONENTS

from drummernet.cli import main
from drummernet.errors import ConfigError
from drummernet.model.analyzer import AnalyzerConfig
from drummernet.model.network import DrummerNet
from drummernet.training.checkpoints import latest_checkpoint
from drummernet.training.config import (
    TrainConfig,
    config_differences,
    resolve_config,
    resume_config,
)
from drummernet.training.trainer import TrainingInterrupted, train
from drummernet.training.unlabeled import NoAudioError, UnlabeledAudio

TINY = {
    "model": {
        "analyzer": {
            "components": list(TINY_COMPONENTS),
            "channels": 8,
            "depth": 2,
            "rnn_hidden": 8,
            "n_mels": 32,
        },
        "kits": ["fluidr3_standard"],
    },
    "loss": {"domain": "stft", "fft_sizes": [512, 256]},
    "batch_size": 2,
    "clip_seconds": 0.5,
    "num_workers": 0,
    "log_every": 5,
    "val_every": 10,
    "val_examples": 2,
    "checkpoint_every": 10,
    "keep_checkpoints": 2,
    "warmup_steps": 5,
    "alpha_steps": 10,
}


def tiny_train_config(**changes) -> TrainConfig:
    return TrainConfig.from_dict({**TINY, **changes})


@pytest.fixture
def drum_audio_dir(tmp_path):
    """A folder of generated drum-like clips at assorted rates and channel counts."""
    folder = tmp_path / "audio"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (sr, channels) in enumerate([(44100, 2), (16000, 1), (22050, 1)]):
        n = int(3.0 * sr)
        audio = np.zeros((n, channels), dtype=np.float32)
        t = np.arange(int(0.2 * sr)) / sr
        hit = (rng.standard_normal(t.size) * np.exp(-t * 30)).astype(np.float32)
        for onset in np.arange(0.1, 2.8, 0.25 + 0.05 * i):
            start = int(onset * sr)
            audio[start : start + hit.size] += hit[: n - start, None]
        sf.write(folder / f"clip{i}.wav", audio * 0.3, sr)
    return folder


def _params(model_path):
    model = DrummerNet.load(model_path)
    return {k: v.clone() for k, v in model.analyzer.state_dict().items()}


def test_tiny_run_writes_checkpoints_and_model(tmp_path, drum_audio_dir):
    run = tmp_path / "run"
    path = train(run, [drum_audio_dir], tiny_train_config(steps=30), progress=False)
    assert path == run / "model.safetensors" and path.is_file()
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["step-00000020.pt", "step-00000030.pt"]  # keep_checkpoints=2
    assert json.loads((run / "config.json").read_text())["steps"] == 30
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_loss" in x for x in lines)
    assert all(np.isfinite(x["loss"]) for x in lines if "loss" in x)
    assert all(x["audio_seconds_per_second"] >= 0 for x in lines if "loss" in x)
    model = DrummerNet.load(path)
    assert model.components == TINY_COMPONENTS


class _SignalAt:
    """Wraps a dataset; sends SIGTERM to this process when example ``index`` is drawn."""

    def __init__(self, dataset, index: int) -> None:
        self.dataset, self.index = dataset, index

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        if index == self.index:
            os.kill(os.getpid(), signal.SIGTERM)
        return self.dataset[index]


def test_interrupt_and_resume_matches_uninterrupted_run(tmp_path, drum_audio_dir):
    from drummernet.training.datasets import build_dataset

    config = tiny_train_config(steps=16)
    torch.set_num_threads(1)  # the same reduction order in both runs
    full = train(tmp_path / "full", [drum_audio_dir], config, progress=False)

    dataset = build_dataset(config, [drum_audio_dir], synthetic=False)
    with pytest.raises(TrainingInterrupted) as stop:
        # Example 2 * 7 is drawn while preparing step 7 (batch size 2): the stop lands after it.
        train(tmp_path / "cut", config=config, dataset=_SignalAt(dataset, 14), progress=False)
    step = int(stop.value.checkpoint.stem.split("-")[1])
    assert 7 <= step < 16
    assert latest_checkpoint(tmp_path / "cut") == stop.value.checkpoint
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = train(tmp_path / "cut", [drum_audio_dir], resume=True, progress=False)

    a, b = _params(full), _params(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_corrupt_file_is_skipped_with_warning(tmp_path, drum_audio_dir, caplog):
    (drum_audio_dir / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    (drum_audio_dir / "empty.flac").write_bytes(b"")
    with caplog.at_level("WARNING"):
        data = UnlabeledAudio([drum_audio_dir], clip_seconds=0.5)
    assert len(data.files) == 3
    assert sorted(p.name for p, _ in data.skipped) == ["broken.wav", "empty.flac"]
    assert "broken.wav" in caplog.text
    clip = data.example(0)
    assert clip.shape == (SR // 2,) and torch.isfinite(clip).all()


def test_no_usable_audio_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(NoAudioError, match="no usable audio"):
        UnlabeledAudio([tmp_path])


def test_config_layers_merge_in_order_then_overrides(tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"steps": 7, "lr": 0.01, "model": {"analyzer": {"depth": 4}}}))
    ablation = tmp_path / "ablation.yaml"
    ablation.write_text("_note: a note, not config\nsteps: 9\nloss:\n  onset_weight: 0.5\n")
    config = resolve_config([base, ablation])
    assert config.steps == 9 and config.lr == 0.01  # the later file wins, the rest stays
    assert config.model.analyzer.depth == 4 and config.loss.onset_weight == 0.5
    assert config.model.analyzer.channels == AnalyzerConfig().channels  # defaults underneath
    assert resolve_config([ablation, base]).steps == 7
    config = resolve_config([base, ablation], ["steps=11", "model.analyzer.depth=2", "steps=12"])
    assert config.steps == 12 and config.model.analyzer.depth == 2 and config.lr == 0.01
    # A partial dict is merged over the defaults too, with the same checks.
    assert TrainConfig.from_dict({"steps": 7}) == TrainConfig().replace(steps=7)
    with pytest.raises(ConfigError, match="stepz"):
        TrainConfig.from_dict({"stepz": 7})


def _other_value(key: str, value):
    """A valid value of config field ``key`` other than ``value``, and its ``--set`` text."""
    choices = {
        "model.analyzer.frontend": "waveform",
        "model.analyzer.normalizer": "entmax15",
        "model.analyzer.component_norm": "sparse",
        "model.kit_norm": "energy",
        "loss.domain": "mel",
        "model.analyzer.components": ("KD", "SD"),
        "model.kits": ("audiophob",),
        "render_kits": ("audiophob", "fluidr3_tr808"),
        "loss.fft_sizes": (512, 128),
        "init_from": "runs/x/model.safetensors",
        "trainable": ("gain",),
        "trainable_components": ("KD",),
        "accompaniment_db": (-3.0, 6.0),
    }
    if key in choices:
        new = choices[key]
    elif isinstance(value, bool):
        new = not value
    elif isinstance(value, int):
        new = value + 3
    elif isinstance(value, float):
        new = value + 0.25
    else:
        raise AssertionError(f"no other value for {key}={value!r}")
    if isinstance(new, tuple):
        text = "[" + ",".join(str(v) for v in new) + "]"
    else:
        text = str(new).lower() if isinstance(new, bool) else str(new)
    return new, text


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_every_field_can_be_set_and_changes_the_fingerprint():
    default = TrainConfig()
    fields = _flat(default.to_dict())
    assert "model.analyzer.channels" in fields and "loss.onset_weight" in fields
    assert len(fields) >= 50  # every field of TrainConfig, ModelConfig, AnalyzerConfig, LossConfig
    fingerprints = {default.fingerprint()}
    for key, value in fields.items():
        new, text = _other_value(key, value)
        config = resolve_config(overrides=[f"{key}={text}"])
        assert _flat(config.to_dict())[key] == new, key
        assert config_differences(default, config) == [key]
        fingerprints.add(config.fingerprint())
    assert len(fingerprints) == len(fields) + 1


def test_fingerprint_is_stable_across_key_order_and_number_types(tmp_path):
    data = {"lr": 0.002, "steps": 10, "model": {"kits": ["audiophob"], "analyzer": {"depth": 2}}}
    forward, backward = tmp_path / "a.json", tmp_path / "b.json"
    forward.write_text(json.dumps(data))
    reordered = {"model": {"analyzer": {"depth": 2}, "kits": ["audiophob"]}, "steps": 10}
    backward.write_text(json.dumps({**reordered, "lr": 0.002}))
    a, b = resolve_config([forward]), resolve_config([backward])
    assert a.fingerprint() == b.fingerprint() == TrainConfig.from_dict(data).fingerprint()
    assert len(a.fingerprint()) == 10 and int(a.fingerprint(), 16) >= 0
    assert a.fingerprint() != TrainConfig().fingerprint()
    assert TrainConfig(lr=1).fingerprint() == TrainConfig(lr=1.0).fingerprint()
    assert a.replace(steps=11).fingerprint() != a.fingerprint()


@pytest.mark.parametrize(
    "options, named",
    [
        (["--set", "stepz=1"], "stepz"),
        (["--set", "steps=many"], "steps"),
        (["--set", "model.analyzer.channels=1.5"], "model.analyzer.channels"),
        (["--set", "model.analyzer.frontend=fft"], "frontend"),
        (["--set", "lr"], "KEY=VALUE"),
        (["--config", "missing.json"], "missing.json"),
        (["--config", "BAD"], "BAD"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path, capsys, monkeypatch, options, named):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BAD").write_text("steps: [1,\n")
    code = main(["train", "--out", str(tmp_path / "run"), *options])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("drummernet: error:") and len(err.strip().splitlines()) == 1, err
    assert named in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_resume_with_another_config_is_refused_naming_the_keys(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    saved = tiny_train_config(steps=4)
    (run / "config.json").write_text(json.dumps(saved.to_dict()))
    changed = saved.replace(lr=0.5, model=dataclasses.replace(saved.model, kits=("audiophob",)))
    with pytest.raises(ConfigError, match=r"differs in lr, model\.kits \(only"):
        train(run, config=changed, resume=True, progress=False)
    # Only the run's length and its loader processes may change.
    longer = saved.replace(steps=8, num_workers=2)
    assert resume_config(saved, longer) == longer and resume_config(saved, None) == saved
    # The CLI refuses too, in one line. Without --config or --set the run's own config is the
    # base, so only what the options change differs; --set resolves over the defaults.
    code = main(["train", "--out", str(run), "--resume", "--lr", "0.5", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "differs in lr (" in err, err
    code = main(["train", "--out", str(run), "--resume", "--set", "seed=3", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "model.analyzer.channels" in err and "seed" in err, err


def test_cli_resume_extends_a_run_with_its_own_config(tmp_path):
    run = tmp_path / "run"
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({**TINY, "steps": 1, "val_every": 0}))
    assert main(["train", "--synthetic", "--out", str(run), "--config", str(tiny),
                 "--no-progress"]) == 0  # fmt: skip
    assert main(["train", "--synthetic", "--out", str(run), "--resume", "--steps", "2",
                 "--no-progress"]) == 0  # fmt: skip
    stored = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert stored == resolve_config([tiny]).replace(steps=2)


def _train_command(audio_dir, run, config, launcher=()) -> list[str]:
    """``python [launcher] -m drummernet.cli train AUDIO --out RUN --config CONFIG``."""
    return [sys.executable, *launcher, "-m", "drummernet.cli", "train", str(audio_dir),
            "--out", str(run), "--config", str(config), "--no-progress"]  # fmt: skip


def _run_until_logged_then(cmd, env, run, interrupt, **popen) -> tuple[int, str]:
    """Start ``cmd``, wait until it has logged a step, call ``interrupt(proc)``; (code, stderr)."""
    import time

    proc = subprocess.Popen(
        [*cmd, "--steps", "100000"], env=env, stderr=subprocess.PIPE, text=True, **popen
    )
    try:
        metrics = run / "metrics.jsonl"
        for _ in range(600):  # wait until training has logged a few steps
            if metrics.is_file() and metrics.read_text().count("\n") >= 1:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        interrupt(proc)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


@pytest.mark.slow
def test_cli_train_and_sigint_resume(tmp_path, drum_audio_dir):
    """`drummernet train` in a subprocess: SIGINT saves a checkpoint, --resume finishes the run."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "checkpoint_every": 1000}))
    run = tmp_path / "run"
    cmd = _train_command(drum_audio_dir, run, config)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code, err = _run_until_logged_then(cmd, env, run, lambda p: p.send_signal(signal.SIGINT))
    assert code == 130, err
    assert "Traceback" not in err and "--resume" in err
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None
    step = int(checkpoint.stem.split("-")[1])
    done = subprocess.run(
        [*cmd, "--resume", "--steps", str(step + 3)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (run / "model.safetensors").is_file()


@pytest.mark.slow
def test_sigterm_to_the_process_group_with_data_workers_saves_a_checkpoint(
    tmp_path, drum_audio_dir
):
    """A scheduler's SIGTERM reaches the data workers too: the run must still save and exit."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "checkpoint_every": 1000, "num_workers": 1}))
    run = tmp_path / "run"
    cmd = _train_command(drum_audio_dir, run, config)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code, err = _run_until_logged_then(
        cmd,
        env,
        run,
        lambda p: os.killpg(p.pid, signal.SIGTERM),
        start_new_session=True,  # its own process group, as under a job scheduler
    )
    assert code == 130, err
    assert "Traceback" not in err and "--resume" in err
    assert latest_checkpoint(run) is not None


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, drum_audio_dir):
    if shutil.which("torchrun") is None and not (REPO / ".venv" / "bin" / "torchrun").exists():
        pytest.skip("torchrun not available")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    run = tmp_path / "ddp"
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd = _train_command(drum_audio_dir, run, config, launcher)
    cmd += ["--steps", "4", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 and ("Address" in result.stderr or "socket" in result.stderr.lower()):
        pytest.skip(f"cannot start processes here: {result.stderr.splitlines()[-1]}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run / "model.safetensors").is_file()
    assert latest_checkpoint(run).name == "step-00000004.pt"


def test_revive_silent_components_resets_only_their_heads():
    from conftest import synthetic_kit, tiny_config

    from drummernet.training.trainer import revive_silent_components

    torch.manual_seed(0)
    model = DrummerNet(tiny_config(), kits=synthetic_kit())
    optimizer = torch.optim.AdamW(model.analyzer.parameters())
    recon, act = model(torch.randn(2, SR) * 0.1)
    recon.square().mean().backward()
    optimizer.step()
    heads = model.analyzer.gain
    before = heads.weight.detach().clone()
    act = act.detach().clone()
    act[:, 1] = 0.0  # the snare stayed silent over the batch
    assert revive_silent_components(model.analyzer, optimizer, act, 1e-3) == [1]
    assert heads.bias[1].item() == -1.0 and heads.weight[1].abs().max() < 0.1
    torch.testing.assert_close(heads.weight[[0, 2]], before[[0, 2]])
    assert (optimizer.state[heads.weight]["exp_avg"][1] == 0).all()


def test_validation_reports_onset_f1_on_a_labelled_folder(tmp_path, drum_audio_dir):
    config = tiny_train_config(steps=2, val_every=2)
    train(
        tmp_path / "run",
        [drum_audio_dir],
        config,
        progress=False,
        validate_on=REPO / "drummernet" / "data",
    )  # the bundled example and its MIDI
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    scores = [x["val_mean_f1"] for x in lines if "val_mean_f1" in x]
    assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0


def test_reference_points_are_off_by_default():
    config = TrainConfig()
    assert config.loss.onset_supervision == 0.0 and config.teacher_steps == 0


def test_onset_supervision_trains_on_labelled_synthetic_stems_only(tmp_path, drum_audio_dir):
    from drummernet.training.datasets import build_dataset

    config = tiny_train_config(
        steps=3, log_every=1, val_every=3, loss={"domain": "stft", "onset_supervision": 1.0}
    )
    with pytest.raises(ValueError, match="synthetic stems only"):
        build_dataset(config, [drum_audio_dir])
    audio, targets = build_dataset(config)[0]
    assert targets.shape == (len(TINY_COMPONENTS), audio.shape[-1] // 80)
    train(tmp_path / "run", config=config, synthetic=True, progress=False)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [x for x in lines if "loss" in x]
    assert len(steps) == 3 and any("val_loss" in x for x in lines)
    for x in steps:
        total = x["reconstruction"] + x["onset_loss"]
        assert np.isfinite(x["onset_loss"]) and x["loss"] == pytest.approx(total, rel=1e-5)


def test_teacher_guides_only_the_first_teacher_steps(tmp_path):
    config = tiny_train_config(steps=3, log_every=1, val_every=0, teacher_steps=2)
    train(tmp_path / "run", config=config, synthetic=True, progress=False)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert ["teacher_loss" in x for x in lines] == [True, True, False]
    assert lines[0]["loss"] == pytest.approx(lines[0]["reconstruction"] + lines[0]["teacher_loss"])


def test_one_shot_warm_up_schedule():
    from drummernet.training.config import TrainConfig
    from drummernet.training.schedules import shot_length_at

    config = TrainConfig(shot_warmup_steps=100, shot_start_seconds=0.05)
    assert TrainConfig().shot_warmup_steps == 0 and shot_length_at(TrainConfig(), 0, 16000) is None
    assert shot_length_at(config, 0, 16000) == 800
    full = config.model.one_shot_seconds * 16000
    assert shot_length_at(config, 50, 16000) == int((0.05 + (1.0 - 0.05) / 2) * 16000)
    assert 800 < shot_length_at(config, 99, 16000) < full
    assert shot_length_at(config, 100, 16000) is None


def test_clean_target_trains_towards_the_dry_mix(tmp_path, drum_audio_dir, monkeypatch):
    from drummernet.training import trainer
    from drummernet.training.datasets import build_dataset

    config = tiny_train_config(steps=2, log_every=1, val_every=2, clean_target=True, stem_eq=True)
    assert not TrainConfig().clean_target and not TrainConfig().stem_eq
    with pytest.raises(ValueError, match="cannot be combined"):
        build_dataset(config.replace(loss=config.loss.__class__(onset_supervision=1.0)))
    item = build_dataset(config, [drum_audio_dir], synthetic=True)[0]
    assert item.shape == (2, int(0.5 * SR))
    seen = []
    original = trainer.SpectralLoss.forward

    def spy(self, estimate, target):
        seen.append(target.detach().clone())
        return original(self, estimate, target)

    monkeypatch.setattr(trainer.SpectralLoss, "forward", spy)
    dataset = build_dataset(config, synthetic=True)
    train(tmp_path / "run", config=config, dataset=dataset, progress=False)
    expected = torch.stack([dataset[i] for i in range(2)])[:, 1]  # step 0's batch, its targets
    torch.testing.assert_close(seen[0], expected)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("val_loss" in x for x in lines)


def test_usage_loss_pays_only_the_shortfall_of_each_components_peak():
    from drummernet.training.losses import usage_loss

    act = torch.zeros(2, 3, 10, requires_grad=True)
    with torch.no_grad():
        act[0, 0, 4] = 0.5  # above the floor: no cost
        act[1, 1, 2] = 0.02  # short by 0.03
    loss = usage_loss(act, 0.05)  # component 2 silent: short by 0.05
    assert loss.item() == pytest.approx((0.0 + 0.03 + 0.05) / 3)
    loss.backward()
    grad = act.grad
    assert grad[0, 0].abs().sum() == 0  # a component above the floor gets no push
    assert grad[1, 1, 2] < 0 and grad[1, 1].abs().sum() == grad[1, 1, 2].abs()  # its peak alone
    assert grad[:, 2].abs().sum() > 0  # a silent component still has a gradient


def test_trainable_prefixes_freeze_the_rest_of_the_analyzer(tmp_path, drum_audio_dir):
    """Fine-tuning the output heads alone leaves every other analyzer weight as it was."""
    heads = ("component_scores", "time_scores", "gain")
    config = tiny_train_config(steps=2, trainable=heads)
    torch.manual_seed(config.seed)
    before = DrummerNet(config.model).analyzer.state_dict()  # the run's own initialisation
    path = train(tmp_path / "run", [drum_audio_dir], config, progress=False)
    after = DrummerNet.load(path).analyzer.state_dict()
    changed = {name for name, p in after.items() if not torch.equal(p, before[name])}
    assert changed and all(name.startswith(heads) for name in changed)
    with pytest.raises(ConfigError, match="names no analyzer parameter"):
        train(tmp_path / "run2", [drum_audio_dir], config.replace(trainable=("nope",)))


def test_trainable_components_leave_the_other_rows_exactly_as_they_were(tmp_path, drum_audio_dir):
    heads = ("component_scores", "time_scores", "gain")
    start = tiny_train_config(steps=2)
    first = train(tmp_path / "start", [drum_audio_dir], start, progress=False)
    config = tiny_train_config(
        steps=2, trainable=heads, trainable_components=(TINY_COMPONENTS[0],), weight_decay=0.0
    ).replace(init_from=str(first))
    path = train(tmp_path / "run", [drum_audio_dir], config, progress=False)
    before = DrummerNet.load(first).analyzer.state_dict()
    after = DrummerNet.load(path).analyzer.state_dict()
    for name, value in after.items():
        if name.startswith(heads):
            assert torch.equal(value[1:], before[name][1:]), name  # other components' rows
        else:
            assert torch.equal(value, before[name]), name
    assert any(not torch.equal(after[n][0], before[n][0]) for n in after if n.startswith(heads))
