"""`drummernet transcribe`: recordings -> MIDI, JSON, CSV, WAV, charts."""

from __future__ import annotations

import argparse
import logging
import sys

from drummernet.cli.common import (
    EXIT_ERROR,
    EXIT_USAGE,
    CliError,
    add_peak_picking,
    add_source,
    check_peak_picking,
    check_source,
    peak_picking,
    source_options,
)
from drummernet.errors import OutputExistsError


def add_transcribe(sub) -> None:
    from drummernet.constants import DEFAULT_FORMATS, OUTPUT_FORMATS

    p = sub.add_parser(
        "transcribe",
        help="transcribe drum audio to MIDI (and JSON, CSV, resynthesised WAV, drum charts)",
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
    add_peak_picking(p)
    add_source(p)
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
    check_peak_picking(args)
    check_source(args)
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
                result = transcribe(file, model=model, **peak_picking(args), **source_options(args))
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
