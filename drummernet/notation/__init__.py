"""Drum charts: beats, bars and tempo, quantised notes, MusicXML, SVG and PDF.

    >>> import drummernet
    >>> from drummernet.notation import to_chart, with_beats, quantize
    >>> result = with_beats(drummernet.transcribe("song.wav"))   # beats, bars, tempo map
    >>> result.tempo, result.beats[:4]
    >>> quantize(result).write_midi("song.mid")                    # notes on the grid
    >>> to_chart(result).write_pdf("song.pdf")                     # also write_musicxml, write_svg
    >>> svg = drummernet.notation.to_svg(result)                    # or to_musicxml, to_pdf

Above :mod:`drummernet.transcription` in the layers: inference never imports it. MusicXML needs
music21, SVG verovio, PDF cairosvg: ``pip install 'drummernet[chart]'``; beats and
quantisation need only numpy.
"""

from drummernet.notation.beats import track_beats, with_beats
from drummernet.notation.chart import Bar, Chart, to_chart, to_musicxml, to_pdf, to_svg
from drummernet.notation.quantize import GridNote, quantize, quantize_notes

__all__ = [
    "Bar",
    "Chart",
    "GridNote",
    "quantize",
    "quantize_notes",
    "to_chart",
    "to_musicxml",
    "to_pdf",
    "to_svg",
    "track_beats",
    "with_beats",
]
