"""`drummernet train`: unsupervised training on audio and/or drum MIDI."""

from __future__ import annotations

import argparse
import sys

from drummernet.cli.common import EXIT_INTERRUPTED


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a transcriber on unlabeled drum audio (reconstruction loss only)",
        description=(
            "Train DrummerNet by analysis-by-synthesis on unlabeled drum audio and/or synthetic "
            "drum stems. Labels are never used. Works under torchrun for multi-process training."
        ),
    )
    p.add_argument("audio", nargs="*", metavar="AUDIO_OR_DIR", help="unlabeled audio files/folders")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="JSON or YAML training config merged over the defaults; repeat to layer overrides "
        "(a later file wins)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="override one config field after the files, e.g. loss.onset_weight=0 or "
        "model.analyzer.channels=16 (repeatable; the shortcuts below apply last)",
    )
    p.add_argument("--steps", type=int, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint; without --config or --set the run's own "
        "config is the base, and a config that differs from it (but in --steps or "
        "--num-workers) is refused",
    )
    p.add_argument(
        "--synthetic-midi",
        nargs="+",
        metavar="DIR",
        help="render synthetic stems from these drum MIDI files/folders (a Groove MIDI Dataset "
        "root uses its train split)",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="add procedurally generated synthetic stems (the default when no audio is given)",
    )
    p.add_argument(
        "--kit", nargs="+", metavar="NAME", help="synthesizer kit(s) of the model (several: a pool)"
    )
    p.add_argument("--render-kit", nargs="+", metavar="NAME", help="kits rendering synthetic stems")
    p.add_argument("--validate-on", metavar="DIR", help="labelled dataset for onset-F1 validation")
    p.add_argument("--num-workers", type=int, help="data-loader workers per process")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    """Resolve the config (defaults, ``--config`` files, ``--set`` overrides, then the
    shortcut options) and train. On ``--resume`` without ``--config`` or ``--set``, the run's
    own saved config is the base layer, so ``--resume --steps N`` extends the run."""
    import dataclasses
    from pathlib import Path

    from drummernet.training.config import resolve_config, run_config_path
    from drummernet.training.trainer import TrainingInterrupted, train

    files = list(args.config)
    saved = run_config_path(args.out)
    if args.resume and not (args.config or args.overrides) and saved.is_file():
        files = [saved]
    config = resolve_config(files, args.overrides)
    changes: dict[str, object] = {
        key: value
        for key, value in {
            "steps": args.steps,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "num_workers": args.num_workers,
            "seed": args.seed,
            "render_kits": tuple(args.render_kit) if args.render_kit else None,
        }.items()
        if value is not None
    }
    if args.kit:
        changes["model"] = dataclasses.replace(config.model, kits=tuple(args.kit))
    config = config.replace(**changes)
    # None lets train() apply its default: synthetic stems when no audio or MIDI is given.
    synthetic = True if args.synthetic else None
    try:
        path = train(
            Path(args.out),
            args.audio,
            config,
            synthetic=synthetic,
            synthetic_midi=args.synthetic_midi,
            resume=args.resume,
            device=args.device,
            progress=not args.no_progress,
            validate_on=args.validate_on,
        )
    except TrainingInterrupted as stop:
        print(f"drummernet: {stop}; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"model written to {path}")
    return 0
