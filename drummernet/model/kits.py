"""Drum kits: one mono one-shot per drum component, the fixed half of the synthesizer.

DrummerNet (Choi & Cho, ISMIR 2019) renders drums by convolving the analyzer's impulse trains
with a fixed one-shot for each component. A :class:`DrumKit` holds those one-shots, loaded from a
built-in kit (``drummernet/drum_components/manifest.json``), a folder of audio files named by component, or
an explicit mapping; :meth:`DrumKit.to_tensor` stacks them into the synthesizer's kernel.

Every one-shot is resampled to the requested rate, trimmed so its attack is at sample 0, and
(by default) normalised to unit peak, whatever its source.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drummernet.audio import AUDIO_EXTENSIONS, AudioError, files_in, load_audio
from drummernet.constants import (
    COMPONENTS,
    ONE_SHOT_SILENCE_PEAK,
    SAMPLE_RATE,
    VOICE_CODES,
    VOICES,
)
from drummernet.errors import KitError

if TYPE_CHECKING:
    import torch

#: Folder holding ``manifest.json`` and one sub-folder of FLAC one-shots per built-in kit. The
#: files are rendered by ``tools/render_kits.py`` from redistributable sources (see ``NOTICE``).
KIT_DIR: Path = Path(__file__).resolve().parents[1] / "drum_components"

#: The kit index: sample rate, component codes and, per kit, provenance and files.
MANIFEST_PATH: Path = KIT_DIR / "manifest.json"

#: The attack starts at the first sample within this many dB of the one-shot's peak.
ONSET_DB = -40.0

#: File-name aliases accepted for each component, besides its code (matched case-insensitively,
#: with spaces and hyphens read as underscores: ``Closed-Hat.wav`` is ``closed_hat``).
ALIASES: dict[str, str] = {
    "kick": "KD",
    "snare": "SD",
    "hihat_closed": "HH_CHH",
    "closed_hat": "HH_CHH",
    "hihat_pedal": "HH_PHH",
    "pedal_hat": "HH_PHH",
    "hihat_open": "HH_OHH",
    "open_hat": "HH_OHH",
    "tom_high": "TT_HIT",
    "tom_mid": "TT_MHT",
    "tom_floor": "TT_HFT",
    "ride": "CY_RDC",
    "crash": "CY_CRC",
    "tambourine": "OT_TMB",
}


def load_manifest() -> dict:
    """Read the kit manifest.

    Returns:
        ``{"sample_rate": int, "components": [code, ...], "kits": {name: {"description",
        "source", "license", "files": {code: path relative to KIT_DIR}, ["fills"]}}}``;
        a fresh dict on every call, so callers may modify it.
    """
    with open(MANIFEST_PATH, encoding="utf-8") as file:
        return json.load(file)


def list_kits() -> list[str]:
    """Names of the built-in kits, in manifest order."""
    return list(load_manifest()["kits"])


def component_for_name(name: str) -> str | None:
    """The component a file stem or mapping key names, or ``None``.

    Args:
        name: a component code (``"HH_CHH"``, any case) or an alias from :data:`ALIASES`.
    """
    key = re.sub(r"[\s-]+", "_", name.strip()).lower()
    for code in COMPONENTS:
        if key == code.lower():
            return code
    return ALIASES.get(key)


def _check_components(components: Iterable[str]) -> tuple[str, ...]:
    """Component codes, or voice codes (:data:`~drummernet.constants.VOICE_CODES`)."""
    components = tuple(components)
    unknown = [code for code in components if code not in VOICE_CODES]
    if unknown:
        raise KitError(
            f"unknown component code(s) {', '.join(map(str, unknown))}; "
            f"valid codes: {', '.join(COMPONENTS)} (extra voices: {', '.join(VOICES)}; "
            "room voices: a component code + _ROOM; bright voices: KD_HF, SD_HF)"
        )
    return components


def _prepare(audio: np.ndarray, normalize: bool, what: str) -> np.ndarray:
    """Trim the leading silence of a ``(samples,)`` one-shot and optionally normalise its peak."""
    magnitude = np.abs(audio)
    peak = float(magnitude.max(initial=0.0))
    if peak < ONE_SHOT_SILENCE_PEAK:
        raise KitError(f"{what}: one-shot is silent (peak {peak:.1e})")
    start = int(np.argmax(magnitude >= peak * 10 ** (ONSET_DB / 20)))
    audio = audio[start:]
    if normalize:
        audio = audio / peak
    return np.ascontiguousarray(audio, dtype=np.float32)


def _load_one_shot(path: Path, sr: int, normalize: bool, code: str) -> np.ndarray:
    try:
        audio, _ = load_audio(path, sr=sr)
    except AudioError as error:
        raise KitError(f"{code}: {error}") from None
    return _prepare(audio, normalize, f"{code} ({path})")


@functools.lru_cache(maxsize=32)
def _load_builtin(name: str, sr: int, normalize: bool) -> dict[str, np.ndarray]:
    """All of a built-in kit's one-shots, read-only so the cached arrays cannot be corrupted."""
    entry = load_manifest()["kits"][name]
    samples = {}
    for code in (*COMPONENTS, *VOICES):  # every component, and the extra voices the kit has
        if code not in entry["files"]:
            if code not in COMPONENTS:
                continue
            raise KitError(f"built-in kit {name!r} has no {code} one-shot; reinstall drummernet")
        audio = _load_one_shot(KIT_DIR / entry["files"][code], sr, normalize, code)
        audio.flags.writeable = False
        samples[code] = audio
    return samples


def _load_files(
    files: Mapping[str, str | os.PathLike],
    where: str,
    sr: int,
    components: Iterable[str],
    allow_missing: bool,
    normalize: bool,
) -> dict[str, np.ndarray]:
    """Read the wanted one-shots of a component -> file mapping; ``where`` names it in errors."""
    if int(sr) <= 0:
        raise KitError(f"sample rate must be positive, not {sr}")
    wanted = _check_components(components)
    paths: dict[str, Path] = {}
    for key, file in files.items():
        code = component_for_name(str(key))
        if code is None:
            raise KitError(
                f"{where}: unknown component {key!r}; use a code ({', '.join(COMPONENTS)}) "
                f"or an alias ({', '.join(ALIASES)})"
            )
        if code in paths:
            raise KitError(f"{where}: {code} is given twice")
        paths[code] = Path(file)
    missing = [code for code in wanted if code not in paths]
    if missing and not allow_missing:
        alias = {code: name for name, code in reversed(ALIASES.items())}  # first alias listed
        hint = ", ".join(f"{code}.wav or {alias[code]}.wav" for code in missing[:2])
        raise KitError(
            f"{where}: missing component(s) {', '.join(missing)} "
            f"(name files e.g. {hint}; or pass allow_missing=True)"
        )
    return {
        code: _load_one_shot(paths[code], int(sr), normalize, code)
        for code in wanted
        if code in paths
    }


def load_with_voices(
    spec: str | os.PathLike | Mapping[str, str | os.PathLike],
    codes: Iterable[str],
    sr: int = SAMPLE_RATE,
) -> DrumKit:
    """Load the components among ``codes`` strictly (as :meth:`DrumKit.load`), plus the extra
    voices among them (:data:`~drummernet.constants.VOICES`) that a built-in kit has.

    Other sources, and built-in kits lacking a voice, simply leave it out; derived voices
    (room, bright) are the synthesizer's to make.
    """
    codes = tuple(codes)
    kit = DrumKit.load(spec, sr=sr, components=[c for c in codes if c in COMPONENTS])
    extra = [c for c in codes if c in VOICES]
    if extra and isinstance(spec, str) and spec in list_kits():
        kit.samples.update(DrumKit.builtin(spec, sr=sr, components=extra).samples)
    return kit


@dataclass
class DrumKit:
    """A set of one-shots, one per drum component, at one sample rate.

    Attributes:
        name: the kit's name (built-in name, folder name, or ``"custom"``).
        sr: sample rate of every one-shot.
        samples: component code -> ``(samples,)`` float32 mono one-shot, attack at sample 0.
            Only present components are keys. Built-in kits share read-only arrays; copy one
            before changing it in place.
    """

    name: str
    sr: int
    samples: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        _check_components(self.samples)

    def __repr__(self) -> str:
        return f"DrumKit(name={self.name!r}, sr={self.sr}, components={self.components})"

    @property
    def components(self) -> tuple[str, ...]:
        """Codes of the components this kit has, in :data:`COMPONENTS` order."""
        return tuple(code for code in COMPONENTS if code in self.samples)

    @classmethod
    def load(
        cls,
        spec: str | os.PathLike | Mapping[str, str | os.PathLike],
        sr: int = SAMPLE_RATE,
        components: Iterable[str] = COMPONENTS,
        allow_missing: bool = False,
        normalize: bool = True,
    ) -> DrumKit:
        """Load a kit from a built-in name, a folder or a component -> file mapping.

        Args:
            spec: a name from :func:`list_kits`; a folder of one-shots named by component
                (see :meth:`from_folder`); or a mapping component -> audio file.
                A string without a path separator that names a built-in kit is that kit.
            sr: sample rate to resample every one-shot to.
            components: the components wanted (default: all 11).
            allow_missing: leave out wanted components the source lacks, instead of failing.
            normalize: scale every one-shot to unit peak.

        Returns:
            The kit, with ``samples`` keyed by the wanted components it has.

        Raises:
            KitError: unknown kit name, missing folder or files, unknown component codes,
                missing components (unless ``allow_missing``), unreadable or silent audio.
        """
        if isinstance(spec, Mapping):
            return cls.from_files(
                spec, sr=sr, components=components, allow_missing=allow_missing, normalize=normalize
            )
        text = os.fspath(spec)
        is_name = os.sep not in text and (os.altsep is None or os.altsep not in text)
        if is_name and text in list_kits():
            return cls.builtin(text, sr=sr, components=components, normalize=normalize)
        if Path(text).is_dir():
            return cls.from_folder(
                text, sr=sr, components=components, allow_missing=allow_missing, normalize=normalize
            )
        if Path(text).exists():
            raise KitError(f"{text}: is a file; a kit is a built-in name or a folder of one-shots")
        if is_name:
            raise KitError(
                f"unknown kit {text!r}: built-in kits are {', '.join(list_kits())} "
                "(or give a folder of one-shots)"
            )
        raise KitError(f"{text}: no such kit folder")

    @classmethod
    def builtin(
        cls,
        name: str,
        sr: int = SAMPLE_RATE,
        components: Iterable[str] = COMPONENTS,
        normalize: bool = True,
    ) -> DrumKit:
        """Load a built-in kit (cached per name, rate and normalisation).

        Args:
            name: one of :func:`list_kits`.
            sr: sample rate to resample to.
            components: the components wanted (every built-in kit has all 11; an extra voice
                the kit lacks is left out).
            normalize: scale every one-shot to unit peak (the files are all at the same peak,
                so without it kits keep their shipped level of 0.9).

        Raises:
            KitError: ``name`` is not a built-in kit, or a component code is unknown.
        """
        components = _check_components(components)
        names = list_kits()
        if name not in names:
            raise KitError(f"unknown kit {name!r}: built-in kits are {', '.join(names)}")
        samples = _load_builtin(name, int(sr), bool(normalize))
        return cls(name, int(sr), {code: samples[code] for code in components if code in samples})

    @classmethod
    def from_folder(
        cls,
        path: str | os.PathLike,
        sr: int = SAMPLE_RATE,
        components: Iterable[str] = COMPONENTS,
        allow_missing: bool = False,
        normalize: bool = True,
    ) -> DrumKit:
        """Load a kit from a folder of one-shots named by component.

        A file belongs to a component when its stem is the component's code (``KD.wav``,
        ``hh_chh.flac``) or an alias from :data:`ALIASES` (``kick.wav``, ``Closed-Hat.aiff``);
        any extension in :data:`drummernet.audio.AUDIO_EXTENSIONS` is read. Other files are
        ignored.

        Args:
            path: the folder (not searched recursively).
            sr, components, allow_missing, normalize: as for :meth:`load`.

        Raises:
            KitError: the folder is missing, two files name the same component, or a wanted
                component has no file (unless ``allow_missing``); or as for :meth:`from_files`.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise KitError(f"{folder}: no such kit folder")
        found: dict[str, Path] = {}
        for file in sorted(folder.iterdir()):
            if not file.is_file() or file.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            code = component_for_name(file.stem)
            if code is None:
                continue
            if code in found:
                raise KitError(
                    f"{folder}: both {found[code].name} and {file.name} are {code}; keep one"
                )
            found[code] = file
        return cls(
            folder.name,
            int(sr),
            _load_files(found, str(folder), sr, components, allow_missing, normalize),
        )

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, str | os.PathLike],
        sr: int = SAMPLE_RATE,
        components: Iterable[str] = COMPONENTS,
        allow_missing: bool = False,
        normalize: bool = True,
        name: str = "custom",
    ) -> DrumKit:
        """Load a kit from a mapping component -> audio file.

        Args:
            files: keys are component codes (any case) or :data:`ALIASES`; values are paths.
                Components that are not wanted are not read.
            sr, components, allow_missing, normalize: as for :meth:`load`.
            name: the kit's name.

        Raises:
            KitError: a key is not a component, two keys name the same component, a wanted
                component is missing (unless ``allow_missing``), or a file is unreadable or
                silent.
        """
        return cls(
            name, int(sr), _load_files(files, name, sr, components, allow_missing, normalize)
        )

    @classmethod
    def from_samples(
        cls,
        path: str | os.PathLike,
        pick: Callable[[Sequence[Path]], Mapping[str, Path]],
        sr: int = SAMPLE_RATE,
        components: Iterable[str] = COMPONENTS,
        normalize: bool = True,
    ) -> DrumKit:
        """Load a kit from a folder of samples with any names, picked by ear.

        ``DrumKit.from_samples("my_samples/", pick_one_shots)`` with
        :func:`drummernet.samples.kit_builder.pick_one_shots` (or
        ``drummernet.samples.kit_builder.kit_from_samples("my_samples/")``): the kit layer does
        not depend on the sample classifier, which sits above it, so the picker is passed in.

        Args:
            path: the folder, searched recursively (:func:`drummernet.audio.files_in`).
            pick: given the folder's audio files, returns component -> the file that plays it;
                components it leaves out are missing from the kit.
            sr, components, normalize: as for :meth:`load`.

        Raises:
            KitError: the folder is missing or holds no audio file, or a picked file is
                unreadable or silent.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise KitError(f"{folder}: no such folder")
        files = files_in(folder)
        if not files:
            raise KitError(f"{folder}: no audio files in this folder")
        picks = pick(files)
        return cls(
            folder.name,
            int(sr),
            _load_files(picks, str(folder), sr, components, True, normalize),
        )

    def to_tensor(
        self, components: Iterable[str] = COMPONENTS, length: int | None = None
    ) -> torch.Tensor:
        """Stack the one-shots into the synthesizer's kernel.

        Args:
            components: row order (default: all 11 in model order). A component the kit lacks
                gives a row of zeros.
            length: number of samples per row; one-shots are cut or zero-padded to it. ``None``
                means the longest of the requested one-shots (1 if the kit has none of them).

        Returns:
            ``(n_components, length)`` float32 tensor on the CPU.

        Raises:
            KitError: an unknown component code.
        """
        import torch  # imported here so that loading kits does not import torch

        components = _check_components(components)
        present = [self.samples[code] for code in components if code in self.samples]
        if length is None:
            length = max((len(audio) for audio in present), default=1)
        out = np.zeros((len(components), int(length)), dtype=np.float32)
        for row, code in enumerate(components):
            if code in self.samples:
                audio = self.samples[code][:length]
                out[row, : len(audio)] = audio
        return torch.from_numpy(out)
