"""What a classification writes: a CSV or JSON table of the files, and an organised tree.

Nothing here changes the classified folder: the tree is made of links to its files (or copies),
and an existing entry is never replaced, so organising again only adds what is new.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from drummernet.audio import atomic_write
from drummernet.samples.classify import OUTPUTS, SampleRecord

#: The CSV's columns, in order.
CSV_COLUMNS: tuple[str, ...] = ("file", "class", "component", "confidence", "reason")


def relative_name(file: Path, root: Path | None) -> str:
    """``file`` relative to ``root`` (with ``/`` separators), or as given outside it."""
    if root is not None:
        try:
            return Path(file).relative_to(root).as_posix()
        except ValueError:
            pass
    return Path(file).as_posix()


def record_row(record: SampleRecord, root: Path | None = None) -> dict[str, str]:
    """One CSV row: the columns of :data:`CSV_COLUMNS` as text."""
    return {
        "file": relative_name(record.file, root),
        "class": record.sample_class,
        "component": record.component,
        "confidence": f"{record.confidence:.3f}",
        "reason": record.reason,
    }


def records_csv(records: Iterable[SampleRecord], root: Path | None = None) -> str:
    """The records as CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(record_row(record, root))
    return buffer.getvalue()


def write_csv(path: str | os.PathLike, records: Iterable[SampleRecord], root: Path | None = None):
    """Write :func:`records_csv` to ``path`` atomically."""
    text = records_csv(records, root)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, records: Iterable[SampleRecord], root: Path | None = None):
    """Write the records as a JSON list (the CSV's keys, plus each one-shot's ``scores`` per
    component code, ``""`` being "not a drum") atomically."""
    items = []
    for record in records:
        item: dict[str, object] = dict(record_row(record, root))
        item["confidence"] = round(record.confidence, 4)
        if record.one_shot:
            item["scores"] = {
                code: round(float(p), 4) for code, p in zip(OUTPUTS, record.scores, strict=True)
            }
        items.append(item)
    text = json.dumps(items, indent=1) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


@dataclass
class OrganizeReport:
    """What :func:`organize` did: paths made, paths already there, paths in the way."""

    made: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    conflicts: list[Path] = field(default_factory=list)


def organize(
    records: Iterable[SampleRecord],
    root: str | os.PathLike,
    out: str | os.PathLike,
    copy: bool = False,
) -> OrganizeReport:
    """Sort files into ``out/<class>/<path relative to root>`` as links (or copies).

    Each link points to the file's absolute path. Running it again is safe: an entry that is
    already the same link (or a copy of the same size) is kept, and an entry in the way is
    reported and left alone; ``root`` itself is only read.

    Args:
        records: the classification of files under ``root``.
        root: the classified folder.
        out: the tree's root (created).
        copy: copy the files instead of linking them.
    """
    root, out = Path(root), Path(out)
    report = OrganizeReport()
    for record in records:
        source = Path(record.file).resolve()
        dest = out / record.sample_class / relative_name(Path(record.file), root)
        if dest.is_symlink() or dest.exists():
            same = (
                dest.is_symlink() and Path(os.readlink(dest)) == source
                if not copy
                else dest.is_file()
                and not dest.is_symlink()
                and dest.stat().st_size == source.stat().st_size
            )
            (report.kept if same else report.conflicts).append(dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            atomic_write(dest, lambda tmp, s=source: shutil.copyfile(s, tmp))
        else:
            os.symlink(source, dest)
        report.made.append(dest)
    return report
