"""`drummernet evaluate` (onset scores on a labelled dataset) and `drummernet kits`."""

from __future__ import annotations

import argparse

from drummernet.cli.common import (
    EXIT_USAGE,
    CliError,
    add_peak_picking,
    add_source,
    check_peak_picking,
    check_source,
    peak_picking,
    source_options,
)
from drummernet.constants import DEFAULT_ONSET_WINDOW


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score onset precision/recall/F1 against an annotated dataset",
        description="Evaluate a model (or the band-wise onset baseline) on an annotated dataset.",
    )
    p.add_argument("--dataset", required=True, metavar="DIR", help="annotated dataset folder")
    p.add_argument("--model", metavar="PATH", help="model file (default: the shipped model)")
    p.add_argument(
        "--baseline", action="store_true", help="evaluate the band-wise spectral-flux baseline"
    )
    p.add_argument("--window", type=float, default=DEFAULT_ONSET_WINDOW, help="onset tolerance (s)")
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--device", help="torch device")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_peak_picking(p)
    add_source(p)
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drummernet.evaluation.datasets import read_dataset
    from drummernet.evaluation.scoring import System, evaluate

    check_peak_picking(args)
    check_source(args)
    if not args.window > 0:
        raise CliError("--window must be positive", EXIT_USAGE)
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise CliError(f"{args.json} exists; use --overwrite to replace")
    if args.json:
        from drummernet.audio import check_writable

        check_writable(Path(args.json).parent)  # before the evaluation, not after
    tracks = read_dataset(args.dataset)
    system: System
    if args.baseline:
        from drummernet.evaluation.baselines import bandwise_system

        system = bandwise_system
    else:
        from drummernet.evaluation.systems import transcription_system
        from drummernet.transcription.inference import load_model

        model = load_model(args.model, device=args.device)
        system = transcription_system(model, **peak_picking(args), **source_options(args))
    result = evaluate(system, tracks, window=args.window, progress=not args.no_progress)
    print(result.table())
    if args.json:
        result.to_json(args.json, overwrite=args.overwrite)
    return 0


def add_kits(sub) -> None:
    p = sub.add_parser("kits", help="list the built-in drum kits")
    p.set_defaults(handler=_cmd_kits)


def _cmd_kits(args: argparse.Namespace) -> int:
    from drummernet.model.kits import load_manifest

    for name, entry in load_manifest()["kits"].items():
        print(f"{name:14s} {entry.get('description', '')}")
    return 0
