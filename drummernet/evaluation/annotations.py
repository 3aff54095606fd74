"""Annotation files: ``time label`` text files and MIDI files -> onset times per label.

Labels are coarse classes (:data:`~drummernet.constants.COARSE_CLASSES`) and component codes
(:data:`~drummernet.constants.COMPONENTS`). Each dataset's own label vocabulary is mapped to them
here: MDB Drums (Southall et al., ISMIR 2017), IDMT-SMT-Drums (Dittmar & Gärtner, DAFx 2014) and
ENST-Drums (Gillet & Richard, ISMIR 2006).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from drummernet.constants import COARSE_CLASSES, component_class
from drummernet.errors import DatasetError, MidiError
from drummernet.evaluation.metrics import FINE_COMPONENTS, events_to_labels, sorted_onsets
from drummernet.midi import MIDI_EXTENSIONS, read_drum_notes

#: MDB Drums subclass labels -> component. Side stick (SST) is class OT in MDB Drums; China (CHC)
#: and splash (SPC) cymbals fit no component. Both floor toms go to the kit's one floor tom.
MDB_SUBCLASS_TO_COMPONENT: dict[str, str | None] = {
    "KD": "KD",
    "SD": "SD", "SDB": "SD", "SDD": "SD", "SDF": "SD", "SDG": "SD", "SDNS": "SD",
    "SST": None,
    "CHH": "HH_CHH", "PHH": "HH_PHH", "OHH": "HH_OHH",
    "HIT": "TT_HIT", "MHT": "TT_MHT", "HFT": "TT_HFT", "LFT": "TT_HFT",
    "RDC": "CY_RDC", "RDB": "CY_RDC", "CRC": "CY_CRC", "CHC": None, "SPC": None,
    "TMB": "OT_TMB",
}  # fmt: skip

#: ENST-Drums labels (numbered cymbals like ``rc3`` lose their number) -> class and component.
#: A brush sweep is a gesture, not a stroke, so it has no onset to score.
ENST_LABELS: dict[str, tuple[str, ...]] = {
    "bd": ("KD",),
    "sd": ("SD",), "sd-": ("SD",), "rs": ("SD",), "cs": ("SD",),
    "chh": ("HH", "HH_CHH"), "ohh": ("HH", "HH_OHH"),
    "mt": ("TT", "TT_HIT"), "mtr": ("TT", "TT_HIT"),
    "lmt": ("TT", "TT_MHT"), "lt": ("TT", "TT_MHT"), "ltr": ("TT", "TT_MHT"),
    "lft": ("TT", "TT_HFT"),
    "rc": ("CY", "CY_RDC"), "cr": ("CY", "CY_CRC"), "ch": ("CY",), "spl": ("CY",), "c": ("CY",),
    "cb": ("OT",), "sticks": ("OT",),
    "sweep": (),
}  # fmt: skip

#: Labels of IDMT-SMT-Drums (kick, snare, hi-hat; hi-hats are not told apart).
IDMT_LABELS: dict[str, tuple[str, ...]] = {"KD": ("KD",), "SD": ("SD",), "HH": ("HH",)}

#: Labels accepted in a manifest's text annotations: coarse classes and component codes.
TEXT_LABELS: dict[str, tuple[str, ...]] = {
    **{c: (c,) for c in COARSE_CLASSES},
    **{c: (component_class(c), c) for c in FINE_COMPONENTS},
}

#: :data:`MDB_SUBCLASS_TO_COMPONENT` as a label mapping for :func:`read_label_file`.
MDB_SUBCLASS_LABELS: dict[str, tuple[str, ...]] = {
    label: (component,) if component else ()
    for label, component in MDB_SUBCLASS_TO_COMPONENT.items()
}


def read_label_file(
    path: Path,
    mapping: Mapping[str, tuple[str, ...]],
    normalize: Callable[[str], str] | None = None,
) -> dict[str, np.ndarray]:
    """Read ``time label`` lines into label -> sorted onsets.

    Blank lines and lines starting with ``#`` are skipped.

    Args:
        path: the text file.
        mapping: file label (after ``normalize``) -> the labels it stands for (possibly none).
        normalize: applied to each file label before the lookup.

    Returns:
        label -> ``(onsets,)`` sorted float64 times, only labels that occur.

    Raises:
        DatasetError: the file cannot be read, a line is malformed, a time is negative or a
            label is unknown.
    """
    grouped: dict[str, list[float]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            time = float(fields[0])
            raw = fields[1]
            if not math.isfinite(time):
                raise ValueError
        except (ValueError, IndexError):
            raise DatasetError(f"{path}:{number}: expected 'time label', got {line!r}") from None
        if time < 0:
            raise DatasetError(f"{path}:{number}: negative onset time {fields[0]}")
        label = normalize(raw) if normalize else raw
        if label not in mapping:
            raise DatasetError(f"{path}:{number}: unknown label {raw!r}")
        for target in mapping[label]:
            grouped.setdefault(target, []).append(time)
    return {label: sorted_onsets(times) for label, times in grouped.items()}


def read_midi_events(path: str | Path) -> list[tuple[float, int]]:
    """Drum note onsets of a MIDI file as ``(time_seconds, note)`` pairs, by
    :func:`drummernet.midi.read_drum_notes` (drum tracks, or the whole file if none is flagged).

    Raises:
        DatasetError: the file is not a readable MIDI file.
    """
    try:
        notes, _ = read_drum_notes(path)
    except MidiError as error:
        raise DatasetError(str(error)) from None
    return [(note.time, note.pitch) for note in notes]


def read_annotation(path: str | Path) -> tuple[dict[str, np.ndarray], bool]:
    """Read one annotation file: MIDI, or text lines ``time label``.

    Text labels are coarse classes (KD SD HH TT CY OT) or component codes (HH_CHH, ...).

    Returns:
        ``(reference, has_components)``: label -> sorted onsets, and whether components are
        annotated (MIDI always; text when it uses component codes).
    """
    path = Path(path)
    if path.suffix.lower() in MIDI_EXTENSIONS:
        return events_to_labels(read_midi_events(path)), True
    reference = read_label_file(path, TEXT_LABELS)
    return reference, any(label in FINE_COMPONENTS for label in reference)
