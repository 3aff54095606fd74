"""Annotated drum datasets -> :class:`Track` objects (recording + reference onsets per label).

:func:`read_dataset` recognises a ``tracks.tsv`` manifest, MDB Drums (Southall et al., ISMIR
2017), IDMT-SMT-Drums (Dittmar & Gärtner, DAFx 2014), ENST-Drums (Gillet & Richard, ISMIR 2006)
and folders of audio with same-name MIDI files (Groove / E-GMD, Gillick et al. ICML 2019,
Callender et al. 2020). Annotation files are parsed by :mod:`drummernet.evaluation.annotations`.
"""

from __future__ import annotations

import csv
import math
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drummernet.audio import files_in
from drummernet.errors import DatasetError
from drummernet.evaluation.annotations import (
    ENST_LABELS,
    IDMT_LABELS,
    MDB_SUBCLASS_LABELS,
    read_annotation,
    read_label_file,
    read_midi_events,
)
from drummernet.evaluation.metrics import events_to_labels, sorted_onsets
from drummernet.midi import MIDI_EXTENSIONS


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


def _mdb_track(name: str, audio: Path, annotation: Path, subclass: Path | None) -> Track:
    if not audio.is_file():
        raise DatasetError(f"{audio}: audio of track {name!r} not found")
    reference, has_components = read_annotation(annotation)
    if subclass is not None and subclass.is_file():
        components = read_label_file(subclass, MDB_SUBCLASS_LABELS)
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
            reader = csv.DictReader(file, delimiter="\t")
            rows = list(reader)
            columns = list(reader.fieldnames or ())
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None
    missing = [name for name in ("track", "audio", "annotation") if name not in columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (the first line names the "
            "tab-separated columns track, audio, annotation)"
        )
    if not rows:
        raise DatasetError(f"{path}: no tracks")
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
                    if onset is None or not 0 <= float(onset) < math.inf:
                        raise ValueError("no finite, non-negative onsetSec")
                    grouped.setdefault(label, []).append(float(onset))
        except ElementTree.ParseError as error:
            raise DatasetError(f"{xml}: not valid XML ({error})") from None
        except (KeyError, TypeError, ValueError):
            raise DatasetError(
                f"{xml}: an <event> lacks a valid onsetSec (a non-negative time) or instrument"
            ) from None
        reference = {k: sorted_onsets(v) for k, v in grouped.items()}
        tracks.append(Track(xml.stem, audio, reference))
    return _nonempty(tracks, root, "IDMT-SMT-Drums mixtures in annotation_xml/")


def _enst_label(raw: str) -> str:
    return re.sub(r"\d+$", "", raw.strip().lower())


def read_enst(root: str | Path) -> list[Track]:
    """Read ENST-Drums: ``drummer_N/annotation/<name>.txt`` with ``drummer_N/audio/wet_mix/<name>.wav``.

    Annotation lines are ``time label`` with ENST labels (bd, sd, chh, ohh, rc3, cr1, lmt, ...),
    mapped by :data:`~drummernet.evaluation.annotations.ENST_LABELS`. ``root`` may be the dataset
    or one ``drummer_N`` folder.
    """
    root = Path(root)
    drummers = [root] if (root / "annotation").is_dir() else sorted(root.glob("drummer_*"))
    tracks = []
    for drummer in drummers:
        for annotation in sorted((drummer / "annotation").glob("*.txt")):
            audio = drummer / "audio" / "wet_mix" / f"{annotation.stem}.wav"
            if not audio.is_file():
                raise DatasetError(f"{audio}: audio for {annotation.name} not found")
            reference = read_label_file(annotation, ENST_LABELS, normalize=_enst_label)
            tracks.append(Track(f"{drummer.name}/{annotation.stem}", audio, reference, True))
    return _nonempty(tracks, root, "ENST-Drums annotations")


def read_midi_pairs(root: str | Path) -> list[Track]:
    """Read a folder (searched recursively) of audio files with same-name MIDI files.

    The Groove MIDI Dataset and E-GMD layout: ``x/y.wav`` annotated by ``x/y.mid`` (or
    ``.midi``); General MIDI drum notes are mapped by
    :func:`~drummernet.evaluation.metrics.events_to_labels`. Audio without a MIDI file is skipped.
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
    for audio in files_in(root):
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
