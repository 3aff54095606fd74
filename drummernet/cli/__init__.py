"""The ``drummernet`` command line: transcribe, train, evaluate, kits, samples and serve.

Built as ``get_parser()`` + ``main(argv=None)`` so tests call it in-process. Heavy modules (torch,
librosa) are imported only after the arguments are parsed, so ``drummernet --help`` is instant.
Every expected failure (bad input, bad model, missing data) ends with a one-line
``drummernet: error: ...`` message and a non-zero exit status, never a traceback; set
``DRUMMERNET_DEBUG=1`` to see the traceback of an unexpected error.
"""

from drummernet.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from drummernet.cli.main import get_parser, main

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "CliError", "get_parser", "main"]
