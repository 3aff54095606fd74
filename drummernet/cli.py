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

from drummernet import __version__
from drummernet.constants import DEFAULT_ONSET_WINDOW
from drummernet.errors import DrummerNetError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(DrummerNetError):
    """A user-facing failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------- transcribe


def _add_peak_picking(p: argparse.ArgumentParser) -> None:
    """The options that turn impulses into notes (shared by transcribe and evaluate)."""
    from drummernet.constants import (
        DEFAULT_DECAY_MASK,
        DEFAULT_MIN_GAP,
        DEFAULT_ONSET_CONTRAST,
        DEFAULT_RELATIVE_THRESHOLD,
        DEFAULT_THRESHOLD,
    )

    p.add_argument(
        "--threshold", type=float, default=None, metavar="X",
        help="smallest impulse strength that makes a note; lower finds softer hits "
        f"(default: the threshold stored in the model, else {DEFAULT_THRESHOLD})",
    )  # fmt: skip
    p.add_argument(
        "--relative-threshold", type=float, default=None, metavar="R",
        help="a hit must also reach this fraction of its drum's strong hits in the same "
        "recording; 0 disables (default: the per-drum values stored in the model, else "
        f"{DEFAULT_RELATIVE_THRESHOLD})",
    )  # fmt: skip
    p.add_argument(
        "--decay-mask", type=float, default=DEFAULT_DECAY_MASK, metavar="SECONDS",
        help="drop echoes weaker than the decaying previous hit of the same drum, with this "
        "time constant; 0 disables (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--onset-contrast", type=float, default=DEFAULT_ONSET_CONTRAST, metavar="C",
        help="a hit must reach C times its drum's level over the previous 120 ms, so a "
        "ringing cymbal or snare is not read as a roll; 0 disables (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--min-gap", type=float, default=DEFAULT_MIN_GAP, metavar="SECONDS",
        help="hits of one drum closer than this merge (default: %(default)s)",
    )  # fmt: skip


def _check_peak_picking(args: argparse.Namespace) -> None:
    """One-line usage errors for out-of-range peak-picking options."""
    if args.threshold is not None and not args.threshold > 0:
        raise CliError("--threshold must be positive", EXIT_USAGE)
    if (
        not args.min_gap >= 0
        or not args.decay_mask >= 0
        or not args.onset_contrast >= 0
        or not (args.relative_threshold is None or 0 <= args.relative_threshold < 1)
    ):
        raise CliError(
            "--min-gap, --decay-mask and --onset-contrast must be >= 0, --relative-threshold in "
            "[0, 1)", EXIT_USAGE,
        )  # fmt: skip


def _peak_picking(args: argparse.Namespace) -> dict:
    """The peak-picking keyword arguments of :func:`drummernet.transcribe` from the options."""
    return {
        "threshold": args.threshold,
        "min_gap": args.min_gap,
        "decay_mask": args.decay_mask,
        "relative_threshold": args.relative_threshold,
        "onset_contrast": args.onset_contrast,
    }


def _add_transcribe(sub) -> None:
    from drummernet.constants import DEFAULT_FORMATS, OUTPUT_FORMATS

    p = sub.add_parser(
        "transcribe",
        help="transcribe drum audio to MIDI (and JSON, CSV, resynthesised WAV)",
        description=(
            "Transcribe drum recordings to General MIDI drum files. Each INPUT writes "
            "OUTDIR/<input name>.<format> for every format asked for. Existing outputs are never "
            "replaced without --overwrite: if any would be, nothing is written. A bad input is "
            "reported and skipped; the exit status is then 1."
        ),
        epilog=(
            "examples:\n"
            "  drummernet transcribe loop.wav                  # writes ./loop.mid\n"
            "  drummernet transcribe takes/ -o midi --format mid,csv\n"
            "  drummernet transcribe beat.mp3 --format wav --kit fluidr3_tr808   # drum replacement"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="audio files (wav, flac, ogg, mp3, aiff; any rate and channel count) or folders "
        "(searched recursively)",
    )  # fmt: skip
    p.add_argument(
        "-o", "--output-dir", default=".", metavar="OUTDIR",
        help="folder for the outputs, created if missing (default: the current directory)",
    )  # fmt: skip
    p.add_argument(
        "-f", "--format", default=",".join(DEFAULT_FORMATS), metavar="LIST",
        help=f"comma-separated outputs among {','.join(OUTPUT_FORMATS)} (default: %(default)s): "
        "MIDI, JSON and CSV note lists, and the notes resynthesised with --kit",
    )  # fmt: skip
    p.add_argument(
        "--model", metavar="PATH",
        help="model file or training run folder (default: the model shipped with drummernet)",
    )  # fmt: skip
    p.add_argument(
        "--kit", metavar="NAME",
        help="drum kit of --format wav: a built-in name (see `drummernet kits`) or a folder of "
        "one-shots (default: the default kit)",
    )  # fmt: skip
    _add_peak_picking(p)
    p.add_argument("--print", dest="print_notes", action="store_true", help="list the notes")
    p.add_argument(
        "--plot", action="store_true",
        help="also write OUTDIR/<name>.png, a spectrogram with the hits (needs matplotlib)",
    )  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=_cmd_transcribe)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from tqdm.auto import tqdm

    from drummernet.audio import AUDIO_EXTENSIONS, AudioError, files_in
    from drummernet.constants import COMPONENT_NAMES, OUTPUT_FORMATS, SAMPLE_RATE

    formats = [f.strip().lower().lstrip(".") for f in args.format.split(",") if f.strip()]
    formats = list(dict.fromkeys("mid" if f in ("midi", "mid") else f for f in formats))
    unknown = [f for f in formats if f not in OUTPUT_FORMATS]
    if unknown or not (formats or args.plot or args.print_notes):
        raise CliError(
            f"--format: unknown format {unknown[0]!r}; choose from {','.join(OUTPUT_FORMATS)}"
            if unknown else "--format: nothing to write", EXIT_USAGE,
        )  # fmt: skip
    _check_peak_picking(args)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'drummernet[plot]'") from None

    def error(message: str) -> None:
        tqdm.write(f"drummernet: error: {message}", file=sys.stderr)

    def show_warnings(caught: list[warnings.WarningMessage]) -> None:
        for item in caught:
            tqdm.write(f"drummernet: warning: {item.message}", file=sys.stderr)

    # Inputs: folders expand to the audio inside; a folder without any is a bad input.
    failed = empty_folders = 0
    files: list[Path] = []
    for item in map(Path, args.inputs):
        if item.is_dir():
            found = files_in(item)
            if not found:
                error(f"{item}: no audio files in this folder ({', '.join(AUDIO_EXTENSIONS)})")
                failed += 1
                empty_folders += 1
            files.extend(found)
        else:
            files.append(item)
    files = list(dict.fromkeys(files))

    # Every output path is known, and checked, before anything is computed or written.
    outdir = Path(args.output_dir)
    if outdir.exists() and not outdir.is_dir():
        raise CliError(f"{outdir}: output folder is a file")
    suffixes = formats + (["png"] if args.plot else [])
    plans: list[tuple[Path, dict[str, Path]]] = []
    owner: dict[Path, Path] = {}
    for file in files:
        outputs = {fmt: outdir / f"{file.stem}.{fmt}" for fmt in suffixes}
        for out in outputs.values():
            if out in owner:
                raise CliError(
                    f"{owner[out]} and {file} would both write {out}; rename one or transcribe "
                    "them into different --output-dir"
                )
            owner[out] = file
        plans.append((file, outputs))
    if not args.overwrite:
        existing = [out for out in owner if out.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise CliError(f"{existing[0]} exists{more}; use --overwrite to replace")
    if not plans:
        return EXIT_ERROR

    # torch is imported only now, after parsing and validation.
    from drummernet.transcription.inference import load_model, transcribe

    kit = None
    if "wav" in formats:
        from drummernet.constants import DEFAULT_KIT
        from drummernet.model.kits import DrumKit

        kit = DrumKit.load(args.kit or DEFAULT_KIT, sr=SAMPLE_RATE)  # a bad kit fails up front
    elif args.kit:
        tqdm.write("drummernet: warning: --kit only affects --format wav", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(args.model, device=args.device, load_kit=False)
    show_warnings(caught)

    bar = tqdm(plans, desc="transcribing", unit="file", disable=args.no_progress or None)
    for file, outputs in bar:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = transcribe(file, model=model, **_peak_picking(args))
        except AudioError as problem:
            error(str(problem))
            failed += 1
            continue
        show_warnings(caught)
        # Each output is written atomically: an interruption never leaves a partial file.
        for fmt, out in outputs.items():
            if fmt == "mid":
                result.write_midi(out)
            elif fmt == "json":
                result.write_json(out)
            elif fmt == "csv":
                result.write_csv(out)
            elif fmt == "wav":
                result.write_wav(out, kit=kit, sr=SAMPLE_RATE)
            elif fmt == "png":
                result.plot(out)
            logging.getLogger("drummernet").info("wrote %s", out)
        if args.print_notes:
            print(f"{file}: {len(result)} notes")
            for e in result.events:
                name = COMPONENT_NAMES.get(e.component, e.component)
                print(f"{e.time:10.3f}  {e.component:<7} {name:<14} note {e.note:3d}  "
                      f"velocity {e.velocity:3d}")  # fmt: skip
    bar.close()
    if failed:
        total = len(plans) + empty_folders
        if total > 1:
            error(f"{failed} of {total} inputs failed")
        return EXIT_ERROR
    return 0


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
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--device", help="torch device")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_peak_picking(p)
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drummernet.evaluation.datasets import read_dataset
    from drummernet.evaluation.scoring import System, evaluate

    _check_peak_picking(args)
    if not args.window > 0:
        raise CliError("--window must be positive", EXIT_USAGE)
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise CliError(f"{args.json} exists; use --overwrite to replace")
    tracks = read_dataset(args.dataset)
    system: System
    if args.baseline:
        from drummernet.evaluation.baselines import bandwise_system

        system = bandwise_system
    else:
        from drummernet.evaluation.systems import transcription_system
        from drummernet.transcription.inference import load_model

        model = load_model(args.model, device=args.device)
        system = transcription_system(model, **_peak_picking(args))
    result = evaluate(system, tracks, window=args.window, progress=not args.no_progress)
    print(result.table())
    if args.json:
        result.to_json(args.json)
    return 0


# --------------------------------------------------------------------------------------- kits


def _add_kits(sub) -> None:
    p = sub.add_parser("kits", help="list the built-in drum kits")
    p.set_defaults(handler=_cmd_kits)


def _cmd_kits(args: argparse.Namespace) -> int:
    from drummernet.model.kits import load_manifest

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
        if not isinstance(error, (DrummerNetError, FileNotFoundError, PermissionError)):
            message = f"unexpected {type(error).__name__}: {error}"
        else:
            message = str(error)
        print(
            f"drummernet: error: {message.splitlines()[0] if message else type(error).__name__}",
            file=sys.stderr,
        )
        return code


if __name__ == "__main__":
    sys.exit(main())
