"""The ``drummernet`` command line: transcribe, train, evaluate and list kits.

Built as ``get_parser()`` + ``main(argv=None)`` so tests call it in-process. Heavy modules (torch,
librosa) are imported only after the arguments are parsed, so ``drummernet --help`` is instant.
Every expected failure (bad input, bad model, missing data) ends with a one-line
``drummernet: error: ...`` message and a non-zero exit status, never a traceback; set
``DRUMMERNET_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence

from drummernet import __version__
from drummernet.constants import DEFAULT_ONSET_WINDOW
from drummernet.errors import DrummerNetError, OutputExistsError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended


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


def _add_source(p: argparse.ArgumentParser) -> None:
    """The options that say whether an input is a drum stem or a full mix (shared by transcribe
    and evaluate)."""
    from drummernet.constants import DEFAULT_MIX_THRESHOLD, DEFAULT_SOURCE, SEPARATORS, SOURCES

    p.add_argument(
        "--source", choices=SOURCES, default=DEFAULT_SOURCE,
        help="drums: a drum stem, analysed as it is; mix: a full song, whose drums are brought "
        "forward first; auto: decided per input from how its pitched content changes "
        "(default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--separate", choices=SEPARATORS, default=None,
        help="how a mix's drums are brought forward: hpss (built in, the default) or demucs "
        "(needs the demucs package and its weights already downloaded); naming one treats "
        "every input as a mix",
    )  # fmt: skip
    p.add_argument(
        "--mix-threshold", type=float, default=DEFAULT_MIX_THRESHOLD, metavar="X",
        help="--source auto takes an input for a mix when its pitch-change score reaches X "
        "(default: %(default)s)",
    )  # fmt: skip


def _check_source(args: argparse.Namespace) -> None:
    """One-line errors for contradictory source options, and a missing demucs, up front."""
    if args.separate and args.source == "drums":
        raise CliError("--separate separates a mix; it cannot go with --source drums", EXIT_USAGE)
    if not args.mix_threshold > 0:
        raise CliError("--mix-threshold must be positive", EXIT_USAGE)
    if args.separate == "demucs":
        from drummernet.transcription.separation import check_demucs

        check_demucs()


def _source_options(args: argparse.Namespace) -> dict:
    """The source keyword arguments of :func:`drummernet.transcribe` from the options."""
    return {"source": args.source, "separate": args.separate, "mix_threshold": args.mix_threshold}


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
            "  drummernet transcribe beat.mp3 --format wav --kit fluidr3_tr808   # drum replacement\n"
            "  drummernet transcribe song.wav --format musicxml,pdf --quantize     # a drum chart"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="audio files (wav, flac, ogg, mp3, aiff; 4-384 kHz, any channel count) or folders "
        "(searched recursively)",
    )  # fmt: skip
    p.add_argument(
        "-o", "--output-dir", default=".", metavar="OUTDIR",
        help="folder for the outputs, created if missing (default: the current directory)",
    )  # fmt: skip
    p.add_argument(
        "-f", "--format", default=",".join(DEFAULT_FORMATS), metavar="LIST",
        help=f"comma-separated outputs among {','.join(OUTPUT_FORMATS)} (default: %(default)s): "
        "MIDI (tempo-mapped to the tracked beats), JSON and CSV note lists, the notes "
        "resynthesised with --kit, and a drum chart as MusicXML, SVG or PDF",
    )  # fmt: skip
    p.add_argument(
        "--quantize", action="store_true",
        help="move every note to its slot of the beat grid (16ths, triplets, swing) in the "
        "MIDI, JSON, CSV and WAV outputs; charts are always quantised",
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
    _add_source(p)
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

    from drummernet.audio import AUDIO_EXTENSIONS, AudioError, check_writable, files_in
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
    _check_source(args)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'drummernet[plot]'") from None
    chart_modules = {"musicxml": "music21", "svg": "verovio", "pdf": "cairosvg"}
    for fmt in (f for f in formats if f in chart_modules):
        try:
            __import__(chart_modules[fmt])
        except (ImportError, OSError):  # cairosvg raises OSError without the cairo library
            raise CliError(
                f"--format {fmt} needs {chart_modules[fmt]}: pip install 'drummernet[chart]'"
            ) from None

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
    check_writable(outdir)  # before the model runs, not after

    # torch is imported only now, after parsing and validation.
    from drummernet.notation import quantize, with_beats
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
                result = transcribe(
                    file, model=model, **_peak_picking(args), **_source_options(args)
                )
                decision = result.source_decision
                # The MIDI tempo map, the JSON beats, the chart's bars; a missing beat is worth
                # a warning only where it shows: a chart or quantised notes.
                charted = args.quantize or bool({"musicxml", "svg", "pdf"} & set(formats))
                result = with_beats(result, warn=charted)
                if args.quantize:
                    result = quantize(result)
        except AudioError as problem:
            error(str(problem))
            failed += 1
            continue
        except MemoryError:
            error(f"{file}: out of memory while transcribing it")
            failed += 1
            continue
        show_warnings(caught)
        if decision is not None and decision.requested == "auto" and decision.source == "mix":
            tqdm.write(
                f"drummernet: {file}: a full mix (pitch change {decision.pitch_change:.3f}); its "
                f"drums were brought forward by {decision.separator} (--source drums to skip)",
                file=sys.stderr,
            )
        try:
            _write_outputs(result, outputs, kit, args.overwrite)
        except OutputExistsError as clash:  # another process wrote it since the check above
            error(f"{clash}; use --overwrite to replace")
            failed += 1
            continue
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


def _write_outputs(result, outputs: dict, kit, overwrite: bool) -> None:
    """Write one input's outputs, each atomically (complete or absent). Without ``overwrite``
    each is created exclusively, and when one cannot be written the ones created here are
    removed again, so that an input's outputs appear together or not at all."""
    from drummernet.constants import SAMPLE_RATE

    created = []
    chart = None
    try:
        for fmt, out in outputs.items():
            if fmt == "mid":
                result.write_midi(out, overwrite=overwrite)
            elif fmt == "json":
                result.write_json(out, overwrite=overwrite)
            elif fmt == "csv":
                result.write_csv(out, overwrite=overwrite)
            elif fmt == "wav":
                result.write_wav(out, kit=kit, sr=SAMPLE_RATE, overwrite=overwrite)
            elif fmt == "png":
                result.plot(out, overwrite=overwrite)
            elif fmt in ("musicxml", "svg", "pdf"):
                from drummernet.notation import to_chart

                chart = chart or to_chart(result)
                getattr(chart, f"write_{fmt}")(out, overwrite=overwrite)
            created.append(out)
            logging.getLogger("drummernet").info("wrote %s", out)
    except BaseException:
        if not overwrite:
            for out in created:
                out.unlink(missing_ok=True)
        raise


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
    _add_source(p)
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drummernet.evaluation.datasets import read_dataset
    from drummernet.evaluation.scoring import System, evaluate

    _check_peak_picking(args)
    _check_source(args)
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
        system = transcription_system(model, **_peak_picking(args), **_source_options(args))
    result = evaluate(system, tracks, window=args.window, progress=not args.no_progress)
    print(result.table())
    if args.json:
        result.to_json(args.json, overwrite=args.overwrite)
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


# ------------------------------------------------------------------------------- samples, kit


def _add_samples(sub) -> None:
    p = sub.add_parser(
        "samples",
        help="name drum samples (kick, snare, hihat, tom, cymbal, other) and sort them",
        description="Name every audio file in a folder of drum samples by its sound, whatever "
        "its file name. Only the first seconds of each file are read; nothing is moved, renamed "
        "or deleted.",
    )
    samples = p.add_subparsers(dest="samples_command", metavar="COMMAND", required=True)
    c = samples.add_parser(
        "classify", help="write a CSV/JSON table of every file's class and component",
        description="Classify every audio file under DIR (recursively). The CSV's columns are "
        "file (relative to DIR), class, component, confidence and reason (why a file that is "
        "not one hit, such as a loop, is 'other'). Without --csv or --json the CSV is printed.",
    )  # fmt: skip
    c.add_argument("folder", metavar="DIR", help="folder of samples")
    c.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    c.add_argument("--json", metavar="FILE", help="write the table (and scores) as JSON")
    c.add_argument("--overwrite", action="store_true", help="replace existing --csv/--json files")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    c.set_defaults(handler=_cmd_samples_classify)
    o = samples.add_parser(
        "organize", help="build OUT/<class>/... from links to the files (or copies)",
        description="Classify every audio file under DIR and build OUT/<class>/<its path under "
        "DIR> as a symbolic link to it (a copy with --copy). DIR is only read; running again "
        "keeps what is there and adds what is new.",
    )  # fmt: skip
    o.add_argument("folder", metavar="DIR", help="folder of samples")
    o.add_argument("out", metavar="OUT", help="folder to build the tree in")
    o.add_argument("--copy", action="store_true", help="copy the files instead of linking them")
    o.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    o.set_defaults(handler=_cmd_samples_organize)


def _classify_folder(folder: str, no_progress: bool, exclude: str | None = None):
    """Every audio file under ``folder`` (but under ``exclude``), classified with a progress
    bar; an unreadable file is one line on stderr. Returns ``(records, failed)``."""
    from pathlib import Path

    from tqdm.auto import tqdm

    from drummernet.audio import files_in
    from drummernet.samples.classify import iter_classify

    root = Path(folder)
    if not root.is_dir():
        raise CliError(f"{root}: no such folder")
    files = files_in(root)
    if exclude is not None:
        skip = Path(exclude).resolve()
        # by the folder a file lies in: the tree's entries are links back into `folder`
        files = [f for f in files if not f.parent.resolve().is_relative_to(skip)]
    if not files:
        raise CliError(f"{root}: no audio files in this folder")
    failed = []

    def report(path, error) -> None:
        tqdm.write(f"drummernet: error: {error}", file=sys.stderr)
        failed.append(path)

    records = list(
        tqdm(
            iter_classify(files, on_error=report), total=len(files), desc="classifying",
            unit="file", disable=no_progress or None,
        )
    )  # fmt: skip
    if failed:
        tqdm.write(f"drummernet: {len(failed)} of {len(files)} files could not be read", sys.stderr)
    return records, len(failed)


def _summary(records) -> str:
    from collections import Counter

    from drummernet.constants import SAMPLE_CLASSES

    counts = Counter(r.sample_class for r in records)
    return ", ".join(f"{counts[c]} {c}" for c in SAMPLE_CLASSES if counts[c])


def _cmd_samples_classify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drummernet.samples.organize import records_csv, write_csv, write_json

    for out in filter(None, (args.csv, args.json)):
        if Path(out).exists() and not args.overwrite:
            raise CliError(f"{out} exists; use --overwrite to replace")
    records, failed = _classify_folder(args.folder, args.no_progress)
    root = Path(args.folder)
    if args.csv:
        write_csv(args.csv, records, root)
    if args.json:
        write_json(args.json, records, root)
    if not (args.csv or args.json):
        sys.stdout.write(records_csv(records, root))
    print(f"{len(records)} files: {_summary(records)}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def _cmd_samples_organize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drummernet.samples.organize import organize

    root, out = Path(args.folder).resolve(), Path(args.out).resolve()
    if out == root or root.is_relative_to(out):
        raise CliError(f"{args.out}: must not be {args.folder} or a folder above it")
    records, failed = _classify_folder(args.folder, args.no_progress, exclude=args.out)
    done = organize(records, args.folder, args.out, copy=args.copy)
    for path in done.conflicts[:5]:
        print(f"drummernet: warning: {path} exists and is not {'a copy of' if args.copy else 'a link to'} "
              "its sample; left alone", file=sys.stderr)  # fmt: skip
    print(f"{args.out}: {len(done.made)} {'copied' if args.copy else 'linked'}, "
          f"{len(done.kept)} already there, {len(done.conflicts)} in the way "
          f"({_summary(records)})")  # fmt: skip
    return EXIT_ERROR if failed else 0


def _add_kit(sub) -> None:
    from drummernet.constants import DEFAULT_KIT

    p = sub.add_parser("kit", help="build a drum kit from a folder of samples")
    kit = p.add_subparsers(dest="kit_command", metavar="COMMAND", required=True)
    b = kit.add_parser(
        "build", help="pick the best one-shot per component and write a kit folder",
        description="Classify the samples under DIR, pick the best one-shot for each of the 11 "
        "components and write them to a kit folder that --kit FOLDER accepts (transcribe "
        "--format wav, train). Components no sample fills are reported, and taken from --fill.",
    )  # fmt: skip
    b.add_argument("folder", metavar="DIR", help="folder of samples")
    b.add_argument("-o", "--output", required=True, metavar="KIT_DIR", help="kit folder to write")
    b.add_argument(
        "--fill", default=DEFAULT_KIT, metavar="NAME",
        help="built-in kit for the components no sample fills, or 'none' to leave them out "
        "(such a kit needs every component to be used with --kit) (default: %(default)s)",
    )  # fmt: skip
    b.add_argument("--overwrite", action="store_true", help="write into a non-empty KIT_DIR")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    b.set_defaults(handler=_cmd_kit_build)


def _cmd_kit_build(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from drummernet.constants import COMPONENT_NAMES
    from drummernet.samples.kit_builder import build_kit

    failed = []

    def report(path, error) -> None:
        tqdm.write(f"drummernet: error: {error}", file=sys.stderr)
        failed.append(path)

    def bar(records):
        return tqdm(records, desc="classifying", unit="file", disable=args.no_progress or None)

    fill = None if args.fill.lower() == "none" else args.fill
    built = build_kit(
        args.folder, args.output, fill=fill, overwrite=args.overwrite, progress=bar,
        on_error=report,
    )  # fmt: skip
    for code, record in built.plan.picks.items():
        print(f"{code:7s} {COMPONENT_NAMES[code]:14s} {record.file}  ({record.confidence:.2f})")
    if built.plan.missing:
        where = f"taken from {built.fill}" if built.filled else "left out"
        print(f"no sample for {', '.join(built.plan.missing)} ({where})")
    print(f"kit written to {built.folder}; use it with --kit {built.folder}")
    return EXIT_ERROR if failed else 0


# -------------------------------------------------------------------------------------- serve


def _add_serve(sub) -> None:
    from drummernet.constants import DEFAULT_MAX_UPLOAD_MB, DEFAULT_WEB_HOST, DEFAULT_WEB_PORT

    p = sub.add_parser(
        "serve",
        help="a local web page: drop recordings, see and hear the hits, download MIDI",
        description=(
            "Serve the drummernet web page on this computer. Recordings dropped on it are "
            "transcribed here; nothing is sent elsewhere and the page works offline. Needs the "
            "web extra: pip install 'drummernet[web]'."
        ),
    )
    p.add_argument(
        "--host", default=DEFAULT_WEB_HOST,
        help="address to listen on (default: %(default)s, this computer only; 0.0.0.0 lets "
        "other computers use the page)",
    )  # fmt: skip
    p.add_argument("--port", type=int, default=DEFAULT_WEB_PORT, help="port (default: %(default)s)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument(
        "--model", action="append", default=[], metavar="PATH",
        help="a model file or training run folder the page can choose (repeatable; default: the "
        "shipped model)",
    )  # fmt: skip
    p.add_argument(
        "--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
        help="largest upload accepted (default: %(default)s)",
    )  # fmt: skip
    p.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    if not 0 <= args.port <= 65535:
        raise CliError("--port must be in 0..65535", EXIT_USAGE)
    if not args.max_upload_mb > 0:
        raise CliError("--max-upload-mb must be positive", EXIT_USAGE)
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CliError(
            "drummernet serve needs the web extra: pip install 'drummernet[web]'"
        ) from None
    from drummernet.transcription.inference import load_model
    from drummernet.web.server import serve

    models: dict[str, str | Path | None] = {}
    for path in args.model:
        load_model(path, load_kit=False)  # a bad model fails here, in one line, not on the page
        name = Path(path).stem if Path(path).is_file() else Path(path).name
        models[name if name not in models else str(path)] = path
    serve(
        args.host, args.port, models=models or None, max_upload_mb=args.max_upload_mb,
        open_browser=args.open,
    )  # fmt: skip
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
    for add in (
        _add_transcribe, _add_train, _add_evaluate, _add_kits, _add_samples, _add_kit, _add_serve,
    ):  # fmt: skip
        add(sub)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised where the program is (like Ctrl-C's KeyboardInterrupt), so that a file
    being written is cleaned up on the way out."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while a command runs, where nothing else (an
    application calling :func:`main`) has claimed the signal; the trainer claims it again for
    its steps, to save a checkpoint."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not signal.SIG_DFL:
            yield
            return
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not in the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="drummernet: %(levelname)s: %(message)s",
    )
    try:
        with _sigterm_raises():
            return args.handler(args)
    except KeyboardInterrupt:
        print("drummernet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("drummernet: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as error:
        if os.environ.get("DRUMMERNET_DEBUG"):
            raise
        code = getattr(error, "code", EXIT_ERROR) if isinstance(error, CliError) else EXIT_ERROR
        if not isinstance(error, (DrummerNetError, FileNotFoundError, PermissionError)):
            message = f"unexpected {type(error).__name__}: {error}"
        elif isinstance(error, OutputExistsError):
            message = f"{error}; use --overwrite to replace"
        else:
            message = str(error)
        print(
            f"drummernet: error: {message.splitlines()[0] if message else type(error).__name__}",
            file=sys.stderr,
        )
        return code


if __name__ == "__main__":
    sys.exit(main())
