"""`drummernet samples classify|organize` and `drummernet kit build`."""

from __future__ import annotations

import argparse
import sys

from drummernet.cli.common import EXIT_ERROR, CliError


def add_samples(sub) -> None:
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


def add_kit(sub) -> None:
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
