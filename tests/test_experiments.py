"""Ablation configs parse and build; the runner trains, evaluates and records a tiny run."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from drummernet.model.network import DrummerNet
from drummernet.training.config import config_differences, resolve_config
from experiments.__main__ import experiment_config, experiment_names, main, reference_point


@pytest.mark.parametrize("name", experiment_names())
def test_every_config_parses_and_builds(name):
    config = experiment_config(name)
    model = DrummerNet(config.model)
    with torch.no_grad():
        recon, act = model(torch.randn(1, 4000) * 0.1)
    assert recon.shape == (1, 4000)
    assert act.shape[1] == len(config.model.analyzer.components)


def test_ablations_differ_from_base():
    base = experiment_config("base")
    for name in experiment_names()[1:]:
        assert experiment_config(name) != base, name


def test_reference_points_are_marked_and_their_notes_are_not_config():
    assert experiment_config("supervised_upper_bound").loss.onset_supervision > 0
    assert experiment_config("supervised_upper_bound").synthetic_fraction == 1.0
    assert experiment_config("nmf_warm_start").teacher_steps > 0
    marked = [name for name in experiment_names() if reference_point(name)]
    assert marked == ["nmf_warm_start", "supervised_upper_bound"]


def test_report_labels_reference_points(tmp_path, monkeypatch):
    import experiments.__main__ as runner

    results = tmp_path / "results.csv"
    with open(results, "w", newline="") as handle:
        writer = csv.DictWriter(handle, runner.FIELDS)
        writer.writeheader()
        for name in ("base", "supervised_upper_bound"):
            writer.writerow({k: "" for k in runner.FIELDS} | {"name": name, "seed": 0})
    monkeypatch.setattr(runner, "RESULTS_CSV", results)
    monkeypatch.setattr(runner, "HERE", tmp_path)
    runner.report()
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| base | 0 |" in text
    assert "| supervised_upper_bound (reference point) | 0 |" in text
    assert "- `supervised_upper_bound`: supervised upper bound" in text


@pytest.mark.parametrize("name", ["conv_only", "supervised_upper_bound", "nmf_warm_start"])
def test_runner_two_steps_end_to_end(tmp_path, monkeypatch, name):
    monkeypatch.setenv("DRUMMERNET_DATA", str(tmp_path / "no-data"))  # procedural data only
    monkeypatch.setenv("DRUMMERNET_RESULTS", str(tmp_path / "results.csv"))
    import experiments.__main__ as runner

    monkeypatch.setattr(runner, "RESULTS_CSV", tmp_path / "results.csv")
    tiny = {
        "model": {"analyzer": {"channels": 4, "depth": 2, "rnn_hidden": 4, "n_mels": 16}},
        "batch_size": 2,
        "clip_seconds": 0.5,
        "num_workers": 0,
        "val_every": 0,
    }
    override = tmp_path / "tiny.json"
    override.write_text(json.dumps(tiny))
    assert (
        main(
            [
                "run",
                name,
                "--steps",
                "2",
                "--out",
                str(tmp_path / "runs"),
                "--config",
                str(override),
                "--eval-tracks",
                "1",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 1 and rows[0]["name"] == name and rows[0]["steps"] == "2"
    fingerprint = experiment_config(name, steps=2, files=[override]).fingerprint()
    assert rows[0]["run"] == f"{name}-{fingerprint}"
    assert (tmp_path / "runs" / rows[0]["run"] / "model.safetensors").is_file()
    assert 0.0 <= float(rows[0]["synth_mean"]) <= 1.0
    assert rows[0]["dev_mean"] == ""  # no dev set here
    if name != "conv_only":
        return
    # reevaluate re-scores the saved model and leaves rows without a model as they are.
    rows[0]["synth_mean"] = "9"
    ghost = dict(rows[0], name="base", synth_mean="7", run="base-0123456789")
    with open(tmp_path / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, runner.FIELDS)
        writer.writeheader()
        writer.writerows([rows[0], ghost])
    args = ["reevaluate", "--out", str(tmp_path / "runs"), "--eval-tracks", "1"]
    assert main(args) == 0
    rescored, untouched = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert 0.0 <= float(rescored["synth_mean"]) <= 1.0
    assert untouched["synth_mean"] == "7"


def test_configs_are_the_base_recipe_plus_small_overrides():
    import experiments.__main__ as runner

    assert [p.name for p in runner.CONFIGS.glob("*.json")] == ["base.json"]
    base = experiment_config("base")
    for name in experiment_names()[1:]:
        files = runner.experiment_files(name)
        assert [f.name for f in files] == ["base.json", f"{name}.json"]
        assert 1 <= len(config_differences(base, experiment_config(name))) <= 6, name
    # Overrides combine: denoising targets with short one-shots.
    both = resolve_config(
        [*runner.experiment_files("clean_target"), runner.CONFIGS / "ablations/short_shots.json"]
    )
    assert both.clean_target and both.model.one_shot_seconds == 0.3
    assert config_differences(base, both) == ["clean_target", "model.one_shot_seconds"]


def test_run_folder_is_named_by_the_resolved_config(tmp_path, monkeypatch):
    """An edited override trains in a new folder instead of resuming the stale run."""
    import shutil

    import drummernet.training.trainer as trainer
    import experiments.__main__ as runner

    configs = tmp_path / "configs"
    shutil.copytree(runner.CONFIGS, configs)
    monkeypatch.setattr(runner, "CONFIGS", configs)
    monkeypatch.setenv("DRUMMERNET_DATA", str(tmp_path / "no-data"))
    folders = []

    class Stop(Exception):
        pass

    def fake_train(run_dir, audio, config, **options):
        folders.append((run_dir, config))
        raise Stop

    monkeypatch.setattr(trainer, "train", fake_train)
    for edit in (None, None, {"model": {"analyzer": {"normalizer": "softmax"}}, "lr": 0.002}):
        if edit:
            (configs / "ablations" / "softmax.json").write_text(json.dumps(edit))
        with pytest.raises(Stop):
            runner.run("softmax", steps=2, seed=0, out=tmp_path / "runs")
    (first, config), (again, _), (edited, edited_config) = folders
    assert first == again == tmp_path / "runs" / f"softmax-{config.fingerprint()}"
    assert edited_config.lr == 0.002 and edited == tmp_path / "runs" / (
        f"softmax-{edited_config.fingerprint()}"
    )
    assert edited != first


def test_report_summarizes_seeds():
    import experiments.__main__ as runner

    rows = [
        {"name": "base", "steps": "400", "seed": s, "dev_KD": kd, "dev_SD": "0.5", "dev_HH": "",
         "dev_mean": kd, "synth_mean": "0.4"}
        for s, kd in [(0, "0.6"), (1, "0.8")]
    ] + [{"name": "softmax", "steps": "400", "seed": 0, "dev_KD": "0.9", "dev_SD": "0.5",
          "dev_HH": "", "dev_mean": "0.9", "synth_mean": ""}]  # fmt: skip
    base, softmax = runner.summarize(rows)  # base first, then by dev mean
    assert base["seeds"] == 2 and base["dev_KD"] == pytest.approx(0.7)
    assert base["dev_KD_sd"] == pytest.approx(0.1414, abs=1e-4) and base["dev_HH"] is None
    assert softmax["seeds"] == 1 and softmax["dev_KD_sd"] is None
    assert runner._cell(base, "dev_KD") == "0.700 ± 0.141"


def test_hat_leak_sorts_onsets_and_reads_hat_strength():
    import numpy as np

    from experiments.hat_leak import hat_strength, onset_kinds

    reference = {"HH": np.array([0.0, 0.5, 1.0]), "SD": np.array([0.51, 2.0]), "KD": [3.0]}
    kinds = onset_kinds(reference, window=0.03)
    assert kinds["hat alone"].tolist() == [0.0, 1.0]
    assert kinds["hat + KD/SD"].tolist() == [0.5]
    assert kinds["SD, no hat"].tolist() == [2.0] and kinds["KD, no hat"].tolist() == [3.0]
    assert onset_kinds({"KD": [1.0]}, 0.03)["hat alone"].size == 0  # no hats annotated
    hats = np.zeros(400, np.float32)
    hats[100], hats[101] = 0.3, 0.2  # one stroke split over two frames, at 0.5 s (200 frames/s)
    strength = hat_strength(hats, np.array([0.5, 0.52, 1.5]), frame_rate=200.0, window=0.03)
    np.testing.assert_allclose(strength, [0.5, 0.5, 0.0])


def test_calibration_keeps_each_classes_best_fraction_at_the_best_floor():
    from experiments.calibrate import choose

    nan = float("nan")
    scores = {
        (0.02, 0.1): {"KD": 0.5, "SD": 0.6, "HH": 0.9, "TT": nan},
        (0.02, 0.3): {"KD": 0.8, "SD": 0.6, "HH": 0.4, "TT": nan},
        (0.02, 0.5): {"KD": 0.7, "SD": 0.6, "HH": 0.3, "TT": nan},
        (0.05, 0.1): {"KD": 0.6, "SD": 0.5, "HH": 0.7, "TT": nan},
        (0.05, 0.3): {"KD": 0.9, "SD": 0.5, "HH": 0.6, "TT": nan},
        (0.05, 0.5): {"KD": 0.6, "SD": 0.5, "HH": 0.5, "TT": nan},
    }
    floor, relative, mean = choose(scores)
    # floor 0.02: KD 0.8 (0.3), SD 0.6 (a tie: the default 0.3), HH 0.9 (0.1) -> mean 0.767;
    # floor 0.05: KD 0.9, SD 0.5, HH 0.7 -> mean 0.7. A class with no reference gets no entry.
    assert floor == 0.02 and relative == {"KD": 0.3, "SD": 0.3, "HH": 0.1}
    assert mean == pytest.approx((0.8 + 0.6 + 0.9) / 3)


def _procedural_suffix() -> str:
    from experiments.__main__ import data_root

    return "" if (data_root() / "gmd" / "groove").is_dir() else "_procedural"


#: The name suffix of a synthetic set rendered without the Groove MIDI Dataset.
_PROCEDURAL = _procedural_suffix()


def test_a_set_without_the_groove_dataset_is_named_and_announced(tmp_path, monkeypatch, capsys):
    """Procedural grooves stand in when the Groove MIDI Dataset is missing; such a set never
    takes a Groove set's folder name, so neither is reused as the other."""
    from experiments.__main__ import synthetic_eval_tracks

    monkeypatch.setenv("DRUMMERNET_DATA", str(tmp_path / "nothing"))
    folder = synthetic_eval_tracks(tmp_path / "set", count=1, seconds=2.0, sr=22050)
    assert folder.name == "set_procedural_22050"
    assert len(list(folder.glob("*.mid"))) == 1
    assert "no Groove MIDI Dataset" in capsys.readouterr().err
    synthetic_eval_tracks(tmp_path / "set", count=1, seconds=2.0, sr=22050)  # cached: no line
    assert capsys.readouterr().err == ""


def test_natural_balance_renders_hats_and_cymbals_under_the_snare(tmp_path):
    import numpy as np
    import soundfile as sf

    from drummernet.training.render import NATURAL_BALANCE_DB
    from experiments.__main__ import synthetic_eval_tracks

    assert NATURAL_BALANCE_DB["SD"] == 0.0
    assert max(v for c, v in NATURAL_BALANCE_DB.items() if c[:2] in ("HH", "CY")) < -6
    shares = {}
    for balance in ("flat", "natural"):
        folder = synthetic_eval_tracks(
            tmp_path / "set", count=1, seconds=4.0, kits=["fluidr3_standard"], balance=balance
        )
        assert folder.name == ("set" if balance == "flat" else "set_natural") + _PROCEDURAL
        audio, sr = sf.read(folder / "synth00.wav", dtype="float32")
        power = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / sr)
        shares[balance] = power[freqs > 5000].sum() / power.sum()
    # Same performance and augmentation; only the drums' levels differ, the bright ones lowered.
    assert shares["natural"] < 0.5 * shares["flat"]
    with pytest.raises(ValueError, match="balance must be one of"):
        synthetic_eval_tracks(tmp_path / "bad", balance="loud")


def test_tambourine_set_plays_every_second_tracks_hats_on_the_tambourine(tmp_path):
    import numpy as np

    from drummernet.constants import COMPONENTS
    from drummernet.evaluation.datasets import read_dataset
    from drummernet.training.performances import COMPONENT_INDEX, Performance
    from experiments.__main__ import hats_on_tambourine, synthetic_eval_tracks

    hat, kick = COMPONENT_INDEX["HH_CHH"], COMPONENT_INDEX["KD"]
    perf = Performance([0.1, 0.2, 0.3], [hat, kick, COMPONENT_INDEX["HH_OHH"]], [90, 100, 70], 1.0)
    moved = hats_on_tambourine(perf)
    assert [COMPONENTS[c] for c in moved.components] == ["OT_TMB", "KD", "OT_TMB"]
    assert [COMPONENTS[v] for v in moved.voices] == ["OT_TMB", "KD", "OT_TMB"]
    np.testing.assert_array_equal(moved.velocities, perf.velocities)

    plain = read_dataset(synthetic_eval_tracks(tmp_path / "set", count=4, seconds=4.0))
    folder = synthetic_eval_tracks(tmp_path / "set", count=4, seconds=4.0, tambourine=True)
    assert folder.name == "set_tambourine" + _PROCEDURAL
    shaken = read_dataset(folder)
    # The first track is the plain set's; then the sets may draw other performances (moving
    # the hats changes what the renderer draws).
    for label, times in plain[0].reference.items():
        np.testing.assert_allclose(shaken[0].reference[label], times)
    for track in shaken[1::2]:
        assert not any(len(times) for label, times in track.reference.items() if "HH" in label)
    assert any("OT_TMB" in track.reference for track in shaken[1::2])
