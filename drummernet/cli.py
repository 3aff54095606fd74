"""The ``drummernet`` command line: transcribe, train, evaluate and list kits.

Built as ``get_parser()`` + ``main(argv=None)`` so tests call it in-process. Heavy modules (torch,
librosa) are imported only after the arguments are parsed, so ``drummernet --help`` is instant.
Every expected failure (bad input, bad model, missing data) ends with a one-line
``drummernet: error: ...`` message and a non-zero exit status, never a traceback; set
``DRUMMERNET_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import __version__
from .constants import DEFAULT_ONSET_WINDOW

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------- transcribe


def _add_transcribe(sub) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe drum audio to MIDI (and JSON, CSV, resynthesised WAV)",
        description="Transcribe drum recordings to General MIDI drum files.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders")
    p.set_defaults(handler=_cmd_transcribe)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    raise CliError("transcribe is not implemented yet")


# -------------------------------------------------------------------------------------- train


def _add_train(sub) -> None:
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
    p.add_argument("--config", metavar="FILE", help="JSON training config (merged over defaults)")
    p.add_argument("--steps", type=int, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument(
        "--synthetic-midi", nargs="+", metavar="DIR",
        help="render synthetic stems from these drum MIDI files/folders (a Groove MIDI Dataset "
        "root uses its train split)",
    )
    p.add_argument(
        "--synthetic", action="store_true",
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
    from pathlib import Path

    from .trainer import TrainConfig, TrainingInterrupted, load_config_file, train

    config = load_config_file(args.config) if args.config else TrainConfig()
    changes = {
        key: value
        for key, value in {
            "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
            "num_workers": args.num_workers, "seed": args.seed,
            "render_kits": tuple(args.render_kit) if args.render_kit else None,
        }.items()
        if value is not None
    }
    if args.kit:
        import dataclasses

        changes["model"] = dataclasses.replace(config.model, kits=tuple(args.kit))
    config = config.replace(**changes)
    resume_config = config if (args.config or changes) else None
    synthetic = True if (args.synthetic or args.synthetic_midi or not args.audio) else False
    try:
        path = train(
            Path(args.out), args.audio, resume_config if args.resume else config,
            synthetic=synthetic, synthetic_midi=args.synthetic_midi, resume=args.resume,
            device=args.device, progress=not args.no_progress, validate_on=args.validate_on,
        )
    except TrainingInterrupted as stop:
        print(f"drummernet: {stop}; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"model written to {path}")
    return 0


# ----------------------------------------------------------------------------------- evaluate


def _add_evaluate(sub) -> None:
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
    p.add_argument("--device", help="torch device")
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, read_dataset

    tracks = read_dataset(args.dataset)
    if args.baseline:
        from .baselines import bandwise_system

        system = bandwise_system
    else:
        from .inference import load_model, transcription_system

        system = transcription_system(load_model(args.model, device=args.device))
    result = evaluate(system, tracks, window=args.window)
    print(result.table())
    if args.json:
        result.to_json(args.json)
    return 0


# --------------------------------------------------------------------------------------- kits


def _add_kits(sub) -> None:
    p = sub.add_parser("kits", help="list the built-in drum kits")
    p.set_defaults(handler=_cmd_kits)


def _cmd_kits(args: argparse.Namespace) -> int:
    from drum_components import load_manifest

    for name, entry in load_manifest()["kits"].items():
        print(f"{name:14s} {entry.get('description', '')}")
    return 0


# --------------------------------------------------------------------------------------- main


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drummernet",
        description="Unsupervised drum transcription by analysis-by-synthesis (DrummerNet).",
    )
    parser.add_argument("--version", action="version", version=f"drummernet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_transcribe, _add_train, _add_evaluate, _add_kits):
        add(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (imported lazily)."""
    errors: list[type[BaseException]] = [CliError, FileNotFoundError, PermissionError]
    for module, name in [
        ("drummernet.audio", "AudioError"),
        ("drummernet.kits", "KitError"),
        ("drummernet.model", "ModelLoadError"),
        ("drummernet.data", "NoAudioError"),
        ("drummernet.evaluation", "DatasetError"),
    ]:
        if module in sys.modules:
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="drummernet: %(levelname)s: %(message)s",
    )
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("drummernet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if os.environ.get("DRUMMERNET_DEBUG"):
            raise
        code = getattr(error, "code", EXIT_ERROR) if isinstance(error, CliError) else EXIT_ERROR
        if not isinstance(error, _user_errors()):
            message = f"unexpected {type(error).__name__}: {error}"
        else:
            message = str(error)
        print(f"drummernet: error: {message.splitlines()[0] if message else type(error).__name__}",
              file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
