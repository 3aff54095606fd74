"""`drummernet serve`: the local web page."""

from __future__ import annotations

import argparse

from drummernet.cli.common import EXIT_USAGE, CliError


def add_serve(sub) -> None:
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
