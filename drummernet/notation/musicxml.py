"""A chart as MusicXML: one percussion staff in the standard drum-kit layout, written by music21.

music21 lays out the bars, voices, durations, rests, beams and tuplets. It has no way to tell
apart two drums of one instrument class (three toms, two hi-hat sounds) in its per-note
``<instrument>`` links, so :func:`_add_drum_instruments` adds them to its output: a
``<score-instrument>`` per drum with its General MIDI note (``<midi-unpitched>``, channel 10),
and a link from each note to its drum, which is how MuseScore and other clients know which
drum a notehead plays.

Staff positions follow the common drum-set key (Weinberg, *Guide to Standardized Drumset
Notation*): kick in the bottom space, snare in the third space, toms around it, hi-hat above
the staff with x noteheads (an open hat carries an "o"), pedal hat below it, ride on the top
line, crash on the ledger line above. Hands are voice 1 with stems up, feet (kick, pedal hat)
voice 2 with stems down.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from drummernet.constants import COMPONENT_NAMES, DEFAULT_BARS_PER_SYSTEM, GM_NOTES
from drummernet.errors import DrummerNetError
from drummernet.notation.quantize import GridNote

if TYPE_CHECKING:
    from drummernet.notation.chart import Chart

#: The optional dependencies of charts, named in the error when one is missing.
CHART_EXTRA = "chart"


@dataclass(frozen=True)
class StaffPosition:
    """Where a drum is written: display step and octave, notehead, voice (1 hands, 2 feet)
    and whether it carries the open mark."""

    display: str
    notehead: str
    voice: int
    open: bool = False


#: Staff position of each component.
DRUM_STAFF: dict[str, StaffPosition] = {
    "KD": StaffPosition("F4", "normal", 2),
    "SD": StaffPosition("C5", "normal", 1),
    "HH_CHH": StaffPosition("G5", "x", 1),
    "HH_PHH": StaffPosition("D4", "x", 2),
    "HH_OHH": StaffPosition("G5", "x", 1, open=True),
    "TT_HIT": StaffPosition("E5", "normal", 1),
    "TT_MHT": StaffPosition("D5", "normal", 1),
    "TT_HFT": StaffPosition("A4", "normal", 1),
    "CY_RDC": StaffPosition("F5", "x", 1),
    "CY_CRC": StaffPosition("A5", "x", 1),
    "OT_TMB": StaffPosition("B5", "triangle", 1),
}


class ChartDependencyError(DrummerNetError, ImportError):
    """An optional dependency of charts (music21, verovio) is not installed."""


def require(module: str):
    """Import an optional dependency of charts, or raise a one-line
    :class:`ChartDependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ChartDependencyError(
            f"charts need {module.split('.')[0]}: pip install 'drummernet[{CHART_EXTRA}]'"
        ) from None


def _unpitched(note_module, code: str, ghost: bool):
    position = DRUM_STAFF[code]
    unpitched = note_module.Unpitched(displayName=position.display)
    unpitched.notehead = position.notehead
    unpitched.stemDirection = "up" if position.voice == 1 else "down"
    if ghost:
        unpitched.noteheadParenthesis = True
    if position.open:
        articulations = require("music21.articulations")
        unpitched.articulations.append(articulations.OpenString())
    return unpitched


def _beat_content(
    notes: Sequence[GridNote], stream, note_module, percussion, duration_module
) -> list:
    """The notes (chords, grace notes) and rests of one voice in one beat, in order."""
    by_position: dict[Fraction, list[GridNote]] = {}
    for n in notes:
        by_position.setdefault(n.position, []).append(n)
    positions = sorted(by_position)
    elements: list = []
    if not positions or positions[0] > 0:
        first = positions[0] if positions else Fraction(1)
        elements.append(note_module.Rest(quarterLength=first))
    for k, position in enumerate(positions):
        length = (positions[k + 1] if k + 1 < len(positions) else Fraction(1)) - position
        group = by_position[position]
        for grace in (n for n in group if n.grace):
            element = _unpitched(note_module, grace.event.component, False)
            element.duration = duration_module.Duration(0.5)
            grace_note = element.getGrace()
            grace_note.duration.slash = True
            elements.append(grace_note)
        main = sorted({n.event.component: n for n in group if not n.grace}.items())
        if not main:
            elements.append(note_module.Rest(quarterLength=length))
            continue
        heads = [_unpitched(note_module, code, n.ghost) for code, n in main]
        element = heads[0] if len(heads) == 1 else percussion.PercussionChord(heads)
        element.duration = duration_module.Duration(length)
        if len(heads) > 1:
            element.stemDirection = heads[0].stemDirection
        elements.append(element)
    return elements


def chart_score(chart: Chart):
    """The chart as a ``music21.stream.Score``."""
    stream = require("music21.stream")
    note_module = require("music21.note")
    percussion = require("music21.percussion")
    duration_module = require("music21.duration")
    clef = require("music21.clef")
    meter_module = require("music21.meter")
    tempo_module = require("music21.tempo")
    expressions = require("music21.expressions")
    layout = require("music21.layout")
    metadata = require("music21.metadata")
    instrument = require("music21.instrument")

    score = stream.Score()
    score.metadata = metadata.Metadata(title=chart.title)
    score.metadata.composer = "drummernet transcription"
    part = stream.Part()
    drums = instrument.UnpitchedPercussion()
    drums.instrumentName = drums.partName = "Drum Set"
    drums.partAbbreviation = "D. Set"
    part.insert(0, drums)
    marks = {(bar, beat): bpm for bar, beat, bpm in chart.tempo_marks}
    previous_length = None
    for index, bar in enumerate(chart.bars):
        measure = stream.Measure(number=bar.number)
        if index == 0:
            measure.insert(0, clef.PercussionClef())
        if index % DEFAULT_BARS_PER_SYSTEM == 0 and index:
            measure.insert(0, layout.SystemLayout(isNew=True))
        pickup = index == 0 and bar.beats < chart.meter
        written = chart.meter if pickup else bar.beats
        if written != previous_length:
            signature = meter_module.TimeSignature(f"{written}/4")
            if not chart.steady:
                signature.style.hideObjectOnPrint = True
            measure.insert(0, signature)
            previous_length = written
        if pickup:
            measure.paddingLeft = chart.meter - bar.beats
        if index == 0 and chart.swing is not None:
            measure.insert(0, expressions.TextExpression("Swing"))
        if index == 0 and not chart.steady:
            measure.insert(0, expressions.TextExpression("free time"))
        for beat in range(1, bar.beats + 1):
            if (bar.number, beat) in marks:
                mark = tempo_module.MetronomeMark(number=round(marks[(bar.number, beat)]))
                measure.insert(beat - 1, mark)
        for voice_number in (1, 2):
            voice = stream.Voice(id=str(voice_number))
            in_voice = [n for n in bar.notes if DRUM_STAFF[n.event.component].voice == voice_number]
            if not in_voice and voice_number == 2 and not bar.notes:
                continue  # an empty bar shows one whole rest, not one per voice
            if not in_voice:
                rest = note_module.Rest(quarterLength=bar.beats)
                rest.fullMeasure = True
                voice.append(rest)
            else:
                for beat in range(1, bar.beats + 1):
                    here = [n for n in in_voice if n.beat == beat]
                    for element in _beat_content(
                        here, stream, note_module, percussion, duration_module
                    ):
                        voice.append(element)
            measure.insert(0, voice)
        part.append(measure)
    score.insert(0, part)
    return score


def chart_to_musicxml(chart: Chart) -> bytes:
    """The chart as a MusicXML 4.0 document (uncompressed)."""
    m21_to_xml = require("music21.musicxml.m21ToXml")
    exporter = m21_to_xml.GeneralObjectExporter(chart_score(chart))
    root = ElementTree.fromstring(exporter.parse())
    _add_drum_instruments(root, {n.event.component for n in chart.notes})
    body = ElementTree.tostring(root, encoding="unicode")
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    doctype = (
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
        '"http://www.musicxml.org/dtds/partwise.dtd">\n'
    )
    return (declaration + doctype + body + "\n").encode("utf-8")


# Children of <note> that come after <instrument> in the MusicXML schema's order.
_AFTER_INSTRUMENT = (
    "footnote", "level", "voice", "type", "dot", "accidental", "time-modification", "stem",
    "notehead", "notehead-text", "staff", "beam", "notations", "lyric", "play", "listen",
)  # fmt: skip


def _add_drum_instruments(root: ElementTree.Element, used: set[str]) -> None:
    """Give the drum part one ``<score-instrument>`` per drum in ``used`` and link each note
    to its drum (see the module's description)."""
    part = root.find("part-list/score-part")
    if part is None:
        return
    part_id = part.get("id", "P1")
    for old in part.findall("score-instrument") + part.findall("midi-instrument"):
        part.remove(old)
    codes = [code for code in DRUM_STAFF if code in used]
    ids = {code: f"{part_id}-{code}" for code in codes}
    for code in codes:
        entry = ElementTree.SubElement(part, "score-instrument", id=ids[code])
        ElementTree.SubElement(entry, "instrument-name").text = COMPONENT_NAMES[code].title()
    for code in codes:
        midi = ElementTree.SubElement(part, "midi-instrument", id=ids[code])
        ElementTree.SubElement(midi, "midi-channel").text = "10"
        ElementTree.SubElement(midi, "midi-unpitched").text = str(GM_NOTES[code] + 1)
    # Which drum a notehead is: its position, notehead and open mark are unique per drum.
    lookup = {
        (p.display, p.notehead, p.open): code for code, p in DRUM_STAFF.items() if code in ids
    }
    for note in root.iter("note"):
        unpitched = note.find("unpitched")
        if unpitched is None:
            continue
        display = unpitched.findtext("display-step", "") + unpitched.findtext("display-octave", "")
        head = note.findtext("notehead") or "normal"
        is_open = note.find("notations/technical/open-string") is not None
        drum = lookup.get((display, head, is_open))
        if drum is None:
            continue
        for old in note.findall("instrument"):
            note.remove(old)
        at = next((i for i, child in enumerate(note) if child.tag in _AFTER_INSTRUMENT), len(note))
        note.insert(at, ElementTree.Element("instrument", id=ids[drum]))
