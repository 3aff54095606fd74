"""A drum chart: the hits of a transcription in bars, ready to write as MusicXML, SVG or PDF.

:func:`to_chart` tracks the beats if the transcription has none yet, quantises the hits to them
and groups them in bars. Music without a steady beat gets a chart "in free time": written
against the clock (a quarter note per half second, bars of 4), without tempo mark or visible
time signature, after :func:`~drummernet.notation.beats.track_beats` has warned.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from drummernet.audio import atomic_write
from drummernet.constants import DEFAULT_TEMPO_CHANGE
from drummernet.notation.beats import with_beats
from drummernet.notation.musicxml import chart_to_musicxml
from drummernet.notation.quantize import GridNote, quantize_notes
from drummernet.notation.render import musicxml_to_pdf, musicxml_to_svg
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import Beat, tempo_changes

#: Seconds per quarter note of a chart in free time.
FREE_TIME_BEAT = 0.5


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its ``number`` (0 for a pickup), how many ``beats`` it has, the
    time of its first beat and its notes."""

    number: int
    beats: int
    start: float
    notes: tuple[GridNote, ...]


@dataclass(frozen=True)
class Chart:
    """A drum chart.

    Attributes:
        transcription: the transcription it was made from, with its beats.
        notes: the hits on the grid, in time order.
        bars: the bars, in order, from the first beat to the last.
        meter: beats per full bar.
        swing: the swing ratio of a swung piece, else ``None``.
        steady: whether the music has a steady beat (else the chart is in free time).
        tempo_marks: ``(bar, beat, bpm)`` where a tempo mark is written.
        title: printed above the chart.
    """

    transcription: Transcription
    notes: tuple[GridNote, ...]
    bars: tuple[Bar, ...]
    meter: int
    swing: float | None
    steady: bool
    tempo_marks: tuple[tuple[int, int, float], ...]
    title: str

    def to_musicxml(self) -> bytes:
        """The chart as MusicXML (see :mod:`drummernet.notation.musicxml`)."""
        return chart_to_musicxml(self)

    def to_svg(self) -> str:
        """The chart engraved by verovio, all pages in one SVG (see
        :mod:`drummernet.notation.render`)."""
        return musicxml_to_svg(self.to_musicxml())

    def to_pdf(self) -> bytes:
        """The chart engraved as a PDF, a page per page of :meth:`to_svg`."""
        return musicxml_to_pdf(self.to_musicxml())

    def write_musicxml(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_musicxml` to ``path`` atomically."""
        data = self.to_musicxml()
        return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)

    def write_svg(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_svg` to ``path`` atomically."""
        text = self.to_svg()
        return atomic_write(
            path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite
        )

    def write_pdf(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_pdf` to ``path`` atomically."""
        data = self.to_pdf()
        return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)


def _free_time_beats(duration: float) -> tuple[Beat, ...]:
    """The clock as beats: one per :data:`FREE_TIME_BEAT` seconds, 4 to a bar."""
    count = max(2, int(duration / FREE_TIME_BEAT) + 1)
    return tuple(Beat(k * FREE_TIME_BEAT, k // 4 + 1, k % 4 + 1) for k in range(count))


def to_chart(result: Transcription, *, title: str | None = None, **options) -> Chart:
    """The chart of a transcription.

    Args:
        result: the transcription; its beats are tracked (``with_beats``) when it has none.
        title: the chart's title (default: the source file's name, else "Drums").
        options: keyword arguments of :func:`~drummernet.notation.quantize.quantize_notes`.
    """
    if result.beats is None:
        result = with_beats(result)
    beats = result.beats or ()
    steady = len(beats) >= 2
    grid = beats if steady else _free_time_beats(result.duration)
    notes, swing = quantize_notes(result.events, grid, **options) if result.events else ([], None)
    meter = max(b.beat for b in grid)
    # Bars run from the first beat (or an earlier hit) to the last beat (or a later hit). A
    # pickup (bar 0) holds the beats from its first on, renumbered from 1; other bars are full.
    first = min([(n.bar, n.beat) for n in notes] + [(grid[0].bar, grid[0].beat)])
    last = max([n.bar for n in notes] + [grid[-1].bar])
    bars = []
    for number in range(first[0], last + 1):
        bar_notes = tuple(n for n in notes if n.bar == number)
        length = meter
        if number == first[0] and first[1] > 1:
            length = meter - first[1] + 1
            bar_notes = tuple(dataclasses.replace(n, beat=n.beat - first[1] + 1) for n in bar_notes)
        in_bar = [b.time for b in grid if b.bar == number]
        start = in_bar[0] if in_bar else min((n.time for n in bar_notes), default=0.0)
        bars.append(Bar(number, length, start, bar_notes))
    while len(bars) > 1 and not bars[-1].notes:  # the grid runs on past the last hit
        bars.pop()
    marks: list[tuple[int, int, float]] = []
    if steady:
        for time, bpm in tempo_changes(beats, DEFAULT_TEMPO_CHANGE):
            beat = min(beats, key=lambda b: abs(b.time - time))
            bar = next(b for b in bars if b.number == beat.bar)
            marks.append((beat.bar, beat.beat - (meter - bar.beats), bpm))
    if title is None:
        title = Path(result.source).stem if result.source else "Drums"
    return Chart(
        transcription=result,
        notes=tuple(notes),
        bars=tuple(bars),
        meter=meter,
        swing=swing,
        steady=steady,
        tempo_marks=tuple(marks),
        title=title,
    )


def to_musicxml(result: Transcription) -> bytes:
    """The chart of a transcription (:func:`to_chart`) as MusicXML."""
    return to_chart(result).to_musicxml()


def to_svg(result: Transcription) -> str:
    """The chart of a transcription (:func:`to_chart`) as one SVG."""
    return to_chart(result).to_svg()


def to_pdf(result: Transcription) -> bytes:
    """The chart of a transcription (:func:`to_chart`) as a PDF."""
    return to_chart(result).to_pdf()
