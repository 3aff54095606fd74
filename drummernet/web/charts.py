"""The drum chart on the page, when :mod:`drummernet.notation` is installed.

The page shows a chart view and chart downloads only for the formats :func:`chart_formats`
finds; without the notation module (or the libraries it writes a format with) they are absent
and the rest of the page is unchanged. Everything the page needs from that module is the one
call in :func:`render_chart`: a module-level ``to_<format>(result)`` for each format of
:data:`CHART_FORMATS`, taking a :class:`~drummernet.transcription.result.Transcription` and
returning the file's text or bytes. Should the notation module name its writers otherwise, adapt
:func:`_writers` and nothing else.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import NamedTuple

from drummernet.transcription.result import Transcription


class ChartFormat(NamedTuple):
    media_type: str
    suffix: str
    #: the libraries the notation module writes this format with (its ``chart`` extra)
    needs: tuple[str, ...]


#: Chart formats the page knows. ``svg`` is also the chart view.
CHART_FORMATS: dict[str, ChartFormat] = {
    "musicxml": ChartFormat("application/vnd.recordare.musicxml+xml", "musicxml", ("music21",)),
    "svg": ChartFormat("image/svg+xml", "svg", ("music21", "verovio")),
    "pdf": ChartFormat("application/pdf", "pdf", ("music21", "verovio", "cairosvg")),
}

Writer = Callable[[Transcription], "str | bytes"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _writers() -> dict[str, Writer]:
    """Format -> the notation module's writer, for the formats it can write here."""
    try:
        import drummernet.notation as notation
    except ImportError:
        return {}
    except Exception as error:  # a broken notation module must not take the page down
        logging.getLogger("drummernet").warning("drummernet.notation failed to import: %s", error)
        return {}
    found: dict[str, Writer] = {}
    for fmt, spec in CHART_FORMATS.items():
        writer = getattr(notation, f"to_{fmt}", None)
        if callable(writer) and all(_installed(module) for module in spec.needs):
            found[fmt] = writer
    return found


def chart_formats() -> list[str]:
    """The chart formats available now, in :data:`CHART_FORMATS` order (empty without
    :mod:`drummernet.notation`)."""
    return list(_writers())


def render_chart(result: Transcription, fmt: str) -> bytes:
    """The chart of ``result`` as a ``fmt`` file.

    Raises:
        KeyError: ``fmt`` is not available (see :func:`chart_formats`).
        DrummerNetError: the notation module's own errors.
    """
    data = _writers()[fmt](result)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
