"""Evaluation: read drum-transcription datasets and score onset predictions per drum class.

Scoring follows DrummerNet (Choi & Cho, "Deep Unsupervised Drum Transcription", ISMIR 2019) and
most drum-transcription work: an onset F-measure per class with a +-50 ms tolerance
(:func:`mir_eval.util.match_events`, the matching behind :func:`mir_eval.onset.f_measure`) on the
3-class task kick (KD), snare (SD) and hi-hat (HH).

Two averages are reported for every class:

* **macro**: the mean of per-track precision, recall and F1 over the tracks whose reference has
  at least one onset of the class. A track without, say, hi-hats is left out of the HH mean,
  since its F1 would be 0 or undefined whatever the system did.
* **micro**: precision, recall and F1 of the true/false positives and false negatives summed over
  all tracks, so false positives on tracks without the class do count.

The headline figure, :attr:`EvaluationResult.mean_f1`, is the mean over KD/SD/HH of the macro F1.
When the dataset annotates the 11 DrummerNet components (open/closed/pedal hi-hat, three toms,
ride, crash, tambourine) and the system predicts them, those are scored the same way and reported
separately.

Datasets are read into :class:`Track` objects by :func:`read_dataset`, which recognises a
``tracks.tsv`` manifest, MDB Drums (Southall et al., ISMIR 2017), IDMT-SMT-Drums (Dittmar &
Gärtner, DAFx 2014), ENST-Drums (Gillet & Richard, ISMIR 2006) and folders of audio with
same-name MIDI files (Groove / E-GMD, Gillick et al. ICML 2019, Callender et al. 2020).

Run ``python -m drummernet.evaluation --dataset DIR`` to score the band-wise spectral-flux
baseline (:mod:`drummernet.baselines`) on a dataset.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drummernet.audio import AUDIO_EXTENSIONS, AudioError, atomic_write, load_audio
from drummernet.constants import (
    COMPONENTS,
    DEFAULT_ONSET_WINDOW,
    EVAL_CLASSES,
    GM_TO_CLASS,
    GM_TO_COMPONENT,
    component_class,
)
from drummernet.errors import DatasetError

#: Coarse drum classes of MDB Drums' "class" annotations.
COARSE_CLASSES: tuple[str, ...] = ("KD", "SD", "HH", "TT", "CY", "OT")

#: Classes scored by default: the standard 3-class task.
DEFAULT_LABELS: tuple[str, ...] = tuple(EVAL_CLASSES)

#: Onsets of one class closer than this (s) are merged when a class is assembled from several
#: sources (several GM notes, or several predicted components): a stroke annotated as both closed
#: and pedal hi-hat, or a drum module's double trigger, is one onset, not a hit and a false one.
DEFAULT_MERGE_TOLERANCE = 0.01

#: Components that are not also a coarse class (KD and SD are both).
FINE_COMPONENTS: tuple[str, ...] = tuple(c for c in COMPONENTS if c not in COARSE_CLASSES)

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

MIDI_EXTENSIONS: tuple[str, ...] = (".mid", ".midi")

System = Callable[["Track"], Mapping[str, np.ndarray]]


# --------------------------------------------------------------------------------------------
# Tracks and labels


@dataclass
class Track:
    """One annotated recording.

    Attributes:
        name: a name unique within the dataset.
        audio_path: the recording.
        reference: label -> ``(onsets,)`` sorted onset times in seconds. Labels are coarse
            classes (KD, SD, HH, TT, CY, OT) and, when ``has_components``, component codes of
            :data:`~drummernet.constants.COMPONENTS`. Only labels with onsets are present.
        has_components: whether the annotation distinguishes the 11 components, so that a missing
            component means "not played" rather than "not annotated".
    """

    name: str
    audio_path: Path
    reference: dict[str, np.ndarray]
    has_components: bool = False


def _sorted_onsets(times: Iterable[float]) -> np.ndarray:
    onsets = np.sort(np.asarray(list(times), dtype=np.float64).reshape(-1))
    if not np.isfinite(onsets).all():
        raise ValueError("onset times must be finite")
    return onsets


def merge_onsets(
    *onsets: Iterable[float], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> np.ndarray:
    """Union of onset lists, keeping the first of onsets closer than ``tolerance``.

    Returns:
        ``(onsets,)`` sorted float64 times in seconds.
    """
    times = _sorted_onsets(t for group in onsets for t in np.asarray(group).reshape(-1))
    if times.size < 2:
        return times
    keep = np.ones(times.size, dtype=bool)
    last = times[0]
    for i in range(1, times.size):
        if times[i] - last < tolerance:
            keep[i] = False
        else:
            last = times[i]
    return times[keep]


def events_to_labels(
    events: Iterable[tuple[float, int]], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> dict[str, np.ndarray]:
    """Turn (time, General MIDI note) drum events into onsets per class and component.

    Notes map to coarse classes by :data:`~drummernet.constants.GM_TO_CLASS` and to components by
    :data:`GM_TO_COMPONENT`; other notes are dropped. Onsets of one label closer than
    ``tolerance`` merge (two notes of one class at once are one stroke).

    Args:
        events: ``(time_seconds, note)`` pairs, any order.
        tolerance: merge distance in seconds.

    Returns:
        label -> ``(onsets,)`` sorted times, only labels that occur.
    """
    grouped: dict[str, list[float]] = {}
    for time, note in events:
        note = int(note)
        component = GM_TO_COMPONENT.get(note)
        coarse = GM_TO_CLASS.get(note) or (component and component_class(component))
        for label in {coarse, component} - {None}:
            grouped.setdefault(label, []).append(float(time))
    return {
        label: merge_onsets(times, tolerance=tolerance) for label, times in sorted(grouped.items())
    }


def complete_classes(
    predictions: Mapping[str, Iterable[float]], tolerance: float = DEFAULT_MERGE_TOLERANCE
) -> dict[str, np.ndarray]:
    """Sort predictions and add each coarse class that is missing but has predicted components.

    A model that outputs only components (HH_CHH, HH_OHH, ...) is thereby scored on the classes
    too: HH is the merged union of the three hi-hat components, and so on.

    Args:
        predictions: label -> onset times in seconds.
        tolerance: merge distance for the unions.

    Returns:
        label -> ``(onsets,)`` sorted float64 times.
    """
    completed = {label: _sorted_onsets(times) for label, times in predictions.items()}
    for coarse in COARSE_CLASSES:
        parts = [
            v for k, v in completed.items() if k in FINE_COMPONENTS and component_class(k) == coarse
        ]
        if coarse not in completed and parts:
            completed[coarse] = merge_onsets(*parts, tolerance=tolerance)
    return completed


# --------------------------------------------------------------------------------------------
# Annotation files


def _read_label_file(
    path: Path,
    mapping: Mapping[str, tuple[str, ...]],
    normalize: Callable[[str], str] | None = None,
) -> dict[str, np.ndarray]:
    """Read ``time label`` lines into label -> sorted onsets, each label through ``mapping``."""
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
        label = normalize(raw) if normalize else raw
        if label not in mapping:
            raise DatasetError(f"{path}:{number}: unknown label {raw!r}")
        for target in mapping[label]:
            grouped.setdefault(target, []).append(time)
    return {label: _sorted_onsets(times) for label, times in grouped.items()}


#: Labels accepted in a manifest's text annotations: coarse classes and component codes.
_TEXT_LABELS: dict[str, tuple[str, ...]] = {
    **{c: (c,) for c in COARSE_CLASSES},
    **{c: (component_class(c), c) for c in FINE_COMPONENTS},
}

_MDB_SUBCLASS_LABELS: dict[str, tuple[str, ...]] = {
    label: (component,) if component else ()
    for label, component in MDB_SUBCLASS_TO_COMPONENT.items()
}


def read_midi_events(path: str | Path) -> list[tuple[float, int]]:
    """Drum note onsets of a MIDI file as ``(time_seconds, note)`` pairs.

    Notes of drum tracks (channel 10) are read; a file with no track flagged as drums is read
    whole, since some exporters drop the channel.
    """
    import pretty_midi  # imported lazily: only MIDI datasets need it

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi/mido raise many types on bad files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(f"{path}: not a readable MIDI file ({reason})") from None
    instruments = [i for i in midi.instruments if i.is_drum] or midi.instruments
    return [(note.start, note.pitch) for inst in instruments for note in inst.notes]


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
    reference = _read_label_file(path, _TEXT_LABELS)
    return reference, any(label in FINE_COMPONENTS for label in reference)


def _mdb_track(name: str, audio: Path, annotation: Path, subclass: Path | None) -> Track:
    if not audio.is_file():
        raise DatasetError(f"{audio}: audio of track {name!r} not found")
    reference, has_components = read_annotation(annotation)
    if subclass is not None and subclass.is_file():
        components = _read_label_file(subclass, _MDB_SUBCLASS_LABELS)
        # KD and SD are both class and component: the class file's onsets stay authoritative.
        reference.update({k: v for k, v in components.items() if k not in reference})
        has_components = True
    return Track(name, audio, reference, has_components)


def _subclass_beside(annotation: Path) -> Path | None:
    """Where MDB Drums keeps the subclass file of ``annotations/class/X_class.txt``."""
    if annotation.parent.name != "class" or not annotation.stem.endswith("_class"):
        return None
    stem = annotation.stem[: -len("_class")]
    return annotation.parent.parent / "subclass" / f"{stem}_subclass{annotation.suffix}"


# --------------------------------------------------------------------------------------------
# Dataset readers


def read_manifest(path: str | Path) -> list[Track]:
    """Read a ``tracks.tsv`` manifest: tab-separated columns ``track``, ``audio``, ``annotation``.

    Paths are relative to the manifest's folder. Annotations are MIDI files or ``time label`` text
    (coarse classes or component codes); an MDB Drums subclass file found beside a class file
    (``annotations/subclass/X_subclass.txt``), or named in an optional ``subclass`` column, adds
    the components.

    Args:
        path: the manifest, or the folder holding ``tracks.tsv``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "tracks.tsv"
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file, delimiter="\t"))
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None
    missing = {"track", "audio", "annotation"} - set(rows[0] if rows else {})
    if missing:
        raise DatasetError(f"{path}: no tracks, or missing column(s) {', '.join(sorted(missing))}")
    tracks = []
    for number, row in enumerate(rows, 2):
        if not all(row.get(column) for column in ("track", "audio", "annotation")):
            raise DatasetError(f"{path}:{number}: track, audio and annotation must all be given")
        annotation = path.parent / row["annotation"].strip()
        subclass = (row.get("subclass") or "").strip()
        if subclass and not (path.parent / subclass).is_file():
            raise DatasetError(f"{path}:{number}: subclass file {subclass} not found")
        tracks.append(
            _mdb_track(
                row["track"].strip(),
                path.parent / row["audio"].strip(),
                annotation,
                path.parent / subclass if subclass else _subclass_beside(annotation),
            )
        )
    return tracks


def read_mdb(root: str | Path, mix: bool = False) -> list[Track]:
    """Read MDB Drums in its original layout.

    ``audio/drum_only/<track>_Drum.wav`` (or ``audio/full_mix/<track>_MIX.wav`` with ``mix``),
    ``annotations/class/<track>_class.txt`` and ``annotations/subclass/<track>_subclass.txt``.
    """
    root = Path(root)
    tracks = []
    for annotation in sorted((root / "annotations" / "class").glob("*_class.txt")):
        name = annotation.stem[: -len("_class")]
        audio = (
            root / "audio" / "full_mix" / f"{name}_MIX.wav"
            if mix
            else root / "audio" / "drum_only" / f"{name}_Drum.wav"
        )
        tracks.append(_mdb_track(name, audio, annotation, _subclass_beside(annotation)))
    return _nonempty(tracks, root, "MDB Drums class annotations")


def read_idmt(root: str | Path, mix_only: bool = True) -> list[Track]:
    """Read IDMT-SMT-Drums: ``annotation_xml/<name>.xml`` with ``audio/<name>.wav``.

    Each XML holds ``<event>`` elements with ``<onsetSec>`` and ``<instrument>`` (KD, SD, HH).

    Args:
        root: the dataset folder.
        mix_only: keep only the mixtures (``...#MIX``), as the usual evaluation does, not the
            single-instrument tracks (``...#KD``, ``...#train``); names without ``#`` are kept.
    """
    root = Path(root)
    tracks = []
    for xml in sorted((root / "annotation_xml").glob("*.xml")):
        if mix_only and "#" in xml.stem and not xml.stem.endswith("#MIX"):
            continue
        audio = root / "audio" / f"{xml.stem}.wav"
        if not audio.is_file():
            raise DatasetError(f"{audio}: audio for {xml.name} not found")
        try:
            events = ElementTree.parse(xml).getroot().iter("event")
            pairs = [(e.findtext("onsetSec"), e.findtext("instrument")) for e in events]
            grouped: dict[str, list[float]] = {}
            for onset, instrument in pairs:
                for label in IDMT_LABELS[(instrument or "").strip()]:
                    grouped.setdefault(label, []).append(float(onset))
        except ElementTree.ParseError as error:
            raise DatasetError(f"{xml}: not valid XML ({error})") from None
        except (KeyError, TypeError, ValueError):
            raise DatasetError(f"{xml}: an <event> lacks a valid onsetSec or instrument") from None
        reference = {k: _sorted_onsets(v) for k, v in grouped.items()}
        tracks.append(Track(xml.stem, audio, reference))
    return _nonempty(tracks, root, "IDMT-SMT-Drums mixtures in annotation_xml/")


def _enst_label(raw: str) -> str:
    return re.sub(r"\d+$", "", raw.strip().lower())


def read_enst(root: str | Path) -> list[Track]:
    """Read ENST-Drums: ``drummer_N/annotation/<name>.txt`` with ``drummer_N/audio/wet_mix/<name>.wav``.

    Annotation lines are ``time label`` with ENST labels (bd, sd, chh, ohh, rc3, cr1, lmt, ...),
    mapped by :data:`ENST_LABELS`. ``root`` may be the dataset or one ``drummer_N`` folder.
    """
    root = Path(root)
    drummers = [root] if (root / "annotation").is_dir() else sorted(root.glob("drummer_*"))
    tracks = []
    for drummer in drummers:
        for annotation in sorted((drummer / "annotation").glob("*.txt")):
            audio = drummer / "audio" / "wet_mix" / f"{annotation.stem}.wav"
            if not audio.is_file():
                raise DatasetError(f"{audio}: audio for {annotation.name} not found")
            reference = _read_label_file(annotation, ENST_LABELS, normalize=_enst_label)
            tracks.append(Track(f"{drummer.name}/{annotation.stem}", audio, reference, True))
    return _nonempty(tracks, root, "ENST-Drums annotations")


def read_midi_pairs(root: str | Path) -> list[Track]:
    """Read a folder (searched recursively) of audio files with same-name MIDI files.

    The Groove MIDI Dataset and E-GMD layout: ``x/y.wav`` annotated by ``x/y.mid`` (or
    ``.midi``); General MIDI drum notes are mapped by :func:`events_to_labels`. Audio without a
    MIDI file is skipped.
    """
    root = Path(root)
    return _midi_tracks(root, _midi_pairs(root))


def _midi_tracks(root: Path, pairs: list[tuple[Path, Path]]) -> list[Track]:
    tracks = [
        Track(
            audio.relative_to(root).with_suffix("").as_posix(),
            audio,
            events_to_labels(read_midi_events(midi)),
            has_components=True,
        )
        for audio, midi in pairs
    ]
    return _nonempty(tracks, root, "audio files with same-name .mid/.midi files")


def _midi_pairs(root: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        for suffix in MIDI_EXTENSIONS:
            if audio.with_suffix(suffix).is_file():
                pairs.append((audio, audio.with_suffix(suffix)))
                break
    return pairs


def _nonempty(tracks: list[Track], root: Path, what: str) -> list[Track]:
    if not tracks:
        raise DatasetError(f"{root}: no {what} found")
    return tracks


def read_dataset(path: str | Path) -> list[Track]:
    """Read any supported dataset, recognised by its layout.

    In order: a ``tracks.tsv`` manifest (or the path of one), MDB Drums (``annotations/class``),
    IDMT-SMT-Drums (``annotation_xml``), ENST-Drums (``drummer_N/annotation`` or ``annotation``),
    and finally audio files with same-name MIDI files anywhere below ``path``.

    Raises:
        DatasetError: the folder is missing, matches no layout, or holds a bad annotation.
    """
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or directory")
    if root.is_file():
        if root.suffix.lower() == ".tsv":
            return read_manifest(root)
        raise DatasetError(f"{root}: expected a dataset folder or a tracks.tsv manifest")
    if (root / "tracks.tsv").is_file():
        return read_manifest(root / "tracks.tsv")
    if (root / "annotations" / "class").is_dir():
        return read_mdb(root)
    if (root / "annotation_xml").is_dir():
        return read_idmt(root)
    if (root / "annotation").is_dir() or any(root.glob("drummer_*/annotation")):
        return read_enst(root)
    pairs = _midi_pairs(root)
    if pairs:
        return _midi_tracks(root, pairs)
    raise DatasetError(
        f"{root}: not a recognised drum dataset (expected tracks.tsv, MDB Drums, "
        "IDMT-SMT-Drums, ENST-Drums, or audio files with same-name .mid files)"
    )


# --------------------------------------------------------------------------------------------
# Scoring


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class OnsetScore:
    """Matched onset counts of one label, on one track or summed over many.

    Precision, recall and F1 follow :func:`mir_eval.onset.f_measure`: 0 when either side is
    empty, and NaN when both are (nothing to score).
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def n_reference(self) -> int:
        return self.tp + self.fn

    @property
    def n_estimated(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return math.nan if self._empty else _ratio(self.tp, self.n_estimated)

    @property
    def recall(self) -> float:
        return math.nan if self._empty else _ratio(self.tp, self.n_reference)

    @property
    def f1(self) -> float:
        if self._empty:
            return math.nan
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def _empty(self) -> bool:
        return self.n_reference == 0 and self.n_estimated == 0

    def __add__(self, other: OnsetScore) -> OnsetScore:
        return OnsetScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": _json_float(self.precision),
            "recall": _json_float(self.recall),
            "f1": _json_float(self.f1),
        }


def score_onsets(
    reference: Iterable[float], estimated: Iterable[float], window: float = DEFAULT_ONSET_WINDOW
) -> OnsetScore:
    """Match estimated onsets to reference onsets one-to-one within ``+-window`` seconds.

    Args:
        reference: ``(n_ref,)`` onset times in seconds.
        estimated: ``(n_est,)`` onset times in seconds.
        window: tolerance in seconds (inclusive, as in :func:`mir_eval.onset.f_measure`).

    Returns:
        the true positive, false positive and false negative counts.
    """
    import mir_eval.util  # imported lazily: mir_eval's import takes about a second

    ref, est = _sorted_onsets(reference), _sorted_onsets(estimated)
    tp = len(mir_eval.util.match_events(ref, est, window)) if ref.size and est.size else 0
    return OnsetScore(tp=tp, fp=est.size - tp, fn=ref.size - tp)


@dataclass
class TrackResult:
    """Scores of one track: ``scores`` for the evaluated classes, ``component_scores`` for the
    components (empty when the track or the system has none)."""

    name: str
    scores: dict[str, OnsetScore]
    component_scores: dict[str, OnsetScore] = field(default_factory=dict)

    def f1(self, label: str) -> float:
        """F1 of a class, NaN when the reference has none of it (the track is left out)."""
        score = self.scores.get(label, self.component_scores.get(label))
        return score.f1 if score is not None and score.n_reference else math.nan

    @property
    def mean_f1(self) -> float:
        """Mean F1 over the evaluated classes the reference has; NaN if it has none."""
        return _nanmean([self.f1(label) for label in self.scores])


def _nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


@dataclass
class EvaluationResult:
    """Per-track and aggregate onset scores of one system on one dataset.

    Attributes:
        tracks: one :class:`TrackResult` per track, in dataset order.
        labels: the evaluated classes.
        components: the evaluated components (those the system predicts, scored on the tracks
            that annotate components); empty when the system predicts no fine components.
        window: onset tolerance in seconds.
    """

    tracks: list[TrackResult]
    labels: tuple[str, ...]
    components: tuple[str, ...]
    window: float

    def _scores(self, label: str) -> list[OnsetScore]:
        key = "scores" if label in self.labels else "component_scores"
        return [getattr(t, key)[label] for t in self.tracks if label in getattr(t, key)]

    def macro(self, label: str) -> dict[str, float]:
        """Mean precision, recall and F1 over the tracks whose reference has ``label``.

        Returns:
            ``{"precision", "recall", "f1", "tracks"}``; NaN scores when no track has the label.
        """
        scores = [s for s in self._scores(label) if s.n_reference]
        return {
            "precision": _nanmean([s.precision for s in scores]),
            "recall": _nanmean([s.recall for s in scores]),
            "f1": _nanmean([s.f1 for s in scores]),
            "tracks": len(scores),
        }

    def micro(self, label: str) -> OnsetScore:
        """Counts of ``label`` summed over all scored tracks, with and without the label."""
        return sum(self._scores(label), OnsetScore())

    @property
    def mean_f1(self) -> float:
        """Mean over the evaluated classes of their macro F1 (classes no track has are skipped)."""
        return _nanmean([self.macro(label)["f1"] for label in self.labels])

    @property
    def micro_mean_f1(self) -> float:
        """Mean over the evaluated classes of their micro F1."""
        return _nanmean([self.micro(label).f1 for label in self.labels])

    def to_dict(self) -> dict:
        """A JSON-ready summary: settings, macro and micro scores, and every track's counts.

        Undefined scores (NaN) become ``null``.
        """

        def aggregate(labels: Sequence[str]) -> dict:
            summary = {}
            for label in labels:
                macro = self.macro(label)
                summary[label] = {
                    "macro": {
                        "precision": _json_float(macro["precision"]),
                        "recall": _json_float(macro["recall"]),
                        "f1": _json_float(macro["f1"]),
                        "tracks": macro["tracks"],
                    },
                    "micro": self.micro(label).to_dict(),
                }
            return summary

        return {
            "window": self.window,
            "labels": list(self.labels),
            "components": list(self.components),
            "mean_f1": _json_float(self.mean_f1),
            "micro_mean_f1": _json_float(self.micro_mean_f1),
            "classes": aggregate(self.labels),
            "component_scores": aggregate(self.components),
            "tracks": [
                {
                    "name": t.name,
                    "mean_f1": _json_float(t.mean_f1),
                    "scores": {k: v.to_dict() for k, v in t.scores.items()},
                    "component_scores": {k: v.to_dict() for k, v in t.component_scores.items()},
                }
                for t in self.tracks
            ],
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def table(self) -> str:
        """A plain-text report: a row per track, then macro and micro rows, with P/R/F per
        class and the mean F; then, if components were scored, a row per component.

        A ``-`` marks a class the track's reference lacks (left out of the macro mean).
        """
        name_width = max([len(t.name) for t in self.tracks] + [12])

        def number(value: float) -> str:
            return "    -" if math.isnan(value) else f"{value:5.3f}"

        def row(name: str, cells: Sequence[float], mean: float) -> str:
            groups = [
                " ".join(number(c) for c in cells[i : i + 3]) for i in range(0, len(cells), 3)
            ]
            return f"{name:<{name_width}}  " + "  ".join(groups) + f"  {number(mean):>6}"

        header1 = " " * (name_width + 2) + "  ".join(f"{label:^17}" for label in self.labels)
        columns = "  ".join("    P     R     F" for _ in self.labels)
        header2 = f"{'track':<{name_width}}  {columns}  mean F"
        lines = [
            f"Onset scores, window +-{self.window * 1000:g} ms, {len(self.tracks)} tracks",
            header1,
            header2,
        ]
        for track in self.tracks:
            cells = []
            for label in self.labels:
                score = track.scores[label]
                has = score.n_reference > 0
                cells += [score.precision, score.recall, score.f1] if has else [math.nan] * 3
            lines.append(row(track.name, cells, track.mean_f1))
        lines.append("-" * len(header2))
        macro = [self.macro(label) for label in self.labels]
        cells = [m[k] for m in macro for k in ("precision", "recall", "f1")]
        lines.append(row("macro", cells, self.mean_f1))
        micro = [self.micro(label) for label in self.labels]
        cells = [v for s in micro for v in (s.precision, s.recall, s.f1)]
        lines.append(row("micro", cells, self.micro_mean_f1))
        lines.append(
            "macro: mean over tracks that have the class; micro: counts summed over all tracks"
        )
        if self.components:
            n_tracks = sum(1 for t in self.tracks if t.component_scores)
            lines += [
                "",
                f"Components ({n_tracks} tracks annotate them)",
                f"{'component':<10} {'tracks':>6} {'onsets':>6}    macro P     R     F"
                "    micro P     R     F",
            ]
            for component in self.components:
                m, s = self.macro(component), self.micro(component)
                lines.append(
                    f"{component:<10} {m['tracks']:>6} {s.n_reference:>6}    "
                    f"{number(m['precision'])} {number(m['recall'])} {number(m['f1'])}    "
                    f"{number(s.precision)} {number(s.recall)} {number(s.f1)}"
                )
        return "\n".join(line.rstrip() for line in lines)


def _score_track(
    track: Track,
    predictions: Mapping[str, np.ndarray],
    labels: Sequence[str],
    window: float,
) -> dict[str, OnsetScore]:
    empty = np.zeros(0)
    return {
        label: score_onsets(
            track.reference.get(label, empty), predictions.get(label, empty), window
        )
        for label in labels
    }


def evaluate(
    system: System,
    tracks: Sequence[Track],
    window: float = DEFAULT_ONSET_WINDOW,
    labels: Sequence[str] = DEFAULT_LABELS,
    progress: bool = True,
) -> EvaluationResult:
    """Run a transcription system on every track and score its onsets.

    Args:
        system: ``system(track) -> {label: onset times}``; labels are classes and/or components.
            Missing classes are filled from predicted components (:func:`complete_classes`); a
            label the system omits counts as "predicted no onsets". :func:`audio_system` turns an
            ``(audio, sr)`` function into a system.
        tracks: the dataset, e.g. from :func:`read_dataset`.
        window: onset tolerance in seconds.
        labels: classes to score (default KD, SD, HH).
        progress: show a progress bar over tracks (on stderr).

    Returns:
        the scores. Components are scored too, on tracks that annotate them, if the system
        predicts any component that is not also a class (a hi-hat opening, a tom, ...).
    """
    from tqdm.auto import tqdm

    if not tracks:
        raise ValueError("no tracks to evaluate")
    labels = tuple(labels)
    all_predictions = []
    class_scores = []
    f1s: dict[str, list[float]] = {label: [] for label in labels}  # for the running mean shown
    bar = tqdm(tracks, desc="evaluating", unit="track", disable=not progress)
    for track in bar:
        predictions = complete_classes(system(track))
        scores = _score_track(track, predictions, labels, window)
        all_predictions.append(predictions)
        class_scores.append(scores)
        for label, score in scores.items():
            if score.n_reference:
                f1s[label].append(score.f1)
        bar.set_postfix_str(f"mean F {_nanmean([_nanmean(v) for v in f1s.values()]):.3f}")
    predicted = {label for p in all_predictions for label in p}
    components: tuple[str, ...] = ()
    if predicted & set(FINE_COMPONENTS):
        components = tuple(c for c in COMPONENTS if c in predicted)
    results = [
        TrackResult(
            track.name,
            scores,
            _score_track(track, predictions, components, window) if track.has_components else {},
        )
        for track, predictions, scores in zip(tracks, all_predictions, class_scores, strict=True)
    ]
    return EvaluationResult(results, labels, components, window)


def audio_system(
    transcribe: Callable[[np.ndarray, int], Mapping[str, np.ndarray]], sr: int | None = None
) -> System:
    """Make an :func:`evaluate` system from a function of audio.

    Args:
        transcribe: ``transcribe(audio, sr) -> {label: onset times}`` with ``audio: (samples,)``.
        sr: rate to load each track at; ``None`` keeps the file's own rate.

    Returns:
        ``system(track)`` that loads ``track.audio_path`` and calls ``transcribe``.
    """

    def system(track: Track) -> Mapping[str, np.ndarray]:
        audio, rate = load_audio(track.audio_path, sr=sr)
        return transcribe(audio, rate)

    return system


# --------------------------------------------------------------------------------------------
# Command line


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drummernet.evaluation",
        description="Score the band-wise spectral-flux baseline on a drum dataset.",
    )
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder")
    parser.add_argument(
        "--window",
        type=float,
        default=DEFAULT_ONSET_WINDOW,
        help="onset tolerance in seconds (default: %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 success, 1 bad input)."""
    from drummernet.evaluation.baselines import bandwise_system

    args = get_parser().parse_args(argv)
    if args.window <= 0:
        print("error: --window must be positive", file=sys.stderr)
        return 1
    if args.json is not None and args.json.exists() and not args.overwrite:
        print(f"error: {args.json} exists (use --overwrite to replace it)", file=sys.stderr)
        return 1
    try:
        tracks = read_dataset(args.dataset)
        result = evaluate(bandwise_system, tracks, window=args.window, progress=not args.quiet)
    except (DatasetError, AudioError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(result.table())
    if args.json is not None:
        result.to_json(args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
