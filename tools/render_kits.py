"""Regenerate the built-in drum kits (and the bundled example recording) from installed sources.

DrummerNet (Choi & Cho, ISMIR 2019) synthesises drums by convolving predicted impulse trains with
one fixed one-shot per component, so every kit here is one clean hit per component: attack at
sample 0, mono, at most 1 s long (1.5 s for the ringing cymbals and the open hi-hat), faded out
and peak-normalised to the same level so that no kit or component is louder than another.

Every source is redistributable (MIT, CC0 or public domain) and comes from a Debian package::

    apt-get install fluidsynth fluid-soundfont-gm csound-soundfont \\
        musescore-general-soundfont hydrogen-drumkits sonic-pi-samples

SoundFont kits are rendered with the ``fluidsynth`` command line, one run per preset playing one
hit every 2 s; sample kits are read from the packages' WAV/FLAC files. Run::

    python -m tools.render_kits [--out DIR] [--example]

which writes ``DIR/<kit>/<COMPONENT>.flac`` and ``DIR/manifest.json`` (``DIR`` defaults to this
package), prints the level and spectral centroid of every one-shot and how alike the kits are,
and with ``--example`` also writes ``drummernet/data/example.{flac,mid}``. The licences and
copyright holders are listed in ``drummernet/drum_components/NOTICE``; keep it in step with
:func:`kit_sources`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from drummernet.audio import atomic_write, load_audio
from drummernet.constants import (
    COMPONENTS,
    GM_NOTES,
    ONE_SHOT_SILENCE_PEAK,
    VOICES,
    voice_component,
)

#: Sample rate of the shipped one-shots (the model resamples them to its own rate on load).
RENDER_SR = 44100
#: Peak level every one-shot is normalised to.
PEAK_LEVEL = 0.9
#: Longest one-shot, in seconds, for most components.
MAX_SECONDS = 1.0
#: Longest one-shot for the components that ring on (their decay is what identifies them).
LONG_SECONDS = 1.5
LONG_COMPONENTS = frozenset(
    {"HH_OHH", "CY_RDC", "CY_CRC"}
    | {code for code, (parent, _) in VOICES.items() if parent.startswith("CY_")}
)
#: Length of the raised-cosine fade-out at the end of every one-shot.
FADE_SECONDS = 0.03
#: The attack starts at the first sample this far below the peak.
ONSET_DB = -40.0
#: Tails quieter than this (relative to the peak) are dropped before the fade, to keep files small.
TAIL_DB = -60.0
#: MIDI velocity of every rendered hit: loud enough for the full-strength layer of multi-layer kits.
RENDER_VELOCITY = 110
#: Each rendered hit gets a slot this long (longer than any one-shot we keep) ...
SLOT_SECONDS = 2.0
#: ... and its note is released after this long, once the kept part has been played.
NOTE_SECONDS = 1.6
#: Slots are cut this much before their nominal start: fluidsynth starts a note at the 64-sample
#: block boundary before its time, so a cut exactly on time could miss the first samples.
GUARD_SECONDS = 0.01
#: Permissions of written files (atomic_write's temporary files are private, 0600).
PACKAGE_FILE_MODE = 0o644

FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
GMBANK = Path("/usr/share/sounds/sf2/sf_GMbank.sf2")
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3")
AUDIOPHOB = Path("/usr/share/hydrogen/data/drumkits/Audiophob")
SONIC_PI = Path("/usr/share/sonic-pi/samples")

FLUIDR3_ORIGIN = "Debian package fluid-soundfont-gm; Frank Wen and contributors"
FLUIDR3_LICENSE = "MIT"
GMBANK_ORIGIN = "Debian package csound-soundfont; no named author"
GMBANK_LICENSE = "public domain"


@dataclass(frozen=True)
class FontHit:
    """A hit rendered from a SoundFont drum preset (bank 128) at a General MIDI note."""

    soundfont: Path
    program: int
    note: int


@dataclass(frozen=True)
class FileHit:
    """A hit read from an audio file."""

    path: Path


@dataclass(frozen=True)
class KitSource:
    """How to build one kit: where each component's hit comes from, and its provenance."""

    name: str
    description: str
    source: str
    license: str
    hits: dict[str, FontHit | FileHit]
    #: Components taken from another source than the kit's own, with why; shown in the manifest.
    fills: dict[str, str] = field(default_factory=dict)


def font_kit(
    name: str, description: str, soundfont: Path, program: int, origin: str, license: str
) -> KitSource:
    """A kit whose 11 components and extra voices are the GM notes of one SoundFont drum preset.

    The extra voices (:data:`~drummernet.constants.VOICES`: side stick, ride bell, splash...)
    are written only where the preset really plays them (see :func:`render_kits`).
    """
    hits = {code: FontHit(soundfont, program, GM_NOTES[code]) for code in COMPONENTS}
    hits |= {code: FontHit(soundfont, program, note) for code, (_, note) in VOICES.items()}
    source = f"{soundfont.name} bank 128 preset {program} ({origin})"
    return KitSource(name, description, source, license, hits)


#: The GM tambourine of sf_GMbank (public domain), for sample kits that have none.
TAMBOURINE_FILL = FontHit(GMBANK, 0, GM_NOTES["OT_TMB"])
TAMBOURINE_FILL_NOTE = "not in the source kit; rendered from sf_GMbank.sf2 (public domain), note 54"


def kit_sources() -> list[KitSource]:
    """Every built-in kit, in manifest order.

    The SoundFont presets were chosen so that any two kits differ in at least 5 of the 11
    one-shots. Presets that only re-use another kit's samples with reverb or a different kick
    were left out: rendered dry, FluidR3's Room kit differs from its Standard kit in the kick
    alone, its Jazz and Brush kits only in kick and snare, and MuseScore General's Standard kit
    from FluidR3's only in the hi-hats (``report`` prints these overlaps).
    """
    musescore_origin = (
        "Debian package musescore-general-soundfont; "
        "S. Christian Collins, Michael Cowgill, Frank Wen and contributors"
    )
    kits = [
        font_kit(
            "fluidr3_standard",
            "FluidR3 GM Standard kit: acoustic studio drums",
            FLUIDR3, 0, FLUIDR3_ORIGIN, FLUIDR3_LICENSE,
        ),
        font_kit(
            "fluidr3_power",
            "FluidR3 GM Power kit: big rock kick, snare and toms",
            FLUIDR3, 16, FLUIDR3_ORIGIN, FLUIDR3_LICENSE,
        ),
        font_kit(
            "fluidr3_electronic",
            "FluidR3 GM Electronic kit: synthetic kick, snare and toms, acoustic cymbals",
            FLUIDR3, 24, FLUIDR3_ORIGIN, FLUIDR3_LICENSE,
        ),
        font_kit(
            "fluidr3_tr808",
            "FluidR3 GM TR-808 kit: analogue drum-machine sounds",
            FLUIDR3, 25, FLUIDR3_ORIGIN, FLUIDR3_LICENSE,
        ),
        font_kit(
            "musescore_brush",
            "MuseScore General Brush kit: jazz kick, brushed snare, MuseScore hi-hats",
            MUSESCORE, 40, musescore_origin, "MIT",
        ),
        font_kit(
            "gmbank_standard",
            "Csound sf_GMbank Standard kit: small, dry GM drum set",
            GMBANK, 0, GMBANK_ORIGIN, GMBANK_LICENSE,
        ),
        font_kit(
            "gmbank_electronic",
            "Csound sf_GMbank Electronic kit: synthetic kick, snare and toms",
            GMBANK, 24, GMBANK_ORIGIN, GMBANK_LICENSE,
        ),
        font_kit(
            "gmbank_tr808",
            "Csound sf_GMbank TR 808 kit: analogue drum-machine sounds",
            GMBANK, 25, GMBANK_ORIGIN, GMBANK_LICENSE,
        ),
    ]  # fmt: skip
    audiophob = {
        "KD": "86335__zgump__tom-0105.wav",  # the kit's "Kick"
        "SD": "25671__walter-odington__garage-city-snare-snappy.wav",  # "Snare Rock"
        "HH_CHH": "116973__cbeeching__hat-light.wav",  # "Closed HH"
        "HH_PHH": "156272__dayvonjersen__fxshake5.wav",  # "Pedal HH"
        "HH_OHH": "104227__minorr__hhat-paiste-302-14-open-p.wav",  # "Open HH"
        "TT_HIT": "101450__menegass__tomh.wav",  # "Tom Hi"
        "TT_MHT": "99931__menegass__noise-tom1.wav",  # "Tom Mid"
        "TT_HFT": "99930__menegass__noise-tom0.wav",  # "Tom Low"
        "CY_RDC": "15590__lewis__sabmute.wav",  # "Ride Jazz"
        "CY_CRC": "124101__connersaw8__crash.wav",  # "Crash"
    }
    # The kit's own instrument names are in the comments; its "Pedal HH" is a shaker-like hit.
    kits.append(
        KitSource(
            "audiophob",
            "Hydrogen Audiophob kit: lo-fi freesound.org one-shots",
            "Hydrogen drumkit Audiophob (Debian package hydrogen-drumkits; "
            "soundcloud.com/audiophobdubstep, from freesound.org samples)",
            "CC0-1.0 (OT_TMB: public domain)",
            {code: FileHit(AUDIOPHOB / file) for code, file in audiophob.items()}
            | {"OT_TMB": TAMBOURINE_FILL},
            {"OT_TMB": TAMBOURINE_FILL_NOTE},
        )
    )
    sonic_pi = {
        "KD": "drum_bass_hard.flac",
        "SD": "drum_snare_hard.flac",
        "HH_CHH": "drum_cymbal_closed.flac",
        "HH_PHH": "drum_cymbal_pedal.flac",
        "HH_OHH": "drum_cymbal_open.flac",
        "TT_HIT": "drum_tom_hi_hard.flac",
        "TT_MHT": "drum_tom_mid_hard.flac",
        "TT_HFT": "drum_tom_lo_hard.flac",
        # the set has no ride: its soft cymbal hit is the closest (a ride is played lighter)
        "CY_RDC": "drum_cymbal_soft.flac",
        "CY_CRC": "drum_cymbal_hard.flac",
    }
    kits.append(
        KitSource(
            "sonicpi_acoustic",
            "Sonic Pi acoustic drum samples (menegass kit): close-miked acoustic drums",
            "Sonic Pi samples drum_*.flac (Debian package sonic-pi-samples; "
            "recorded by menegass, freesound.org)",
            "CC0-1.0 (OT_TMB: public domain)",
            {code: FileHit(SONIC_PI / file) for code, file in sonic_pi.items()}
            | {"OT_TMB": TAMBOURINE_FILL},
            {
                "CY_RDC": "no ride in the source; its soft cymbal hit (drum_cymbal_soft) is used",
                "OT_TMB": TAMBOURINE_FILL_NOTE,
            },
        )
    )
    return kits


# --------------------------------------------------------------------------------------------
# Rendering hits


class RenderError(RuntimeError):
    """A source is missing or a hit could not be rendered; the message says which."""


def write_hits_midi(path: Path, program: int, notes: list[int]) -> None:
    """Write a drum-channel MIDI file that plays ``notes`` one per :data:`SLOT_SECONDS` slot.

    Each slot starts with the kit's program change and ends with an All Sound Off two
    :data:`GUARD_SECONDS` early, so no tail of one hit leaks into the next slot's audio.
    """
    import mido

    ticks = 480  # per beat; at the default 120 bpm one second is 960 ticks
    slot = int(SLOT_SECONDS * 2 * ticks)
    hold = int(NOTE_SECONDS * 2 * ticks)
    silence = int((SLOT_SECONDS - 2 * GUARD_SECONDS) * 2 * ticks)
    events = []
    for note in notes:
        events += [
            mido.Message("program_change", channel=9, program=program, time=0),
            mido.Message("note_on", channel=9, note=note, velocity=RENDER_VELOCITY, time=0),
            mido.Message("note_off", channel=9, note=note, velocity=0, time=hold),
            # All Sound Off before the next slot: cymbal tails can ring past the slot.
            mido.Message("control_change", channel=9, control=120, value=0, time=silence - hold),
            mido.Message("control_change", channel=9, control=121, value=0, time=slot - silence),
        ]
    events.append(mido.MetaMessage("end_of_track", time=0))
    mido.MidiFile(tracks=[mido.MidiTrack(events)], ticks_per_beat=ticks).save(str(path))


def render_preset(
    soundfont: Path, program: int, notes: list[int], tmp: Path
) -> dict[int, np.ndarray]:
    """Render one hit per note of a SoundFont drum preset, in a single fluidsynth run.

    Args:
        soundfont: a .sf2/.sf3 file with drum presets in bank 128.
        program: the drum preset (kit) number.
        notes: General MIDI drum notes to render.
        tmp: scratch folder.

    Returns:
        ``{note: (samples,)}`` float32 mono audio at :data:`RENDER_SR`, untrimmed: from
        :data:`GUARD_SECONDS` before the note to the same time before the next one.
    """
    if not soundfont.exists():
        raise RenderError(f"{soundfont}: SoundFont not installed (see the module docstring)")
    midi = tmp / f"{soundfont.stem}_{program}.mid"
    wav = tmp / f"{soundfont.stem}_{program}.wav"
    write_hits_midi(midi, program, notes)
    # No reverb or chorus: the kit should be the dry instrument, as the synthesizer adds nothing.
    cmd = [
        "fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(RENDER_SR),
        "-O", "float", "-T", "wav", "-F", str(wav), str(soundfont), str(midi),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav.exists():
        raise RenderError(
            f"fluidsynth failed on {soundfont} preset {program}: {result.stderr.strip()[:200]}"
        )
    audio, _ = load_audio(wav, sr=RENDER_SR)
    slot, guard = int(SLOT_SECONDS * RENDER_SR), int(GUARD_SECONDS * RENDER_SR)
    return {
        note: audio[max(0, i * slot - guard) : (i + 1) * slot - guard]
        for i, note in enumerate(notes)
    }


def render_raw_hits(sources: list[KitSource], tmp: Path) -> dict[FontHit | FileHit, np.ndarray]:
    """Render or read every hit the kits need, each SoundFont preset in one fluidsynth run.

    Returns:
        ``{hit: (samples,)}`` float32 mono audio at :data:`RENDER_SR`, untrimmed.
    """
    presets: dict[tuple[Path, int], list[int]] = {}
    files: set[FileHit] = set()
    for kit in sources:
        for hit in kit.hits.values():
            if isinstance(hit, FontHit):
                notes = presets.setdefault((hit.soundfont, hit.program), [])
                if hit.note not in notes:
                    notes.append(hit.note)
            else:
                files.add(hit)
    raw: dict[FontHit | FileHit, np.ndarray] = {}
    for (soundfont, program), notes in presets.items():
        print(f"rendering {soundfont.name} preset {program}", file=sys.stderr)
        for note, audio in render_preset(soundfont, program, notes, tmp).items():
            raw[FontHit(soundfont, program, note)] = audio
    for hit in files:
        if not hit.path.exists():
            raise RenderError(f"{hit.path}: sample not installed (see the module docstring)")
        raw[hit] = load_audio(hit.path, sr=RENDER_SR)[0]
    return raw


def make_one_shot(audio: np.ndarray, max_seconds: float, sr: int = RENDER_SR) -> np.ndarray:
    """Trim, cut, fade and peak-normalise a raw hit.

    Args:
        audio: ``(samples,)`` raw mono hit, possibly with leading silence and a long tail.
        max_seconds: the longest one-shot kept.
        sr: sample rate of ``audio``.

    Returns:
        ``(n,)`` float32 with the attack at sample 0, ``n <= max_seconds * sr``, peak
        :data:`PEAK_LEVEL`.
    """
    magnitude = np.abs(audio)
    peak = float(magnitude.max(initial=0.0))
    if peak < ONE_SHOT_SILENCE_PEAK:  # a failed render: a preset lacking the note
        raise RenderError(f"hit is silent (peak {peak:.2g})")
    start = int(np.argmax(magnitude >= peak * 10 ** (ONSET_DB / 20)))
    audio = audio[start : start + int(max_seconds * sr)]
    audible = np.flatnonzero(np.abs(audio) >= peak * 10 ** (TAIL_DB / 20))
    audio = audio[: audible[-1] + 1].astype(np.float64)
    fade = min(int(FADE_SECONDS * sr), len(audio) // 4)
    if fade > 0:
        audio[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
    return (audio * (PEAK_LEVEL / np.abs(audio).max())).astype(np.float32)


def write_flac(path: Path, audio: np.ndarray, sr: int = RENDER_SR) -> None:
    """Write ``audio: (samples,)`` as mono 16-bit FLAC, atomically."""
    atomic_write(
        path, lambda tmp: sf.write(tmp, audio, sr, format="FLAC", subtype="PCM_16"), ".flac"
    )
    path.chmod(PACKAGE_FILE_MODE)


# --------------------------------------------------------------------------------------------
# Numbers that stand in for listening


def spectral_centroid(audio: np.ndarray, sr: int = RENDER_SR) -> float:
    """Magnitude-weighted mean frequency of the whole one-shot, in Hz."""
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    return float((spectrum * freqs).sum() / max(spectrum.sum(), 1e-12))


def same_recording(a: np.ndarray, b: np.ndarray, max_lag: int = 256) -> bool:
    """Whether two one-shots are the same sample (peak normalised cross-correlation > 0.9).

    SoundFonts re-use one recording across presets (and pitch it for toms), so this, not a
    spectral distance, is what tells whether two kits really differ.
    """
    n = min(len(a), len(b), RENDER_SR // 2)
    if n <= max_lag:
        return False
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    size = 2 * n
    xcorr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([xcorr[: max_lag + 1], xcorr[-max_lag:]])
    return float(np.abs(lags).max() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)) > 0.9


def report(kits: dict[str, dict[str, np.ndarray]]) -> None:
    """Print duration, RMS and centroid per one-shot, and which one-shots kits share."""
    names = list(kits)
    print(f"{'kit':20s} {'comp':7s} {'dur s':>6s} {'rms dBFS':>8s} {'centroid Hz':>11s}")
    for name in names:
        for code in COMPONENTS:
            audio = kits[name][code]
            rms = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
            print(
                f"{name:20s} {code:7s} {len(audio) / RENDER_SR:6.2f} {rms:8.1f} "
                f"{spectral_centroid(audio):11.0f}"
            )
    print("\none-shots shared between kits (same recording):")
    fewest = len(COMPONENTS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = [c for c in COMPONENTS if same_recording(kits[a][c], kits[b][c])]
            fewest = min(fewest, len(COMPONENTS) - len(shared))
            if shared:
                print(f"  {a} ~ {b}: {', '.join(shared)}")
    print(f"every two kits differ in at least {fewest} of {len(COMPONENTS)} one-shots")


# --------------------------------------------------------------------------------------------
# Kits and manifest


def render_kits(
    out: Path, sources: list[KitSource] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Render every kit into ``out`` and write ``out/manifest.json``.

    Returns:
        ``{kit: {component: (samples,) one-shot}}`` as written.
    """
    if shutil.which("fluidsynth") is None:
        raise RenderError("the fluidsynth command is not installed (apt-get install fluidsynth)")
    sources = kit_sources() if sources is None else sources
    manifest: dict = {"sample_rate": RENDER_SR, "components": list(COMPONENTS), "kits": {}}
    rendered: dict[str, dict[str, np.ndarray]] = {}
    for kit in sources:
        missing = [code for code in COMPONENTS if code not in kit.hits]
        if missing:
            raise RenderError(f"kit {kit.name} lacks {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        raw = render_raw_hits(sources, Path(tmp))
    for kit in sources:
        shots = {}
        for code in (*COMPONENTS, *VOICES):
            if code not in kit.hits:
                continue
            max_seconds = LONG_SECONDS if code in LONG_COMPONENTS else MAX_SECONDS
            try:
                shot = make_one_shot(raw[kit.hits[code]], max_seconds)
            except RenderError as error:
                if code in VOICES:  # a preset without this note: the voice is optional
                    print(f"kit {kit.name}: no {code} ({error})", file=sys.stderr)
                    continue
                raise RenderError(f"kit {kit.name}, {code}: {error}") from None
            siblings = [
                c for c in shots if code in VOICES and voice_component(c) == VOICES[code][0]
            ]
            copy = next((c for c in siblings if same_recording(shot, shots[c])), None)
            if copy is not None:
                # Presets map unplayed notes to another sample; a copy is not a voice.
                print(f"kit {kit.name}: {code} is the sample of {copy}; left out", file=sys.stderr)
                continue
            shots[code] = shot
            write_flac(out / kit.name / f"{code}.flac", shot)
        rendered[kit.name] = shots
        entry = {
            "description": kit.description,
            "source": kit.source,
            "license": kit.license,
            "files": {code: f"{kit.name}/{code}.flac" for code in shots},
        }
        if kit.fills:
            entry["fills"] = kit.fills
        manifest["kits"][kit.name] = entry
    text = json.dumps(manifest, indent=2) + "\n"
    atomic_write(out / "manifest.json", lambda tmp: Path(tmp).write_text(text))
    (out / "manifest.json").chmod(PACKAGE_FILE_MODE)
    remove_stale_kits(out, set(manifest["kits"]))
    return rendered


def remove_stale_kits(out: Path, keep: set[str]) -> None:
    """Delete kit folders of an earlier render that are no longer in the manifest.

    Only folders holding nothing but ``<COMPONENT>.flac`` and extra-voice files are touched.
    """
    names = {f"{code}.flac" for code in (*COMPONENTS, *VOICES)}
    for folder in out.iterdir():
        if not folder.is_dir() or folder.name in keep:
            continue
        files = list(folder.iterdir())
        if files and all(f.is_file() and f.name in names for f in files):
            shutil.rmtree(folder)
            print(f"removed stale kit {folder}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Example recording

#: Kit the demo recording is played on.
EXAMPLE_KIT = "fluidr3_standard"
EXAMPLE_BPM = 120.0
EXAMPLE_SECONDS = 8.0
#: Timing jitter (standard deviation, seconds) so the groove is not machine-perfect.
EXAMPLE_JITTER = 0.004
#: Fade applied to an open hi-hat when the next closed/pedal hi-hat chokes it.
CHOKE_SECONDS = 0.01


def example_score(seed: int = 0) -> list[tuple[float, str, int]]:
    """A 4-bar rock/funk groove at :data:`EXAMPLE_BPM` with a tom fill and two crashes.

    Bars 1, 2 and 4 play eighth-note hi-hats (the last one opened in bars 2 and 4), a
    syncopated kick, a backbeat snare and a ghost note; bar 3 turns into a 16th-note tom fill
    over eighth-note pedal hi-hats; crashes land on bars 1 and 4.

    Returns:
        ``(time_seconds, component, velocity)`` hits, sorted by time.
    """
    rng = np.random.default_rng(seed)
    sixteenth = 60.0 / EXAMPLE_BPM / 4
    steps: list[tuple[int, str, int]] = []  # (16th-note index, component, velocity)
    fill = ["TT_HIT", "TT_HIT", "TT_MHT", "TT_MHT", "TT_MHT", "TT_HFT", "TT_HFT", "TT_HFT"]
    for bar, (crash, open_hat, tom_fill) in enumerate(
        [(True, False, False), (False, True, False), (False, False, True), (True, True, False)]
    ):
        half = 8 if tom_fill else 16  # the fill replaces the groove's second half
        for step in range(0, half, 2):  # hats accented on the beat; the crash replaces one
            if step == 14 and open_hat:
                steps.append((bar * 16 + step, "HH_OHH", 90))
            elif not (step == 0 and crash):
                steps.append((bar * 16 + step, "HH_CHH", 100 if step % 4 == 0 else 72))
        steps += [(bar * 16 + s, "KD", v) for s, v in ((0, 118), (6, 96), (10, 110)) if s < half]
        steps += [(bar * 16 + s, "SD", 115) for s in (4, 12) if s < half]
        if crash:
            steps.append((bar * 16, "CY_CRC", 118))
        if tom_fill:
            steps += [(bar * 16 + 8 + i, code, 95 + 3 * i) for i, code in enumerate(fill)]
            steps += [(bar * 16 + s, "HH_PHH", 64) for s in (8, 10, 12, 14)]  # foot keeps time
        else:
            steps.append((bar * 16 + 15, "SD", 45))  # ghost note into the next bar
    return sorted(
        (max(0.0, s * sixteenth + float(rng.normal(0, EXAMPLE_JITTER))), code, velocity)
        for s, code, velocity in steps
    )


def render_example(kit_dir: Path, audio_path: Path, midi_path: Path) -> None:
    """Mix the example groove from one kit's shipped one-shots and write it with its MIDI score.

    Args:
        kit_dir: folder holding ``<EXAMPLE_KIT>/<COMPONENT>.flac``.
        audio_path: where to write the mono 44.1 kHz FLAC (about :data:`EXAMPLE_SECONDS` long).
        midi_path: where to write the ground-truth General MIDI drum track.
    """
    import pretty_midi

    shots = {
        code: load_audio(kit_dir / EXAMPLE_KIT / f"{code}.flac", sr=RENDER_SR)[0]
        for code in COMPONENTS
    }
    score = example_score()
    mix = np.zeros(int(EXAMPLE_SECONDS * RENDER_SR))
    closings = [t for t, c, _ in score if c in ("HH_CHH", "HH_PHH")]
    for time, code, velocity in score:
        shot = shots[code].astype(np.float64) * (velocity / 127) ** 1.5  # perceptual-ish curve
        if code == "HH_OHH":  # a closing hi-hat chokes the open one, as on a real hi-hat stand
            later = [t for t in closings if t > time]
            if later:
                keep = int((later[0] - time) * RENDER_SR)
                fade = int(CHOKE_SECONDS * RENDER_SR)
                shot = shot[: keep + fade].copy()
                shot[keep:] *= np.linspace(1, 0, len(shot) - keep)
        start = int(round(time * RENDER_SR))
        end = min(len(mix), start + len(shot))
        mix[start:end] += shot[: end - start]
    fade = int(0.05 * RENDER_SR)
    mix[-fade:] *= np.linspace(1, 0, fade)
    mix = (mix * (PEAK_LEVEL / np.abs(mix).max())).astype(np.float32)
    write_flac(audio_path, mix)

    midi = pretty_midi.PrettyMIDI(initial_tempo=EXAMPLE_BPM)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for time, code, velocity in score:
        drums.notes.append(
            pretty_midi.Note(velocity=velocity, pitch=GM_NOTES[code], start=time, end=time + 0.1)
        )
    midi.instruments.append(drums)
    atomic_write(midi_path, lambda tmp: midi.write(tmp), ".mid")
    midi_path.chmod(PACKAGE_FILE_MODE)
    print(f"wrote {audio_path} ({len(mix) / RENDER_SR:.1f} s, {len(score)} hits) and {midi_path}")


# --------------------------------------------------------------------------------------------
# CLI


def get_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``python -m tools.render_kits``."""
    package = Path(__file__).resolve().parents[1] / "drummernet"
    parser = argparse.ArgumentParser(
        prog="python -m tools.render_kits",
        description="Regenerate the built-in drum kits from installed redistributable sources.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=package / "drum_components",
        help="kit folder to write (default: %(default)s)",
    )
    parser.add_argument(
        "--example",
        action="store_true",
        help=f"also mix the demo recording from the {EXAMPLE_KIT} kit into --example-dir",
    )
    parser.add_argument(
        "--example-dir",
        type=Path,
        default=package / "data",
        help="where example.flac and example.mid go (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Render the kits (and optionally the example); returns the process exit code."""
    args = get_parser().parse_args(argv)
    try:
        kits = render_kits(args.out)
        report(kits)
        if args.example:
            render_example(
                args.out, args.example_dir / "example.flac", args.example_dir / "example.mid"
            )
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"\n{args.out}: {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
