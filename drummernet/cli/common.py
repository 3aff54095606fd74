"""What the subcommands share: exit codes, the one-line user error, and the note-reading and
input-mode options of `transcribe` and `evaluate`."""

from __future__ import annotations

import argparse

from drummernet.errors import DrummerNetError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended


class CliError(DrummerNetError):
    """A user-facing failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def add_peak_picking(p: argparse.ArgumentParser) -> None:
    """The options that turn impulses into notes (shared by transcribe and evaluate)."""
    from drummernet.constants import (
        DEFAULT_ADAPT,
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
    p.add_argument(
        "--adapt", action=argparse.BooleanOptionalAction, default=DEFAULT_ADAPT,
        help="refit the hi-hat's, toms' and cymbals' activations to each recording before notes "
        "are read (per-recording adaptation: fewer phantom toms, crash and ride notes); "
        "--no-adapt reads the analyzer alone, about 4x faster (default: --adapt)",
    )  # fmt: skip


def check_peak_picking(args: argparse.Namespace) -> None:
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


def peak_picking(args: argparse.Namespace) -> dict:
    """The peak-picking keyword arguments of :func:`drummernet.transcribe` from the options."""
    return {
        "threshold": args.threshold,
        "min_gap": args.min_gap,
        "decay_mask": args.decay_mask,
        "relative_threshold": args.relative_threshold,
        "onset_contrast": args.onset_contrast,
        "adapt": args.adapt,
    }


def add_source(p: argparse.ArgumentParser) -> None:
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


def check_source(args: argparse.Namespace) -> None:
    """One-line errors for contradictory source options, and a missing demucs, up front."""
    if args.separate and args.source == "drums":
        raise CliError("--separate separates a mix; it cannot go with --source drums", EXIT_USAGE)
    if not args.mix_threshold > 0:
        raise CliError("--mix-threshold must be positive", EXIT_USAGE)
    if args.separate == "demucs":
        from drummernet.transcription.separation import check_demucs

        check_demucs()


def source_options(args: argparse.Namespace) -> dict:
    """The source keyword arguments of :func:`drummernet.transcribe` from the options."""
    return {"source": args.source, "separate": args.separate, "mix_threshold": args.mix_threshold}
