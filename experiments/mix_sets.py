"""Synthetic full mixes with exact labels: Groove-validation drums plus a procedural band.

    python -m experiments.mix_sets [--count 12] [--seconds 30] [--workdir out/bench_mix]

Each track is a Groove MIDI Dataset validation performance (``beat`` files, cropped to
``--seconds``) rendered through the built-in kits with augmentation
(:func:`drummernet.training.render.render`), and a procedural accompaniment on the same tempo,
its downbeat on the first kick (:mod:`drummernet.training.accompaniment`), mixed with the
accompaniment 0 to +10 dB louder than the drums by RMS (the two MDB Drums dev mixes measure
+5.7 and +10.6 dB). Three sets share the drums, each a folder of ``synthNN.wav`` + ``synthNN.mid``
that :func:`drummernet.evaluation.datasets.read_dataset` reads:

* ``stems/``: the drums alone;
* ``mix_synth/``: drums + the accompaniment played by the additive instruments;
* ``mix_sf/``: drums + the same notes rendered by FluidSynth with the FluidR3 GM SoundFont (only
  when the ``fluidsynth`` program and the SoundFont are installed).

Sets are rendered once and reused. Without the Groove MIDI Dataset, procedural grooves stand in.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from experiments.__main__ import data_root

#: The General MIDI SoundFont the ``mix_sf`` set is rendered with (Debian: fluid-soundfont-gm).
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

#: Accompaniment level above the drums, in dB of RMS, drawn uniformly per track.
ACCOMPANIMENT_DB = (0.0, 10.0)

SETS = ("stems", "mix_synth", "mix_sf")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def fluidsynth(midi, sr: int, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """A ``pretty_midi.PrettyMIDI`` rendered by the ``fluidsynth`` program: ``(samples,)``
    float32, mono, at ``sr``."""
    from drummernet.audio import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "song.mid", Path(tmp) / "song.wav"
        midi.write(str(mid))
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(sr), "-F", str(wav),
             str(soundfont), str(mid)],
            check=True, capture_output=True,
        )  # fmt: skip
        audio, _ = load_audio(wav, sr=sr)
    return audio


def render_soundfont(notes, duration: float, sr: int, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """Render accompaniment notes with the ``fluidsynth`` program: ``(samples,)`` float32."""
    import pretty_midi

    from drummernet.training.accompaniment import INSTRUMENTS

    midi = pretty_midi.PrettyMIDI()
    parts = {}
    for note in notes:
        if note.instrument not in parts:
            parts[note.instrument] = pretty_midi.Instrument(INSTRUMENTS[note.instrument])
            midi.instruments.append(parts[note.instrument])
        parts[note.instrument].notes.append(
            pretty_midi.Note(note.velocity, note.pitch, note.time, note.time + note.duration)
        )
    audio = fluidsynth(midi, sr, soundfont)
    out = np.zeros(int(round(duration * sr)), dtype=np.float32)
    out[: min(len(out), len(audio))] = audio[: len(out)]
    return out


def mix_sets(workdir: Path, count: int = 12, seconds: float = 30.0, seed: int = 2024) -> Path:
    """Render the three sets under ``workdir/mixes_{count}x{seconds}`` once; return that folder."""
    import pretty_midi

    from drummernet.constants import COMPONENTS, SAMPLE_RATE
    from drummernet.midi import drum_midi
    from drummernet.model.kits import DrumKit, list_kits
    from drummernet.training.accompaniment import accompaniment_notes, synthesize_notes
    from drummernet.training.grooves import procedural_groove
    from drummernet.training.performances import groove_midi_files, read_drum_midi
    from drummernet.training.render import render

    folder = workdir / f"mixes_{count}x{seconds:g}"
    with_sf = shutil.which("fluidsynth") is not None and SOUNDFONT.is_file()
    wanted = SETS if with_sf else SETS[:2]
    if all(len(list((folder / s).glob("*.mid"))) >= count for s in wanted):
        return folder
    for name in wanted:
        (folder / name).mkdir(parents=True, exist_ok=True)
    sr = SAMPLE_RATE
    rng = np.random.default_rng(seed)
    gmd = data_root() / "gmd" / "groove"
    midi = groove_midi_files(gmd, split="validation", beat_type="beat") if gmd.is_dir() else []
    midi = [m for m in midi if read_drum_midi(m).duration >= seconds]
    chosen = rng.choice(len(midi), size=min(count, len(midi)), replace=False) if midi else []
    kits = [DrumKit.load(k) for k in list_kits()]
    for i in range(count):
        if i < len(chosen):
            path = midi[int(chosen[i])]
            performance = read_drum_midi(path).crop(0.0, seconds)
            tempo = float(pretty_midi.PrettyMIDI(str(path)).get_tempo_changes()[1][0])
        else:
            tempo = float(rng.uniform(80, 160))
            performance = procedural_groove(rng, seconds, tempo=tempo)
        drums = render(performance, kits, rng, sr=sr, augment=True)
        kicks = performance.times[performance.components == COMPONENTS.index("KD")]
        notes = accompaniment_notes(
            rng, seconds, tempo, offset=float(kicks[0]) if len(kicks) else 0.0
        )
        level = 10 ** (rng.uniform(*ACCOMPANIMENT_DB) / 20) * _rms(drums)
        bands = {"mix_synth": synthesize_notes(notes, seconds, rng, sr)}
        if with_sf:
            bands["mix_sf"] = render_soundfont(notes, seconds, sr)
        reference = drum_midi(performance.drum_notes(), note_duration=0.05)
        for name in wanted:
            audio = drums.copy()
            if name in bands:
                band = bands[name][: len(drums)]
                audio[: len(band)] += band * (level / _rms(band))
            audio *= 0.9 / max(0.9, float(np.abs(audio).max()))
            sf.write(folder / name / f"synth{i:02d}.wav", audio, sr)
            reference.write(str(folder / name / f"synth{i:02d}.mid"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=Path("out/bench_mix"))
    args = parser.parse_args()
    print(mix_sets(args.workdir, args.count, args.seconds))


if __name__ == "__main__":
    main()
