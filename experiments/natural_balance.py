"""Measure a kit maker's own balance between drums: ``python -m experiments.natural_balance``.

The built-in one-shots are peak-normalised (``tools/render_kits.py``), so in a synthetic render a
closed hat is as loud as the snare, where a real kit's hat sits far under it. This renders each
General MIDI drum note of the FluidR3 GM SoundFont once at velocity 100 with the ``fluidsynth``
program and prints each component's peak and the RMS of its first 100 ms against the snare's.
:data:`drummernet.training.render.NATURAL_BALANCE_DB` is the mean of the peaks printed for
FluidR3 GM and for MuseScore General Lite (``--soundfont``). Needs Debian's ``fluidsynth`` and
``fluid-soundfont-gm``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pretty_midi

from drummernet.constants import GM_NOTES
from experiments.mix_sets import SOUNDFONT, fluidsynth


def render_note(note: int, velocity: int, soundfont: Path) -> np.ndarray:
    """One drum note rendered by FluidSynth at 44.1 kHz, mono."""
    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity, note, 0.1, 0.3))
    pm.instruments.append(drums)
    return fluidsynth(pm, 44100, soundfont)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT)
    parser.add_argument("--velocity", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("fluidsynth") is None or not args.soundfont.is_file():
        sys.exit(f"natural_balance: needs the fluidsynth program and {args.soundfont}")
    levels = {}
    for code, note in GM_NOTES.items():
        audio = render_note(note, args.velocity, args.soundfont)
        start = int(np.argmax(np.abs(audio) > 1e-4))
        head = audio[start : start + 4410]
        peak = 20 * np.log10(float(np.abs(audio).max()) + 1e-12)
        rms = 20 * np.log10(float(np.sqrt(np.mean(head**2))) + 1e-12)
        levels[code] = (peak, rms)
    snare_peak, snare_rms = levels["SD"]
    print(f"{args.soundfont.name}, velocity {args.velocity}; dB against the snare")
    print(f"{'component':10s} {'peak':>7s} {'rms 100 ms':>11s}")
    for code, (peak, rms) in levels.items():
        print(f"{code:10s} {peak - snare_peak:+7.1f} {rms - snare_rms:+11.1f}")


if __name__ == "__main__":
    main()
