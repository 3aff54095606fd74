"""Labelled one-shots for the sample classifier's training and evaluation, with no hand labels.

Three sources, each labelled only by what its files or presets already say:

- the built-in kits (``drummernet/drum_components``): the file name is the component code;
- ``other`` negatives made here by simple synthesis (hand drums, tabla, claps and slaps,
  cowbells, agogos, wood blocks, shakers, maracas, bells, tones, chords, sweeps, noise,
  reversed hits), speech spoken by ``espeak-ng``, and loops
  rendered from several kit hits (not one hit);
- an external test set that no method is trained or tuned on: the Debian packages
  ``hydrogen-drumkits`` (labelled by the kits' own instrument names), ``sonic-pi-samples`` (by
  file-name prefix; its ``drum_*`` set is a built-in kit and is left out), the TimGM6mb
  SoundFont's drum presets and the General MIDI percussion notes (clap, cowbell, congas, ...) of
  three SoundFonts (by MIDI note).

``apt-get install hydrogen-drumkits sonic-pi-samples timgm6mb-soundfont fluid-soundfont-gm
csound-soundfont fluidsynth espeak-ng`` provides them; a missing package just leaves its part out.
Rendered and decoded audio is cached under ``runs/samples/`` (never in git).
"""

from __future__ import annotations

import hashlib
import math
import pickle
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from drummernet.audio import load_audio, resample
from drummernet.constants import SAMPLE_CLASS_OF, component_class, voice_component
from drummernet.dsp import biquad
from drummernet.model.kits import KIT_DIR, load_manifest
from drummernet.training.augment import augment_audio

SR = 44100
REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "runs" / "samples"

HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
GMBANK = Path("/usr/share/sounds/sf2/sf_GMbank.sf2")


@dataclass
class Example:
    """One labelled sound: ``audio (samples,)`` float32 at :data:`SR`."""

    audio: np.ndarray
    cls: str  # one of SAMPLE_CLASSES
    component: str  # component code, or "" for a non-drum sound
    group: str  # kit (or negative kind) it belongs to: the unit held out
    source: str  # where the kit comes from: kits of one source share samples
    name: str


# ------------------------------------------------------------------------------ built-in kits


def kit_source(kit: str) -> str:
    """Kits of one source share samples: fluidr3_*, gmbank_*; the others are one each."""
    return kit.split("_")[0]


def shipped_examples() -> list[Example]:
    """Every one-shot of every built-in kit, the extra voices included."""
    out = []
    for kit, entry in load_manifest()["kits"].items():
        for code, file in entry["files"].items():
            component = voice_component(code)
            audio, _ = load_audio(KIT_DIR / file, sr=SR)
            cls = SAMPLE_CLASS_OF[component_class(component)]
            out.append(Example(audio, cls, component, kit, kit_source(kit), f"{kit}/{code}"))
    return out


# ------------------------------------------------------------------------- synthetic negatives


def _env(n: int, decay: float, attack: float = 0.0005) -> np.ndarray:
    t = np.arange(n) / SR
    return (np.minimum(t / attack, 1.0) * np.exp(-t / decay)).astype(np.float32)


def _band(audio: np.ndarray, low: float, high: float) -> np.ndarray:
    sos = scipy.signal.butter(2, [low, min(high, 0.45 * SR)], "bandpass", fs=SR, output="sos")
    return scipy.signal.sosfilt(sos, audio).astype(np.float32)


def _tone(rng: np.random.Generator, f0: float, n: int, shape: str) -> np.ndarray:
    t = np.arange(n) / SR
    vibrato = 1 + rng.uniform(0, 0.006) * np.sin(2 * np.pi * rng.uniform(3, 7) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SR
    if shape == "sine":
        return np.sin(phase).astype(np.float32)
    if shape == "square":
        return np.sign(np.sin(phase)).astype(np.float32) * 0.5
    harmonics = np.arange(1, max(2, int(0.45 * SR / f0)))[:40]
    return sum(np.sin(k * phase) / k for k in harmonics).astype(np.float32) * 0.5


def _adsr(n: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    t = np.arange(n) / SR
    length = n / SR
    env = np.where(t < attack, t / attack, sustain + (1 - sustain) * np.exp(-(t - attack) / decay))
    env *= np.clip((length - t) / release, 0, 1)
    return env.astype(np.float32)


def clap(rng):
    n = int(rng.uniform(0.15, 0.5) * SR)
    noise = rng.standard_normal(n).astype(np.float32)
    env = np.zeros(n, np.float32)
    t0 = 0
    for _ in range(int(rng.integers(2, 5))):
        env[t0:] += _env(n - t0, rng.uniform(0.004, 0.01))
        t0 += int(rng.uniform(0.006, 0.015) * SR)
    env[t0:] += 0.7 * _env(n - t0, rng.uniform(0.04, 0.15))
    centre = rng.uniform(900, 2500)
    return _band(noise * env, centre / 1.8, centre * 1.8)


def cowbell(rng):
    n = int(rng.uniform(0.2, 0.8) * SR)
    f = rng.uniform(450, 900)
    body = _tone(rng, f, n, "square") + _tone(rng, f * rng.uniform(1.35, 1.6), n, "square")
    return _band(body, f * 0.8, f * 6) * _env(n, rng.uniform(0.05, 0.3))


def woodblock(rng):
    n = int(rng.uniform(0.08, 0.3) * SR)
    f = rng.uniform(700, 3000)
    click = rng.standard_normal(n).astype(np.float32) * _env(n, 0.002)
    return _tone(rng, f, n, "sine") * _env(n, rng.uniform(0.015, 0.08)) + 0.3 * click


def shaker(rng):
    n = int(rng.uniform(0.08, 0.4) * SR)
    t = np.arange(n) / SR
    attack = rng.uniform(0.01, 0.05)
    env = np.minimum(t / attack, 1.0) * np.exp(-np.maximum(t - attack, 0) / rng.uniform(0.02, 0.1))
    return _band(rng.standard_normal(n).astype(np.float32), rng.uniform(2500, 5000), 15000) * env


def bell(rng):
    n = int(rng.uniform(0.8, 3.0) * SR)
    f = rng.uniform(600, 4000)
    ratios = [1.0, rng.uniform(2.0, 2.9), rng.uniform(3.5, 5.4), rng.uniform(5.5, 8.0)]
    out = sum(_tone(rng, f * r, n, "sine") / (i + 1) for i, r in enumerate(ratios))
    return out * _env(n, rng.uniform(0.2, 1.2))


def tone(rng):
    n = int(rng.uniform(0.3, 3.0) * SR)
    f = math.exp(rng.uniform(math.log(45), math.log(1200)))
    shape = str(rng.choice(["sine", "square", "saw"]))
    env = _adsr(n, rng.uniform(0.002, 0.2), rng.uniform(0.05, 0.5), rng.uniform(0.3, 0.9), 0.05)
    return _tone(rng, f, n, shape) * env


def chord(rng):
    n = int(rng.uniform(0.8, 3.5) * SR)
    root = math.exp(rng.uniform(math.log(100), math.log(500)))
    chords = [[0, 4, 7], [0, 3, 7], [0, 4, 7, 11], [0, 5, 7], [0, 3, 7, 10]]
    steps = chords[int(rng.integers(len(chords)))]
    shape = str(rng.choice(["sine", "saw", "square"]))
    out = sum(_tone(rng, root * 2 ** (s / 12), n, shape) for s in steps)
    pluck = rng.random() < 0.5
    env = _env(n, rng.uniform(0.3, 1.5), 0.003) if pluck else _adsr(n, 0.3, 0.5, 0.8, 0.3)
    return out * env


def sweep(rng):
    n = int(rng.uniform(0.5, 3.0) * SR)
    f0, f1 = np.exp(rng.uniform(math.log(60), math.log(8000), size=2))
    f = np.geomspace(f0, f1, n)
    if rng.random() < 0.5:
        out = np.sin(2 * np.pi * np.cumsum(f) / SR).astype(np.float32)
    else:  # a filter swept over noise (a riser)
        noise = rng.standard_normal(n).astype(np.float32)
        blocks = np.array_split(np.arange(n), 32)
        out = np.concatenate([_band(noise[b], f[b[0]] / 1.5, f[b[0]] * 1.5) for b in blocks])
    return out * _adsr(n, rng.uniform(0.05, 0.8), 1.0, 1.0, 0.2)


def steady_noise(rng):
    n = int(rng.uniform(0.5, 3.0) * SR)
    noise = rng.standard_normal(n).astype(np.float32)
    if rng.random() < 0.5:  # vinyl-like crackle over hiss
        noise = 0.2 * noise + (rng.random(n) < 0.002) * rng.standard_normal(n) * 3
    return noise.astype(np.float32) * _adsr(n, rng.uniform(0.01, 0.3), 1.0, 1.0, 0.1)


def zap(rng):
    n = int(rng.uniform(0.1, 0.5) * SR)
    f = np.geomspace(rng.uniform(2000, 6000), rng.uniform(100, 600), n)
    return np.sin(2 * np.pi * np.cumsum(f) / SR).astype(np.float32) * _env(
        n, rng.uniform(0.03, 0.2)
    )


def hand_drum(rng):
    """A conga, bongo or djembe: a pitched membrane above the toms' range, with a slap."""
    n = int(rng.uniform(0.15, 0.6) * SR)
    f = rng.uniform(170, 500)
    t = np.arange(n) / SR
    bend = f * (1 + rng.uniform(0, 0.15) * np.exp(-t / 0.02))
    body = np.sin(2 * np.pi * np.cumsum(bend) / SR).astype(np.float32)
    body *= _env(n, rng.uniform(0.04, 0.25))
    slap = _band(rng.standard_normal(n).astype(np.float32), 800, 4000) * _env(
        n, rng.uniform(0.005, 0.03)
    )
    return body + rng.uniform(0.0, 1.0) * slap


def snap(rng):
    """A finger snap or stick click: a very short band of noise."""
    n = int(rng.uniform(0.05, 0.2) * SR)
    centre = rng.uniform(1500, 4000)
    noise = rng.standard_normal(n).astype(np.float32)
    return _band(noise, centre / 1.5, centre * 1.5) * _env(n, rng.uniform(0.004, 0.02))


#: Ratios of an ideal circular membrane's first modes to its fundamental.
MEMBRANE_MODES = (1.0, 1.594, 2.136, 2.296, 2.653, 2.918, 3.156)


def _modes(rng, f: float, ratios, n: int, decay: float) -> np.ndarray:
    """Decaying sines at ``f * ratios``, higher modes weaker and shorter (a struck body)."""
    t = np.arange(n) / SR
    out = np.zeros(n, np.float32)
    for i, ratio in enumerate(ratios):
        gain = rng.uniform(0.2, 1.0) / (1 + 0.7 * i)
        phase = rng.uniform(0, 2 * np.pi)
        out += gain * np.sin(2 * np.pi * f * ratio * t + phase) * np.exp(-t * (1 + 0.5 * i) / decay)
    return out


def _micro_attacks(rng, n: int, count: int, spacing: tuple[float, float]) -> list[int]:
    """Onsets (samples) of ``count`` strokes a few ms apart: fingers or hands landing unevenly."""
    starts = [0]
    for _ in range(count - 1):
        starts.append(starts[-1] + int(rng.uniform(*spacing) * SR))
    return [s for s in starts if s < n]


def membrane_hand(rng):
    """A djembe, conga or bongo stroke: membrane modes with a short, high-Q ring above the toms'
    range, struck by several fingers, as an open tone or a slap."""
    n = int(rng.uniform(0.12, 0.6) * SR)
    stroke = rng.choice(["tone", "slap"], p=[0.6, 0.4])
    f = math.exp(rng.uniform(math.log(180), math.log(650)))
    decay = rng.uniform(0.03, 0.2)
    body = _modes(rng, f, MEMBRANE_MODES[: int(rng.integers(3, 8))], n, decay)
    skin = _band(
        rng.standard_normal(n).astype(np.float32), rng.uniform(600, 1500), rng.uniform(3000, 8000)
    )
    slap_gain = rng.uniform(0.5, 1.2) if stroke == "slap" else rng.uniform(0.05, 0.3)
    hit = body + slap_gain * skin * _env(n, rng.uniform(0.006, 0.03))
    out = np.zeros(n, np.float32)
    for i, start in enumerate(_micro_attacks(rng, n, int(rng.integers(1, 4)), (0.002, 0.012))):
        out[start:] += hit[: n - start] * (0.6**i)
    return out


def tabla(rng):
    """A tabla stroke: the dayan's harmonic partials (its loaded head) or the bayan's low tone
    whose pitch rises under the palm."""
    n = int(rng.uniform(0.2, 1.5) * SR)
    t = np.arange(n) / SR
    if rng.random() < 0.5:  # dayan: nearly harmonic partials
        f = rng.uniform(250, 600)
        ratios = [k * rng.uniform(0.99, 1.01) for k in (1, 2, 3, 4, 5)]
        return _modes(rng, f, ratios, n, rng.uniform(0.08, 0.8)) + 0.3 * _band(
            rng.standard_normal(n).astype(np.float32), 1000, 6000
        ) * _env(n, 0.01)
    f0 = rng.uniform(70, 140)
    glide = f0 * (1 + rng.uniform(0.1, 0.5) * (1 - np.exp(-t / rng.uniform(0.05, 0.2))))
    body = np.sin(2 * np.pi * np.cumsum(glide) / SR).astype(np.float32)
    return body * _env(n, rng.uniform(0.1, 0.4))


def hand_slap(rng):
    """A hand clap, cajon slap or frame-drum slap: 3-6 noise bursts 4-15 ms apart (a snare has
    one) over a faint body thump, the noise band lower and wider than a snare's wires."""
    n = int(rng.uniform(0.1, 0.45) * SR)
    noise = rng.standard_normal(n).astype(np.float32)
    centre = math.exp(rng.uniform(math.log(600), math.log(2500)))
    burst = _band(noise, centre / rng.uniform(1.5, 3), centre * rng.uniform(1.5, 3))
    env = np.zeros(n, np.float32)
    starts = _micro_attacks(rng, n, int(rng.integers(3, 7)), (0.004, 0.015))
    for start in starts:
        env[start:] += rng.uniform(0.5, 1.0) * _env(n - start, rng.uniform(0.002, 0.008))
    env[starts[-1] :] += rng.uniform(0.1, 0.5) * _env(n - starts[-1], rng.uniform(0.02, 0.12))
    thump = _modes(rng, rng.uniform(90, 300), MEMBRANE_MODES[:3], n, rng.uniform(0.02, 0.08))
    return burst * env + rng.uniform(0, 0.25) * thump


def maraca(rng):
    """Maracas or a shaker: a dense stream of tiny bright grains (the beads) whose rate and level
    swell and fall with the shake."""
    n = int(rng.uniform(0.05, 0.3) * SR)
    t = np.arange(n) / SR
    rate = rng.uniform(2000, 15000)  # grains per second at the peak
    peak = rng.uniform(0.006, 0.04)  # the beads swell in: no instant attack
    shape = np.exp(-((t - peak) ** 2) / (2 * rng.uniform(0.005, 0.04) ** 2))
    grains = (rng.random(n) < rate / SR * shape) * rng.standard_normal(n)
    ring = np.exp(-np.arange(int(0.002 * SR)) / (0.0003 * SR))
    out = np.convolve(grains, ring)[:n].astype(np.float32)
    return _band(out, rng.uniform(2500, 6000), rng.uniform(10000, 18000))


def agogo(rng):
    """An agogo, cowbell or bell plate: a pair of inharmonic partials (and a few weaker ones),
    a clean strike, a ring of 0.1-0.8 s."""
    n = int(rng.uniform(0.15, 0.9) * SR)
    f = math.exp(rng.uniform(math.log(400), math.log(2200)))
    ratios = [1.0, rng.uniform(1.3, 1.7), rng.uniform(2.3, 2.9), rng.uniform(3.6, 4.6)]
    body = _modes(rng, f, ratios[: int(rng.integers(2, 5))], n, rng.uniform(0.08, 0.6))
    click = rng.standard_normal(n).astype(np.float32) * _env(n, 0.001)
    return body + rng.uniform(0, 0.3) * click


SYNTHS = {
    "hand_drum": hand_drum,
    "snap": snap,
    "clap": clap,
    "cowbell": cowbell,
    "woodblock": woodblock,
    "shaker": shaker,
    "bell": bell,
    "tone": tone,
    "chord": chord,
    "sweep": sweep,
    "noise": steady_noise,
    "zap": zap,
    "membrane_hand": membrane_hand,
    "tabla": tabla,
    "hand_slap": hand_slap,
    "maraca": maraca,
    "agogo": agogo,
}


def reversed_hit(rng, shots: list[np.ndarray]) -> np.ndarray:
    shot = shots[int(rng.integers(len(shots)))]
    return shot[::-1].copy()


def loop(rng, shots: list[np.ndarray]) -> np.ndarray:
    """Several hits of ``shots`` on a grid of 8ths or 16ths: a drum loop, not one hit."""
    bpm = rng.uniform(70, 180)
    step = 60 / bpm / (2 if rng.random() < 0.5 else 4)
    seconds = rng.uniform(1.0, 4.0)
    out = np.zeros(int((seconds + 1.5) * SR), np.float32)
    steps = max(3, int(seconds / step))
    played = 0
    for i in range(steps):
        if i > 0 and rng.random() < 0.3:
            continue
        shot = shots[int(rng.integers(len(shots)))] * rng.uniform(0.4, 1.0)
        start = int(i * step * SR)
        end = min(len(out), start + len(shot))
        out[start:end] += shot[: end - start]
        played += 1
    return out[: int(seconds * SR)] if played > 1 else out


def speech_clips() -> list[tuple[np.ndarray, str]]:
    """Short utterances spoken by espeak-ng in several voices (cached); empty without it."""
    folder = CACHE / "speech"
    if not shutil.which("espeak-ng") and not folder.is_dir():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    phrases = [
        "kick", "snare drum", "one two three four", "hello", "check check", "yeah",
        "put your hands up", "drop the beat", "testing the microphone", "go",
        "seven", "the quick brown fox", "come on", "hey", "all right", "break it down",
    ]  # fmt: skip
    voices = ["en", "en-us", "de", "fr", "es", "it", "nl", "pt", "sv", "pl"]
    out = []
    rng = np.random.default_rng(7)
    for i in range(40):
        path = folder / f"speech_{i:02d}.wav"
        if not path.exists():
            voice = voices[i % len(voices)] + ("+f3" if i % 3 == 0 else "")
            text = phrases[i % len(phrases)]
            speed, pitch = int(rng.integers(110, 220)), int(rng.integers(20, 80))
            cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path)]
            subprocess.run([*cmd, text], check=True, capture_output=True)
        out.append((load_audio(path, sr=SR)[0], path.stem))
    return out


def negative_examples(
    seed: int, per_kind: int, shots: list[np.ndarray], speech: list[tuple[np.ndarray, str]]
) -> list[Example]:
    """``per_kind`` synthetic sounds of every kind, reversed hits and loops of ``shots``, and the
    given speech clips; all class ``other``. Each example's group is its kind."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, make in SYNTHS.items():
        for i in range(per_kind):
            out.append(Example(_peak(make(rng)), "other", "", kind, "synth", f"{kind}_{seed}_{i}"))
    for i in range(per_kind if shots else 0):
        audio = reversed_hit(rng, shots)
        out.append(Example(_peak(audio), "other", "", "reversed", "synth", f"reversed_{seed}_{i}"))
        audio = loop(rng, shots)
        out.append(Example(_peak(audio), "other", "", "loop", "loop", f"loop_{seed}_{i}"))
    for audio, name in speech:
        out.append(Example(_peak(audio), "other", "", "speech", "speech", name))
    return out


def _peak(audio: np.ndarray, level: float = 0.9) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    return audio * np.float32(level / (np.abs(audio).max() + 1e-9))


# -------------------------------------------------------------------------------- augmentation


def augment(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random variant of a one-shot as another kit, room or producer might give it: retuned,
    shortened or lengthened, EQ'd, compressed, saturated, band-limited, noisy, delayed."""
    if rng.random() < 0.7:  # retune: a drum's pitch (and with it its decay) varies by kit
        audio = resample(audio, SR, int(SR * 2 ** (rng.uniform(-5, 5) / 12)))
    if rng.random() < 0.3:  # a shorter decay (gated, muffled, choked)
        audio = audio * _env(len(audio), rng.uniform(0.05, 0.8), 1e-6)
    if rng.random() < 0.2:  # cut short with a fade
        keep = min(len(audio), max(int(0.06 * SR), int(len(audio) * rng.uniform(0.2, 0.9))))
        audio = audio[:keep] * np.linspace(1, 0, keep, dtype=np.float32) ** 0.5
    audio = np.concatenate([audio, np.zeros(int(0.3 * SR), np.float32)])  # room for reverb
    audio = augment_audio(audio, rng, SR)
    if rng.random() < 0.25:  # a strong EQ: a boosted or cut band
        freq = math.exp(rng.uniform(math.log(60), math.log(10000)))
        sos = biquad("peak", freq, rng.uniform(-15, 15), rng.uniform(0.5, 3), SR)[None]
        audio = scipy.signal.sosfilt(sos, audio).astype(np.float32)
    if rng.random() < 0.15:  # saturation
        drive = rng.uniform(2, 10)
        audio = np.tanh(drive * audio / (np.abs(audio).max() + 1e-9)).astype(np.float32)
    if rng.random() < 0.15:  # a low-rate or lossy file
        low = int(rng.choice([8000, 11025, 16000, 22050]))
        audio = resample(resample(audio, SR, low), low, SR)
    if rng.random() < 0.3:  # leading silence or room noise before the hit
        lead = np.zeros(int(rng.uniform(0, 0.08) * SR), np.float32)
        audio = np.concatenate([lead, audio])
    if rng.random() < 0.5:
        audio = -audio
    return _peak(audio, float(rng.uniform(0.1, 1.0)))


# ---------------------------------------------------------------------------- external test set


def _hydrogen_class(name: str) -> tuple[str, str] | None:
    """(class, component) from a Hydrogen instrument name, or None when the name is unclear."""
    n = name.lower()
    if not n or re.fullmatch(r"[\d\s]+", n) or "roll" in n or n.startswith("sample:"):
        return None
    rules = [
        (r"clap|cowbell|conga|bongo|cajon|maraca|tambourine|clave|woodblock|waterglass|djembe|"
         r"sangban|dununba|kenkeni|whistle|snap|zap|\bfx\b|^click$|major|minor|min7|key|agogo|"
         r"triangle|shaker|guiro|cabasa|vibra|timbale|cuica", "other", ""),
        (r"kick|bass ?drum|\bbd\b", "kick", "KD"),
        (r"snare|rimshot|stick|rim", "snare", "SD"),
        (r"hh|hat", "hihat", "HH_CHH"),
        (r"\btom", "tom", "TT_MHT"),  # not the "Custom" of a ride's name
        (r"crash|ride|cymbal|splash|china|cup|paiste bell", "cymbal", "CY_CRC"),
    ]  # fmt: skip
    for pattern, cls, component in rules:
        if re.search(pattern, n):
            return cls, component
    return None


def hydrogen_examples(skip_hashes: set[str]) -> list[Example]:
    """One-shots of the Hydrogen kits, at most 2 velocity layers per instrument, no duplicates."""
    out: list[Example] = []
    seen = set(skip_hashes)
    if not HYDROGEN.is_dir():
        return out
    for kit in sorted(HYDROGEN.iterdir()):
        if kit.name == "Audiophob" or not (kit / "drumkit.xml").is_file():
            continue  # Audiophob is a built-in kit
        root = ET.parse(kit / "drumkit.xml").getroot()
        for instrument in root.iter():
            if not instrument.tag.endswith("instrument"):
                continue
            name = next((c.text or "" for c in instrument if c.tag.endswith("name")), "")
            label = _hydrogen_class(name)
            if label is None:
                continue
            files = [e.text for e in instrument.iter() if e.tag.endswith("filename") and e.text]
            files = list(dict.fromkeys(files))
            for file in files[-1:] + files[len(files) // 2 : len(files) // 2 + 1][: len(files) - 1]:
                path = kit / file
                if not path.is_file():
                    continue
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                audio, _ = load_audio(path, sr=SR)
                cls, component = label
                out.append(Example(audio, cls, component, f"hydrogen/{kit.name}", "hydrogen",
                                   f"{kit.name}/{name}/{Path(file).name}"))  # fmt: skip
    return out


SONIC_PI_CLASSES = {
    "bd_": "kick", "sn_": "snare", "elec_hollow_kick": "kick", "elec_soft_kick": "kick",
    "elec_snare": "snare", "elec_hi_snare": "snare", "elec_lo_snare": "snare",
    "elec_mid_snare": "snare", "elec_filt_snare": "snare", "elec_cymbal": "cymbal",
    "elec_fuzz_tom": "tom",
}  # fmt: skip


def sonic_pi_examples() -> list[Example]:
    """Sonic Pi's samples but its drum_* kit: kicks and snares by prefix, everything else (bells,
    blips, loops, tabla, ambient, bass, guitar, vinyl, robots) is other."""
    out: list[Example] = []
    if not SONIC_PI.is_dir():
        return out
    for path in sorted(SONIC_PI.glob("*.flac")):
        if path.name.startswith("drum_"):
            continue
        cls = next((c for p, c in SONIC_PI_CLASSES.items() if path.name.startswith(p)), "other")
        audio, _ = load_audio(path, sr=SR)
        component = {"kick": "KD", "snare": "SD", "cymbal": "CY_CRC", "tom": "TT_MHT"}.get(cls, "")
        out.append(Example(audio, cls, component, "sonicpi", "sonicpi", path.name))
    return out


#: General MIDI percussion notes with no component: clap, cowbell, bongos, congas,
#: timbales, agogos, cabasa, maracas, whistles, guiros, claves, wood blocks, cuicas, triangles.
GM_OTHER_NOTES = (39, 56, *range(60, 82))


def soundfont_examples() -> list[Example]:
    """TimGM6mb's drum kits (a SoundFont no built-in kit comes from), and the General MIDI
    percussion of TimGM6mb, FluidR3 and sf_GMbank as ``other``."""
    from drummernet.constants import GM_TO_COMPONENT

    try:
        from tools.render_kits import make_one_shot, render_preset
    except ImportError:
        return []
    if not shutil.which("fluidsynth"):
        return []
    out = []
    # 22/26 are electronic hi-hat edges and 58 the GM vibraslap (a floor-tom rim for Roland)
    kit_notes = sorted(n for n in GM_TO_COMPONENT if n not in (22, 26, 58))
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(TIMGM, p, kit_notes) for p in (0, 16, 24, 25, 40, 48)]
        jobs += [(font, 0, list(GM_OTHER_NOTES)) for font in (TIMGM, FLUIDR3, GMBANK)]
        for font, program, notes in jobs:
            if not font.exists():
                continue
            for note, raw in render_preset(font, program, notes, Path(tmp)).items():
                try:
                    audio = make_one_shot(raw, 2.0)
                except Exception:
                    continue  # the preset lacks the note
                component = GM_TO_COMPONENT.get(note, "")
                cls = SAMPLE_CLASS_OF[component_class(component)] if component else "other"
                if note == 54:
                    cls, component = "other", "OT_TMB"
                group = f"{font.stem}/{program}"
                out.append(Example(audio, cls, component, group, font.stem, f"{group}/{note}"))
    return _dedupe(out)


def _dedupe(examples: list[Example]) -> list[Example]:
    """Drop examples whose audio repeats an earlier one (presets share samples)."""
    seen, out = set(), []
    for ex in examples:
        key = hashlib.sha1(np.round(ex.audio[:4096], 3).tobytes()).hexdigest()
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


EXADRUMS = Path("/usr/share/exadrums")
#: eXaDrums' sample names (BSD-3-Clause) -> component.
EXADRUMS_COMPONENTS = {
    "BD_": "KD", "Snr_": "SD", "HiHat": "HH_CHH", "Crash": "CY_CRC", "Ride": "CY_RDC",
    "Tom01": "TT_HIT", "Tom03": "TT_HFT",
}  # fmt: skip


def exadrums_examples() -> list[Example]:
    """The one-shots of the Debian package ``exadrums`` (BSD-3-Clause), named by file."""
    out: list[Example] = []
    for path in sorted(EXADRUMS.glob("*.wav")) if EXADRUMS.is_dir() else []:
        component = next((c for p, c in EXADRUMS_COMPONENTS.items() if path.name.startswith(p)), "")
        if component:
            audio, _ = load_audio(path, sr=SR)
            cls = SAMPLE_CLASS_OF[component_class(component)]
            out.append(Example(audio, cls, component, "exadrums", "exadrums", path.name))
    return out


#: License-clean sources besides the built-in kits, each labelled only by its own names: Sonic
#: Pi's samples (CC0, file-name prefixes), the General MIDI percussion of FluidR3 (MIT) and
#: sf_GMbank (public domain) (MIDI note) and eXaDrums' kit (BSD-3-Clause, file names). The shipped
#: classifier trains on their drum hits (sample_classifier.extra_rows); the held-out external set
#: (heldout_external) keeps the other sources (Hydrogen's kits, TimGM6mb), which no method trains
#: on.
TRAINING_SOURCES = ("sonicpi", "FluidR3_GM", "sf_GMbank", "exadrums")


def _without_shipped(examples: list[Example]) -> list[Example]:
    """``examples`` less the copies of built-in one-shots (same first 4096 samples, rounded)."""

    def key(e: Example) -> str:
        return hashlib.sha1(np.round(e.audio[:4096], 3).tobytes()).hexdigest()

    shipped = {key(e) for e in shipped_examples()}
    return [e for e in examples if key(e) not in shipped]


def _cached(name: str, build: Callable[[], list[Example]]) -> list[Example]:
    """``build()``, pickled as ``CACHE/<name>.pkl`` the first time and read from there after."""
    path = CACHE / f"{name}.pkl"
    if path.exists():
        with open(path, "rb") as file:
            return pickle.load(file)
    examples = build()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(examples, file)
    return examples


def extra_examples() -> list[Example]:
    """The sounds of :data:`TRAINING_SOURCES` (cached), copies of built-in one-shots removed."""

    def build() -> list[Example]:
        fonts = [e for e in soundfont_examples() if e.source in TRAINING_SOURCES]
        return _without_shipped(_dedupe(sonic_pi_examples() + fonts + exadrums_examples()))

    return _cached("extra", build)


def heldout_external(external: list[Example]) -> list[Example]:
    """The part of the external set from sources no method trains on (Hydrogen, TimGM6mb)."""
    return [e for e in external if e.source not in TRAINING_SOURCES]


MAX_PER_GROUP_CLASS = 30


def external_examples() -> list[Example]:
    """The external test set (cached): every source above that is installed."""

    def build() -> list[Example]:
        audiophob = HYDROGEN / "Audiophob"
        skip = {hashlib.sha1(p.read_bytes()).hexdigest() for p in audiophob.glob("*") if p.is_file()}  # fmt: skip
        examples = _dedupe(hydrogen_examples(skip) + sonic_pi_examples() + soundfont_examples())
        examples = _without_shipped(examples)
        # At most MAX_PER_GROUP_CLASS of one class from one kit (a guitar-strum kit has 115).
        count: dict[tuple[str, str], int] = {}
        kept = []
        for e in (examples[i] for i in np.random.default_rng(0).permutation(len(examples))):
            count[e.group, e.cls] = count.get((e.group, e.cls), 0) + 1
            if count[e.group, e.cls] <= MAX_PER_GROUP_CLASS:
                kept.append(e)
        return kept

    return _cached("external", build)


if __name__ == "__main__":
    from collections import Counter

    # through the module, so that the cached examples unpickle as its Example, not __main__'s
    from experiments.sample_data import external_examples, shipped_examples

    ext = external_examples()
    print(len(ext), Counter(e.cls for e in ext), Counter(e.source for e in ext))
    print(Counter(e.cls for e in shipped_examples()))
