"""Ablation runner: ``python -m experiments run NAME`` and ``python -m experiments report``.

Every experiment is ``configs/base.json`` layered with a few-line override from
``configs/ablations/NAME.json`` (``base`` itself is the baseline), the same layering as
``drummernet train --config configs/base.json --config configs/ablations/NAME.json``. ``run``
trains it with the unsupervised trainer in ``runs/experiments/NAME-FINGERPRINT`` (the
fingerprint of the resolved config, so an edited override starts a new run instead of resuming
a stale one), evaluates it on the dev set (when present) and on a labelled synthetic set
generated from the Groove MIDI Dataset's validation split, and appends one row to
``experiments/results.csv``. ``report`` writes ``experiments/RESULTS.md`` (a table) and
``experiments/results.png`` (F1 per class per ablation, needs matplotlib).

Labels are used only in evaluation, never in training, except by the reference points: an
override with a ``"_reference_point"`` note (e.g. ``supervised_upper_bound``, trained on the
synthetic stems' own labels, and ``nmf_warm_start``, guided by an NMF teacher at first) is not the
pure method, and the report marks it so. Keys starting with ``_`` are notes, not config.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drummernet.training.config import TrainConfig
    from drummernet.training.performances import Performance

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
RESULTS_CSV = Path(os.environ.get("DRUMMERNET_RESULTS", HERE / "results.csv"))
FIELDS = [
    "name",
    "seed",
    "steps",
    "minutes",
    "dev_KD",
    "dev_SD",
    "dev_HH",
    "dev_mean",
    "synth_KD",
    "synth_SD",
    "synth_HH",
    "synth_mean",
    "final_loss",
    "finished",
    "run",
]


def data_root() -> Path:
    return Path(os.environ.get("DRUMMERNET_DATA", HERE.parents[1] / "shared" / "data"))


def experiment_names() -> list[str]:
    return ["base"] + sorted(p.stem for p in (CONFIGS / "ablations").glob("*.json"))


def _ablation_file(name: str) -> Path:
    """The override file of ablation ``name``; exits with the list of names if there is none."""
    path = CONFIGS / "ablations" / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"unknown experiment {name!r}; choose from {experiment_names()}")
    return path


def _override(name: str) -> dict:
    """The override of ablation ``name``, notes (keys starting with ``_``) included."""
    return json.loads(_ablation_file(name).read_text())


def _settings(name: str) -> dict:
    """The override of ablation ``name`` without its notes: what it changes in the config."""
    return {k: v for k, v in _override(name).items() if not k.startswith("_")}


def reference_point(name: str) -> str | None:
    """The ``"_reference_point"`` note of experiment ``name``: what makes it other than the pure
    unsupervised method (None for the method and its ablations)."""
    if name == "base" or not (CONFIGS / "ablations" / f"{name}.json").is_file():
        return None
    return _override(name).get("_reference_point")


def experiment_files(name: str) -> list[Path]:
    """The config files of experiment ``name``, in merge order: the base recipe, then the
    ablation's override."""
    base = CONFIGS / "base.json"
    return [base] if name == "base" else [base, _ablation_file(name)]


def experiment_config(
    name: str,
    steps: int | None = None,
    seed: int | None = None,
    files: Sequence[str | os.PathLike[str]] = (),
    overrides: Sequence[str] = (),
) -> TrainConfig:
    """The :class:`TrainConfig` of experiment ``name``: its files, then ``files`` (e.g. a tiny
    model for smoke tests), then dotted ``overrides``, then ``steps`` and ``seed``."""
    from drummernet.training.config import resolve_config

    config = resolve_config([*experiment_files(name), *files], overrides)
    changes = {k: v for k, v in {"steps": steps, "seed": seed}.items() if v is not None}
    return config.replace(**changes)


BALANCES = ("flat", "natural")


def synthetic_eval_tracks(
    folder: Path,
    count: int = 8,
    seconds: float = 20.0,
    sr: int | None = None,
    split: str = "validation",
    seed: int = 1234,
    kits: Sequence[str] | None = None,
    balance: str = "flat",
    tambourine: bool = False,
) -> Path:
    """Render a labelled synthetic set (audio + same-stem MIDI) once, for evaluation only, at
    ``sr`` (default: the package rate; a model at a higher rate should be judged on audio that
    has its upper band). A set at another rate than the package's lives in ``folder`` with
    ``_<sr>`` appended to its name. ``balance="natural"`` plays each component at
    :data:`~drummernet.training.render.NATURAL_BALANCE_DB` (folder name ``_natural``); ``"flat"``
    plays the one-shots at their own levels. With ``tambourine`` (folder name ``_tambourine``) every
    second track has its hi-hat part (closed, pedal and open) played on the tambourine instead, so
    that a set has tracks with a tambourine and no hi-hat: no Groove performance has a tambourine.
    Without the Groove MIDI Dataset under :func:`data_root`, procedural grooves are rendered
    instead, into a folder whose name also ends in ``_procedural`` (before the rate), and a line
    on stderr says so.

    The Groove ``split`` and the ``seed`` pick the performances, kits and augmentation: the
    calibration of note thresholds (``experiments.calibrate``) renders the validation split with
    the default seed, so a set that scores a calibrated model must use other performances (the
    benchmark's is the test split).

    Returns:
        the folder holding the set.
    """
    import numpy as np
    import soundfile as sf

    from drummernet.constants import SAMPLE_RATE
    from drummernet.midi import drum_midi
    from drummernet.model.kits import DrumKit, list_kits
    from drummernet.training.grooves import procedural_groove
    from drummernet.training.performances import groove_midi_files, read_drum_midi
    from drummernet.training.render import NATURAL_BALANCE_DB, render

    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {', '.join(BALANCES)}, not {balance!r}")
    sr = sr or SAMPLE_RATE
    if balance != "flat":
        folder = folder.with_name(f"{folder.name}_{balance}")
    if tambourine:
        folder = folder.with_name(f"{folder.name}_tambourine")
    gmd = data_root() / "gmd" / "groove"
    midi = groove_midi_files(gmd, split=split) if gmd.is_dir() else []
    if not midi:  # never mistaken for, or reused as, a set of Groove performances
        folder = folder.with_name(f"{folder.name}_procedural")
    if sr != SAMPLE_RATE:
        folder = folder.with_name(f"{folder.name}_{sr}")
    if folder.is_dir() and len(list(folder.glob("*.mid"))) >= count:
        return folder
    if not midi:
        print(
            f"synthetic set: no Groove MIDI Dataset {split} split under {gmd}; rendering "
            f"procedural grooves into {folder}",
            file=sys.stderr,
        )
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kit_set = [DrumKit.load(k, sr=sr) for k in (kits or list_kits())]
    levels = NATURAL_BALANCE_DB if balance == "natural" else None
    for i in range(count):
        if midi:
            perf = read_drum_midi(midi[int(rng.integers(len(midi)))]).crop(0.0, seconds)
        else:
            perf = procedural_groove(rng, seconds)
        if tambourine and i % 2:
            perf = hats_on_tambourine(perf)
        audio = render(perf, kit_set, rng, sr=sr, augment=True, balance_db=levels)
        sf.write(folder / f"synth{i:02d}.wav", audio, sr)
        drum_midi(perf.drum_notes(), note_duration=0.05).write(str(folder / f"synth{i:02d}.mid"))
    return folder


def hats_on_tambourine(perf: Performance) -> Performance:
    """The performance with its hi-hat strokes (closed, pedal, open) played on the tambourine."""
    import numpy as np

    from drummernet.constants import COMPONENTS, component_class
    from drummernet.training.performances import COMPONENT_INDEX, Performance

    hats = [i for i, code in enumerate(COMPONENTS) if component_class(code) == "HH"]
    moved = np.isin(perf.components, hats)
    tambourine = COMPONENT_INDEX["OT_TMB"]
    return Performance(
        perf.times,
        np.where(moved, tambourine, perf.components),
        perf.velocities,
        perf.duration,
        np.where(moved, tambourine, perf.voices),
    )


def run(
    name: str,
    steps: int | None,
    seed: int | None,
    out: Path,
    files: Sequence[str | os.PathLike[str]] = (),
    overrides: Sequence[str] = (),
    eval_tracks: int = 8,
) -> dict:
    """Train experiment ``name`` (resuming its run folder ``out/NAME-FINGERPRINT`` if it has
    one), evaluate it and append its row to the results; returns the row."""
    from drummernet.model.network import DrummerNet
    from drummernet.training.trainer import train

    config = experiment_config(name, steps, seed, files, overrides)
    run_dir = out / f"{name}-{config.fingerprint()}"
    root = data_root()
    loops = root / "loops"
    gmd = root / "gmd" / "groove"
    audio = [loops] if loops.is_dir() and config.synthetic_fraction < 1.0 else []
    start = time.time()
    model_path = train(
        run_dir,
        audio,
        config,
        synthetic=True,
        synthetic_midi=[gmd] if gmd.is_dir() else None,
        resume=True,
    )
    minutes = (time.time() - start) / 60
    model = DrummerNet.load(model_path)
    row: dict = {
        "name": name,
        "seed": config.seed,
        "steps": config.steps,
        "minutes": round(minutes, 1),
    }
    row.update(scores(model, out, eval_tracks))
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # The reconstruction part alone where the loss has others (reference points), so that
    # final_loss compares with the method's.
    losses = [m.get("reconstruction", m["loss"]) for m in metrics if "loss" in m]
    row["final_loss"] = round(losses[-1], 4) if losses else ""
    row["finished"] = time.strftime("%Y-%m-%d %H:%M")
    row["run"] = run_dir.name
    append_row(row)
    return row


def scores(model, out: Path, eval_tracks: int = 8) -> dict:
    """Dev (when present) and synthetic-set F1 of ``model`` with the current peak picking."""
    from drummernet.evaluation.datasets import read_dataset
    from drummernet.evaluation.scoring import evaluate
    from drummernet.evaluation.systems import transcription_system

    folder = out / "synthetic_eval"
    sets = {"synth": synthetic_eval_tracks(folder, count=eval_tracks, sr=model.sample_rate)}
    if (data_root() / "mdb_dev").is_dir():
        sets["dev"] = data_root() / "mdb_dev"
    row = {}
    for key, folder in sets.items():
        result = evaluate(transcription_system(model), read_dataset(folder), progress=False)
        for c in ("KD", "SD", "HH"):
            row[f"{key}_{c}"] = round(result.macro(c)["f1"], 4)
        row[f"{key}_mean"] = round(result.mean_f1, 4)
    return row


def reevaluate(out: Path, eval_tracks: int = 8) -> None:
    """Re-score every row of results.csv whose run folder (its ``run`` column) is in ``out`` with
    the current peak picking (the models are kept; training is not repeated). Rows without a
    model stay as they are."""
    from drummernet.model.network import DrummerNet

    rows = _read_rows()
    for row in rows:
        model_path = out / (row.get("run") or "-") / "model.safetensors"
        if row.get("run") and model_path.is_file():
            row.update(scores(DrummerNet.load(model_path), out, eval_tracks))
            print(f"{row['name']} seed {row['seed']}: dev mean {row.get('dev_mean')}")
        else:
            print(f"{row['name']} seed {row['seed']}: no model in {out}, left as it was")
    _write_rows(rows)


def _read_rows() -> list[dict]:
    with open(RESULTS_CSV) as handle:
        return list(csv.DictReader(handle))


def _write_rows(rows: list[dict]) -> None:
    """Rewrite results.csv with the columns of :data:`FIELDS` (a column an older file lacks is
    left empty in its rows)."""
    tmp = RESULTS_CSV.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in FIELDS} for r in rows)
    tmp.replace(RESULTS_CSV)


def append_row(row: dict) -> None:
    _write_rows((_read_rows() if RESULTS_CSV.is_file() else []) + [row])


def _override_text(name: str) -> str:
    """The override of ``name`` as compact JSON (notes left out), ``"-"`` for base."""
    if name == "base" or not (CONFIGS / "ablations" / f"{name}.json").is_file():
        return "-"
    return json.dumps(_settings(name), separators=(",", ":")).replace("|", "\\|")


def summarize(rows: list[dict]) -> list[dict]:
    """One entry per (experiment, steps): per-column mean and standard deviation over seeds."""
    import statistics

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["name"], r["steps"]), []).append(r)
    summary = []
    for (name, steps), members in groups.items():
        entry: dict = {"name": name, "steps": steps, "seeds": len(members)}
        for key in ("dev_KD", "dev_SD", "dev_HH", "dev_mean", "synth_mean"):
            values = [float(m[key]) for m in members if m.get(key) not in ("", None)]
            entry[key] = statistics.fmean(values) if values else None
            entry[key + "_sd"] = statistics.stdev(values) if len(values) > 1 else None
        summary.append(entry)
    summary.sort(key=lambda e: (e["name"] != "base", -(e["dev_mean"] or 0.0)))
    return summary


def _cell(entry: dict, key: str) -> str:
    value, sd = entry[key], entry[key + "_sd"]
    if value is None:
        return ""
    return f"{value:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")


def report() -> None:
    if not RESULTS_CSV.is_file():
        raise SystemExit("no results yet: run `python -m experiments run NAME` first")
    with open(RESULTS_CSV) as handle:
        rows = list(csv.DictReader(handle))
    notes = {r["name"]: reference_point(r["name"]) for r in rows}
    summary = summarize(rows)

    def label(name: str) -> str:
        return f"{name} (reference point)" if notes[name] else name

    lines = [
        "# Ablation results",
        "",
        "Generated by `python -m experiments report` from `experiments/results.csv`: the mean "
        "over seeds (± standard deviation where there are several), best dev mean first.",
        "",
        "| experiment | override of `configs/base.json` | steps | seeds | dev KD | dev SD | dev HH "
        "| dev mean | synth mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        lines.append(
            f"| {label(e['name'])} | `{_override_text(e['name'])}` | {e['steps']} | {e['seeds']} "
            f"| {_cell(e, 'dev_KD')} | {_cell(e, 'dev_SD')} | {_cell(e, 'dev_HH')} "
            f"| {_cell(e, 'dev_mean')} | {_cell(e, 'synth_mean')} |"
        )
    marked = {name: note for name, note in notes.items() if note}
    if marked:
        lines += ["", "Reference points, not the pure unsupervised method:", ""]
        lines += [f"- `{name}`: {note}" for name, note in sorted(marked.items())]
    lines += ["", "![dev F1 per class per ablation](results.png)", ""]
    discussion = HERE / "discussion.md"  # hand-written reading of the figures, kept across reports
    if discussion.is_file():
        lines.append(discussion.read_text())
    lines += [
        "",
        "## Every run",
        "",
        "| experiment | seed | steps | minutes | dev KD | dev SD | dev HH | dev mean | synth mean "
        "| final loss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {label(r['name'])} | {r['seed']} | {r['steps']} | {r['minutes']} | {r['dev_KD']} "
            f"| {r['dev_SD']} | {r['dev_HH']} | {r['dev_mean']} | {r['synth_mean']} "
            f"| {r['final_loss']} |"
        )
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: table written, plot skipped", file=sys.stderr)
        return
    names = [
        f"{e['name']}{' (ref)' if notes[e['name']] else ''}"
        + (f" ({e['seeds']} seeds)" if e["seeds"] > 1 else "")
        for e in summary
    ]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(summary)), 4.5))
    width = 0.25
    for i, c in enumerate(("KD", "SD", "HH")):
        values = [e[f"dev_{c}"] or 0.0 for e in summary]
        errors = [e[f"dev_{c}_sd"] or 0.0 for e in summary]
        x = [k + (i - 1) * width for k in range(len(summary))]
        ax.bar(x, values, width, yerr=errors, capsize=2, label=c)
    ax.set_xticks(range(len(summary)), names, rotation=60, ha="right")
    ax.set_ylabel("dev onset F1 (50 ms)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "results.png", dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train + evaluate one experiment, append to results.csv")
    p.add_argument("name", help="base or an ablation name: " + ", ".join(experiment_names()))
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", type=Path, default=HERE.parent / "runs" / "experiments")
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="a config file merged over the experiment's (repeatable)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="a dotted config override applied after the files, e.g. loss.onset_weight=0",
    )
    p.add_argument("--eval-tracks", type=int, default=8, help="size of the synthetic eval set")
    sub.add_parser("list", help="list the experiments")
    sub.add_parser("report", help="write RESULTS.md and results.png")
    p = sub.add_parser(
        "reevaluate", help="re-score the saved models of results.csv with the current peak picking"
    )
    p.add_argument("--out", type=Path, default=HERE.parent / "runs" / "experiments")
    p.add_argument("--eval-tracks", type=int, default=8, help="size of the synthetic eval set")
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(experiment_names()))
    elif args.command == "report":
        report()
    elif args.command == "reevaluate":
        reevaluate(args.out, args.eval_tracks)
    else:
        files, overrides = args.config, args.overrides
        row = run(args.name, args.steps, args.seed, args.out, files, overrides, args.eval_tracks)
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
