"""The parser and the entry point: every expected failure ends in one line and an exit code."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence

from drummernet import __version__
from drummernet.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, CliError
from drummernet.cli.evaluate import add_evaluate, add_kits
from drummernet.cli.samples import add_kit, add_samples
from drummernet.cli.serve import add_serve
from drummernet.cli.train import add_train
from drummernet.cli.transcribe import add_transcribe
from drummernet.errors import DrummerNetError, OutputExistsError


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
        add_transcribe, add_train, add_evaluate, add_kits, add_samples, add_kit, add_serve,
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
