"""Build a drum kit from a folder of unnamed samples: the best one-shot for each component.

The files are classified (:mod:`drummernet.samples.classify`); every one-shot may fill a
component of its class, and each component takes the file the network rates highest for it, a
file filling one component at most. Toms are then put in pitch order (high, mid, floor) by the
network's own reading of them, so the three sound like one kit's toms. The kit folder holds one
``<CODE>.wav`` per component (attack at the start, at most :data:`KIT_SHOT_SECONDS` long), which
:meth:`drummernet.model.kits.DrumKit.load` and ``--kit FOLDER`` read, and a ``kit.json`` saying
where each came from. Components no file can fill are reported, and taken from a built-in kit
unless asked not to.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drummernet.audio import atomic_write, load_audio, write_audio
from drummernet.constants import COMPONENTS, SAMPLE_CLASS_OF, component_class
from drummernet.errors import KitError
from drummernet.model.kits import KIT_DIR, ONSET_DB, DrumKit, list_kits, load_manifest
from drummernet.samples.classify import OUTPUTS, SampleRecord, iter_classify

#: Longest one-shot written into a kit, in seconds (the built-in kits' longest is 1.5 s).
KIT_SHOT_SECONDS = 2.0
#: Fade-out at the end of a shortened one-shot, in seconds.
KIT_FADE_SECONDS = 0.03
#: Name of the provenance file written beside the one-shots.
KIT_INFO_FILE = "kit.json"

_TOMS = ("TT_HIT", "TT_MHT", "TT_HFT")


@dataclass
class KitPlan:
    """Which file plays each component.

    Attributes:
        picks: component code -> the record of the file chosen for it.
        missing: components no file could fill, in :data:`COMPONENTS` order.
    """

    picks: dict[str, SampleRecord] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def plan_kit(records: Iterable[SampleRecord], components: Sequence[str] = COMPONENTS) -> KitPlan:
    """Choose one file per component among classified files.

    A file can fill a component of its own class only (a tom never plays the kick), and only if
    it was judged one hit. Pairs are taken best first by the network's score for the component.
    """
    records = [r for r in records if r.one_shot]
    pairs = []
    for n, record in enumerate(records):
        for code in components:
            if SAMPLE_CLASS_OF[component_class(code)] != record.sample_class:
                continue
            # "other" holds every non-drum sound: only a tambourine plays the tambourine
            if record.sample_class != "other" or record.component == code:
                pairs.append((float(record.scores[OUTPUTS.index(code)]), n, code))
    pairs.sort(key=lambda pair: (-pair[0], pair[1]))
    picks: dict[str, SampleRecord] = {}
    used: set[int] = set()
    for _, n, code in pairs:
        if code not in picks and n not in used:
            picks[code] = records[n]
            used.add(n)
    chosen = [code for code in _TOMS if code in picks]
    if len(chosen) > 1:  # high to low, by where the network places each tom

        def height(record: SampleRecord) -> float:
            p = np.array([record.scores[OUTPUTS.index(code)] for code in _TOMS]) + 1e-9
            return float(p @ np.arange(3) / p.sum())

        toms = sorted((picks[code] for code in chosen), key=height)
        picks.update(zip(chosen, toms, strict=True))
    missing = tuple(code for code in components if code not in picks)
    return KitPlan({code: picks[code] for code in components if code in picks}, missing)


def pick_one_shots(files: Sequence[Path]) -> dict[str, Path]:
    """Component code -> the file that plays it best, for :meth:`DrumKit.from_samples`.

    Unreadable files are skipped.
    """
    records = iter_classify(files, on_error=lambda path, error: None)
    return {code: record.file for code, record in plan_kit(records).picks.items()}


def one_shot_from_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A file's hit at its own rate: the attack at sample 0, cut to :data:`KIT_SHOT_SECONDS`
    with a fade, as ``((samples,) float32, sample rate)``."""
    audio, sr = load_audio(path, sr=None)
    magnitude = np.abs(audio)
    peak = float(magnitude.max(initial=0.0))
    start = int(np.argmax(magnitude >= peak * 10 ** (ONSET_DB / 20))) if peak > 0 else 0
    audio = audio[start : start + int(KIT_SHOT_SECONDS * sr)].copy()
    if start + int(KIT_SHOT_SECONDS * sr) < len(magnitude):
        fade = min(len(audio), int(KIT_FADE_SECONDS * sr))
        audio[len(audio) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return audio, sr


@dataclass
class KitBuild:
    """What :func:`build_kit` wrote.

    Attributes:
        folder: the kit folder.
        plan: the files chosen.
        filled: components taken from the built-in kit ``fill`` (a subset of ``plan.missing``).
    """

    folder: Path
    plan: KitPlan
    filled: tuple[str, ...]
    fill: str | None


def build_kit(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fill: str | None = None,
    overwrite: bool = False,
    progress: Callable[[Iterable[SampleRecord]], Iterable[SampleRecord]] | None = None,
    on_error: Callable[[Path, Exception], None] | None = None,
) -> KitBuild:
    """Classify a folder of samples and write a kit folder from the best one-shots.

    Args:
        folder: the samples (searched recursively); only read.
        out: the kit folder to write (created).
        fill: a built-in kit whose one-shots fill the components no sample can; ``None`` leaves
            them out (such a kit then loads only with ``allow_missing=True``).
        overwrite: write into an ``out`` that already holds files.
        progress: wraps the stream of records (a progress bar).
        on_error: called for each unreadable sample, which is skipped.

    Raises:
        KitError: ``folder`` holds no audio, ``out`` is not empty (without ``overwrite``), or
            ``fill`` is not a built-in kit.
    """
    from drummernet.audio import files_in

    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise KitError(f"{folder}: no such folder")
    if fill is not None and fill not in list_kits():
        raise KitError(f"unknown kit {fill!r} to fill from: built-in kits are {', '.join(list_kits())}")  # fmt: skip
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise KitError(f"{out}: exists and is not an empty folder; use --overwrite to write into it")  # fmt: skip
    files = [f for f in files_in(folder) if not _inside(f, out)]
    if not files:
        raise KitError(f"{folder}: no audio files in this folder")
    records: Iterable[SampleRecord] = iter_classify(files, on_error=on_error)
    plan = plan_kit(progress(records) if progress else records)
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, object] = {"samples": str(folder.resolve()), "components": {}}
    for code, record in plan.picks.items():
        for old in out.glob(f"{code}.*"):
            old.unlink()
        audio, sr = one_shot_from_file(record.file)
        write_audio(out / f"{code}.wav", audio, sr)
        info["components"][code] = {  # type: ignore[index]
            "file": Path(record.file).relative_to(folder).as_posix()
            if Path(record.file).is_relative_to(folder) else str(record.file),
            "confidence": round(record.confidence, 3),
            "score": round(float(record.scores[OUTPUTS.index(code)]), 3),
        }  # fmt: skip
    filled: tuple[str, ...] = ()
    if fill is not None and plan.missing:
        files_of = load_manifest()["kits"][fill]["files"]
        for code in plan.missing:
            source = KIT_DIR / files_of[code]
            atomic_write(
                out / f"{code}{source.suffix}", lambda tmp, s=source: shutil.copyfile(s, tmp)
            )
        filled = plan.missing
        info["filled_from"] = {code: fill for code in filled}
    text = json.dumps(info, indent=1) + "\n"
    atomic_write(out / KIT_INFO_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return KitBuild(out, plan, filled, fill)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder`` (by its own folder: a link may point anywhere)."""
    return path.parent.resolve().is_relative_to(folder.resolve())


def kit_from_samples(folder: str | os.PathLike, **load) -> DrumKit:
    """:meth:`DrumKit.from_samples` with :func:`pick_one_shots`: the kit, in memory."""
    return DrumKit.from_samples(folder, pick_one_shots, **load)
