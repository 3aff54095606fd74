"""Engraving: MusicXML to SVG with verovio, and its pages to PDF with cairosvg.

verovio (a PyPI wheel with no system dependencies) lays the chart out on A4 pages, keeping the
chart's own system breaks; :func:`musicxml_to_svg` stacks its pages in one SVG file and
:func:`musicxml_to_pdf` draws them as the pages of a PDF with cairosvg (which needs the cairo
library, present on most desktops; Debian: ``libcairo2``).

verovio writes a tempo mark's note as a glyph of its own music font, which an SVG viewer or
cairo only has if that font is installed; :func:`_portable_text` writes it as the Unicode note
(U+2669) instead, which common text fonts have.
"""

from __future__ import annotations

import re
from typing import Any

from drummernet.notation.musicxml import ChartDependencyError, require

#: verovio's layout: A4 pages in tenths of a millimetre, the chart's own line breaks, the
#: notation at 40% of verovio's default size (``scale``), about a printed drum chart's, and
#: spacing tight enough for 4 bars of 16ths to a line.
PAGE_WIDTH, PAGE_HEIGHT = 2100, 2970
VEROVIO_OPTIONS: dict[str, object] = {
    "pageWidth": PAGE_WIDTH,
    "pageHeight": PAGE_HEIGHT,
    "pageMarginLeft": 100,
    "pageMarginRight": 100,
    "pageMarginTop": 80,
    "pageMarginBottom": 80,
    "scale": 40,
    "spacingLinear": 0.15,
    "breaks": "encoded",
    "footer": "none",
    "svgViewBox": True,
}


#: verovio's text glyphs (SMuFL "metronome note" code points) -> Unicode notes.
_TEXT_GLYPHS = {"\ueca5": "\u2669", "\ueca7": "\u266a", "\ueca3": "\U0001d15e"}


def _portable_text(svg: str) -> str:
    """Replace text set in verovio's music font by its Unicode equivalent in a text font."""

    def replace(match: re.Match) -> str:
        text = "".join(_TEXT_GLYPHS.get(char, char) for char in match.group(2))
        return (
            match.group(1).replace('font-family="Leipzig"', 'font-family="DejaVu Sans, serif"')
            + text
        )

    return re.sub(r'(<tspan[^>]*font-family="Leipzig"[^>]*>)([^<]*)', replace, svg)


def musicxml_pages(musicxml: bytes) -> list[str]:
    """The pages of a MusicXML document engraved by verovio, one SVG document each."""
    from importlib.resources import files

    verovio = require("verovio")
    verovio.enableLog(verovio.LOG_OFF)
    # verovio sets its default resource path (fonts) on import, for the importing thread only;
    # elsewhere (a web server's worker thread) it is given here.
    toolkit = verovio.toolkit(False)
    toolkit.setResourcePath(str(files("verovio") / "data"))
    toolkit.setOptions(VEROVIO_OPTIONS)
    if not toolkit.loadData(musicxml.decode("utf-8")):
        raise ValueError("verovio could not read the MusicXML")
    return [
        _portable_text(toolkit.renderToSVG(page)) for page in range(1, toolkit.getPageCount() + 1)
    ]


def musicxml_to_svg(musicxml: bytes) -> str:
    """A MusicXML document engraved as one SVG: the pages of :func:`musicxml_pages` one
    under the other, on white."""
    pages = musicxml_pages(musicxml)
    width, height = PAGE_WIDTH, PAGE_HEIGHT
    total = height * len(pages)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width / 10}mm" height="{total / 10}mm" viewBox="0 0 {width} {total}">',
        f'<rect width="{width}" height="{total}" fill="white"/>',
    ]
    for k, page in enumerate(pages):
        body = re.sub(r"^<\?xml[^>]*>\s*", "", page)
        # Each page becomes a nested <svg> placed at its offset and sized as one page.
        body = re.sub(r'^<svg\b', f'<svg x="0" y="{k * height}" width="{width}" height="{height}"',
                      body, count=1)  # fmt: skip
        parts.append(body)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def musicxml_to_pdf(musicxml: bytes) -> bytes:
    """A MusicXML document engraved as a PDF, one A4 page per page of :func:`musicxml_pages`."""
    import io

    try:
        cairocffi = require("cairocffi")
        parser = require("cairosvg.parser")
        surface = require("cairosvg.surface")
    except OSError as error:  # cairocffi is installed, the cairo library is not
        raise ChartDependencyError(f"PDF needs the cairo library ({error})") from None
    pages = musicxml_pages(musicxml)
    # A PDF page is measured in points, cairosvg's drawing in 96 dpi pixels, verovio's page in
    # tenths of a millimetre.
    width_mm, height_mm = PAGE_WIDTH / 10, PAGE_HEIGHT / 10
    output = io.BytesIO()
    document = cairocffi.PDFSurface(output, width_mm * 72 / 25.4, height_mm * 72 / 25.4)

    base: Any = surface.PDFSurface

    class Page(base):
        """cairosvg's PDF surface, drawing into the one document instead of a new file."""

        def _create_surface(self, width: float, height: float):
            return document, width, height

    for page in pages:
        tree = parser.Tree(bytestring=page.encode("utf-8"))
        size = {"output_width": width_mm * 96 / 25.4, "output_height": height_mm * 96 / 25.4}
        Page(tree, None, 96, **size).context.show_page()
    document.finish()
    return output.getvalue()
