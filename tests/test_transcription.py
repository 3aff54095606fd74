"""Impulses -> notes (peak picking, merging, velocity) and the Transcription exports."""

from __future__ import annotations

import json
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import SR, record_keyword, synthetic_kit

from drummernet import constants
from drummernet.constants import DEFAULT_REFERENCE_AMPLITUDE, DEFAULT_THRESHOLD, GM_NOTES
from drummernet.model.network import DrummerNet
from drummernet.transcription.events import (
    NoteEvent,
    activations_to_events,
    amplitude_to_velocity,
    velocity_to_amplitude,
)
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import estimate_tempo

FPS = 200.0
COMPS = ("KD", "SD", "HH_CHH")


def impulses(frames: int, hits: list[tuple[int, int, float]], n: int = 3) -> np.ndarray:
    """``(n, frames)`` zeros with ``activations[c, t] = a`` for each ``(c, t, a)``."""
    activations = np.zeros((n, frames), dtype=np.float32)
    for c, t, a in hits:
        activations[c, t] = a
    return activations


def make_transcription(events: list[NoteEvent], duration: float = 4.0) -> Transcription:
    return Transcription(
        events, np.zeros((3, int(duration * FPS)), np.float32), FPS, COMPS, duration
    )


# ------------------------------------------------------------------------------ peak picking


def test_isolated_impulses_give_exact_events():
    hits = [(0, 10, 0.5), (1, 100, 0.2), (2, 100, 0.05), (0, 399, 0.3), (2, 0, 0.1)]
    events = activations_to_events(impulses(400, hits), FPS, COMPS, threshold=0.02)
    expected = [
        (t / FPS, COMPS[c], GM_NOTES[COMPS[c]], int(amplitude_to_velocity(a)))
        for c, t, a in sorted(hits, key=lambda h: (h[1], h[0]))
    ]
    got = [(e.time, e.component, e.note, e.velocity) for e in events]
    assert [g[1:] for g in got] == [x[1:] for x in expected]
    np.testing.assert_allclose([g[0] for g in got], [x[0] for x in expected], atol=1e-9)


def test_threshold_drops_weak_impulses():
    activations = impulses(100, [(0, 10, 0.019), (0, 50, 0.021)])
    events = activations_to_events(activations, FPS, COMPS, threshold=0.02)
    assert [round(e.time * FPS) for e in events] == [50]


def test_split_impulse_is_one_refined_hit():
    # An onset between frames 20 and 21 shows as two adjacent impulses.
    activations = impulses(100, [(1, 20, 0.3), (1, 21, 0.1)])
    (event,) = activations_to_events(activations, FPS, COMPS)
    assert event.time == pytest.approx((20 + 0.1 / 0.4) / FPS)
    assert event.velocity == amplitude_to_velocity(0.4)
    (plain,) = activations_to_events(activations, FPS, COMPS, refine=False)
    assert plain.time == 20 / FPS and plain.velocity == amplitude_to_velocity(0.3)


def test_min_gap_keeps_the_strongest():
    # 15 ms apart (< 30 ms): one hit, the stronger; 50 ms apart: two.
    activations = impulses(200, [(0, 10, 0.2), (0, 13, 0.4), (0, 100, 0.3), (0, 110, 0.3)])
    events = activations_to_events(activations, FPS, COMPS, min_gap=0.03)
    assert [round(e.time * FPS) for e in events] == [13, 100, 110]
    assert events[0].velocity == amplitude_to_velocity(0.4)
    # A chain 20 ms apart: the strongest wins and suppresses only its close neighbours.
    chain = impulses(200, [(0, 50, 0.2), (0, 54, 0.5), (0, 58, 0.2)])
    assert [round(e.time * FPS) for e in activations_to_events(chain, FPS, COMPS)] == [54]
    # Different components never merge.
    both = impulses(200, [(0, 50, 0.2), (1, 51, 0.5)])
    assert len(activations_to_events(both, FPS, COMPS)) == 2


def test_hihat_components_exclude_each_other():
    comps = ("KD", "HH_CHH", "HH_PHH", "HH_OHH")
    activations = impulses(
        200, [(0, 50, 0.3), (1, 50, 0.2), (3, 51, 0.4), (2, 52, 0.1), (1, 150, 0.2)], n=4
    )
    events = activations_to_events(activations, FPS, comps)
    assert [(e.component, round(e.time * FPS)) for e in events] == [
        ("KD", 50), ("HH_OHH", 51), ("HH_CHH", 150)
    ]  # fmt: skip
    unmerged = activations_to_events(activations, FPS, comps, exclusive_groups=())
    assert len(unmerged) == 5


def test_one_stroke_is_one_tom():
    comps = ("SD", "TT_HIT", "TT_MHT", "TT_HFT")
    activations = impulses(200, [(1, 50, 0.2), (3, 51, 0.3), (2, 150, 0.2)], n=4)
    events = activations_to_events(activations, FPS, comps)
    assert [(e.component, round(e.time * FPS)) for e in events] == [
        ("TT_HFT", 51), ("TT_MHT", 150)
    ]  # fmt: skip


def test_tom_masking_drops_a_tom_under_a_much_stronger_snare():
    comps = ("KD", "SD", "TT_HFT")
    hits = [
        (1, 50, 0.6), (2, 51, 0.15),  # snare 4x the tom: the tom paints the snare's body
        (1, 100, 0.3), (2, 100, 0.2),  # snare 1.5x: a tom and a snare struck together
        (0, 150, 0.9), (2, 150, 0.1),  # a kick does not mask
        (2, 180, 0.1),  # a tom alone
    ]  # fmt: skip
    activations = impulses(220, hits)
    kept = activations_to_events(activations, FPS, comps, relative_threshold=0, tom_masking=3.0)
    toms = [round(e.time * FPS) for e in kept if e.component == "TT_HFT"]
    assert toms == [100, 150, 180]
    assert [round(e.time * FPS) for e in kept if e.component == "SD"] == [50, 100]
    off = activations_to_events(activations, FPS, comps, relative_threshold=0)
    assert [round(e.time * FPS) for e in off if e.component == "TT_HFT"] == [51, 100, 150, 180]
    strict = activations_to_events(activations, FPS, comps, relative_threshold=0, tom_masking=1.2)
    assert [round(e.time * FPS) for e in strict if e.component == "TT_HFT"] == [150, 180]


def test_model_file_tom_masking_is_the_default_of_adapted_reading(
    tiny_model, tmp_path, monkeypatch
):
    from drummernet.transcription import inference
    from drummernet.transcription.inference import model_tom_masking, transcribe

    assert model_tom_masking(tiny_model) == model_tom_masking(tiny_model, adapted=True) == 0.0
    extra = {"adapt_tom_masking": 3.0, "adapt16_tom_masking": 2.0}
    path = tiny_model.save(tmp_path / "m.safetensors", extra=extra)
    model = DrummerNet.load(path, kits=synthetic_kit())
    assert model_tom_masking(model, adapted=True) == 3.0
    assert model_tom_masking(model) == 0.0
    seen = record_keyword(monkeypatch, inference, "activations_to_events", "tom_masking")
    audio = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    transcribe(audio, SR, model=model)  # adapted by default, within the analyzer's band at 16 kHz
    transcribe(np.repeat(audio, 2), 2 * SR, model=model)  # 32 kHz: adapted up to 16 kHz
    transcribe(audio, SR, model=model, adapt=False)
    transcribe(audio, SR, model=model, tom_masking=1.5)  # an explicit value wins
    assert seen == [2.0, 3.0, 0.0, 1.5]


def test_peak_picking_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_components=3"):
        activations_to_events(np.zeros((2, 10)), FPS, COMPS)


def test_velocity_range_and_monotonic():
    amplitudes = np.concatenate([[0.0, 1e-6], np.geomspace(1e-4, 10.0, 500)])
    velocities = amplitude_to_velocity(amplitudes)
    assert velocities.min() == 1 and velocities.max() == 127
    assert np.all(np.diff(velocities) >= 0)
    assert amplitude_to_velocity(DEFAULT_REFERENCE_AMPLITUDE) == 127
    # Square law: half the velocity is a quarter of the amplitude.
    assert amplitude_to_velocity(DEFAULT_REFERENCE_AMPLITUDE / 4) == 64
    every = np.arange(1, 128)
    np.testing.assert_array_equal(amplitude_to_velocity(velocity_to_amplitude(every)), every)


# ------------------------------------------------------------------------------- the result


def grid_events(n: int = 16, period: float = 0.5) -> list[NoteEvent]:
    """Kick on every beat of 120 bpm, hats in between (given unsorted)."""
    events = [NoteEvent(i * period + 0.1, "KD", 36, 100) for i in range(n)]
    events += [NoteEvent(i * period + 0.35, "HH_CHH", 42, 60) for i in range(n)]
    return events[::-1]


def test_transcription_sorts_and_groups():
    result = make_transcription(grid_events(4), duration=2.5)
    assert len(result) == 8
    assert [e.time for e in result.events] == sorted(e.time for e in result.events)
    grouped = result.notes_by_component()
    assert set(grouped) == set(COMPS) and grouped["SD"] == []
    assert [e.component for e in grouped["KD"]] == ["KD"] * 4
    np.testing.assert_allclose(result.onsets()["HH_CHH"], [0.35, 0.85, 1.35, 1.85])


def test_tempo_estimate():
    assert estimate_tempo(np.arange(16) * 0.5 + 0.1) == pytest.approx(120, rel=0.03)
    assert estimate_tempo(np.arange(24) * 0.6) == pytest.approx(100, rel=0.03)
    assert estimate_tempo(np.array([0.1, 0.5, 0.9])) is None
    assert make_transcription(grid_events(1), 1.0).tempo is None


def test_to_midi_is_a_gm_drum_track(tmp_path):
    result = make_transcription(grid_events(8) + [NoteEvent(0.12, "KD", 36, 20)], duration=4.0)
    midi = result.to_midi()
    (drums,) = midi.instruments
    assert drums.is_drum and drums.program == 0 and drums.name == "Drums"
    assert {n.pitch for n in drums.notes} == {36, 42}
    # The note of the same pitch 20 ms later cuts the first one short: no overlap.
    kicks = sorted((n for n in drums.notes if n.pitch == 36), key=lambda n: n.start)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(kicks, kicks[1:], strict=False))
    assert all(n.end - n.start <= 0.1 + 1e-9 for n in drums.notes)

    path = result.write_midi(tmp_path / "x.mid")
    back = pretty_midi.PrettyMIDI(str(path))
    assert back.instruments[0].is_drum
    assert back.get_tempo_changes()[1][0] == pytest.approx(result.tempo, rel=1e-3)
    assert result.tempo == pytest.approx(120, rel=0.03)
    starts = sorted((n.start, n.pitch, n.velocity) for n in back.instruments[0].notes)
    expected = sorted((e.time, e.note, e.velocity) for e in result.events)
    np.testing.assert_allclose([s[0] for s in starts], [e[0] for e in expected], atol=1e-3)
    assert [s[1:] for s in starts] == [e[1:] for e in expected]


def test_empty_transcription_writes_valid_midi(tmp_path):
    path = make_transcription([], 1.0).write_midi(tmp_path / "empty.mid")
    assert path.read_bytes()[:4] == b"MThd"
    midi = pretty_midi.PrettyMIDI(str(path))  # pretty_midi drops note-less tracks on reading
    assert sum(len(i.notes) for i in midi.instruments) == 0


def test_json_round_trip():
    result = make_transcription(grid_events(4), 2.5)
    text = result.to_json()
    data = json.loads(text)
    assert data["components"] == list(COMPS) and len(data["events"]) == 8
    back = Transcription.from_json(text)
    assert back.events == result.events
    assert back.components == result.components and back.duration == result.duration


def test_csv_round_trip(tmp_path):
    result = make_transcription(grid_events(4), 2.5)
    path = result.write_csv(tmp_path / "x.csv")
    assert path.read_text().splitlines()[0] == "time,component,note,velocity"
    back = Transcription.from_csv(path, components=COMPS)
    assert back.events == result.events


def test_resynthesize_places_one_shots():
    from drummernet.model.kits import DrumKit

    shots = synthetic_kit(length=800).numpy()
    kit = DrumKit("test", SR, dict(zip(COMPS, shots, strict=True)))
    events = [NoteEvent(0.5, "KD", 36, 127), NoteEvent(1.25, "HH_CHH", 42, 64)]
    audio = make_transcription(events, duration=2.0).resynthesize(kit)
    assert audio.shape == (2 * SR,) and audio.dtype == np.float32
    start = int(0.5 * SR)
    np.testing.assert_allclose(audio[start : start + 800], DEFAULT_REFERENCE_AMPLITUDE * shots[0],
                               atol=1e-6)  # fmt: skip
    start = int(1.25 * SR)
    np.testing.assert_allclose(audio[start : start + 800], velocity_to_amplitude(64) * shots[2],
                               atol=1e-6)  # fmt: skip
    assert not audio[: int(0.5 * SR)].any()
    # Another rate: the kit is resampled and the length follows.
    assert make_transcription(events, 2.0).resynthesize(kit, sr=8000).shape == (16000,)


def test_resynthesize_with_a_builtin_kit(tmp_path):
    from drummernet.model.kits import list_kits

    events = [NoteEvent(0.1, "SD", 38, 100)]
    result = make_transcription(events, 1.0)
    audio = result.resynthesize(list_kits()[0])
    assert audio.shape == (SR,) and np.abs(audio).max() > 0.1
    path = result.write_wav(tmp_path / "x.wav", list_kits()[0])
    written, sr = sf.read(path)
    assert sr == SR and len(written) == SR


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    audio = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    path = make_transcription(grid_events(2), 1.0).plot(tmp_path / "x.png", audio, SR)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ModuleNotFoundError, match="pip install"):
        make_transcription([], 1.0).plot(tmp_path / "x.png", np.zeros(SR), SR)
    assert not (tmp_path / "x.png").exists()


def test_plot_reads_its_source_else_shows_the_resynthesis(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from drummernet.transcription import plot

    wav = tmp_path / "x.wav"
    sf.write(wav, np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1, SR)
    read: list[str] = []
    real = plot.read_audio

    def spy(path, sr):
        read.append(str(path))
        return real(path, sr)

    monkeypatch.setattr(plot, "read_audio", spy)
    result = make_transcription(grid_events(2), 1.0)
    result.source = str(wav)
    assert result.plot(tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert read == [str(wav)]
    result.source = str(tmp_path / "gone.wav")  # unreadable: the resynthesis is shown instead
    assert result.plot(tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_decay_mask_drops_echoes_but_keeps_new_strokes():
    from drummernet.transcription.events import activations_to_events

    act = np.zeros((1, 200), dtype=np.float32)
    act[0, 10] = 0.8  # a loud hit at 50 ms
    act[0, 18] = 0.3  # an echo 40 ms later: below 0.8 * exp(-40/60) = 0.41
    act[0, 35] = 0.2  # a new stroke 125 ms after the hit: above 0.8 * exp(-125/60) = 0.10
    kwargs = dict(
        frame_rate=200.0, components=["KD"], threshold=0.05, refine=False, onset_contrast=0.0
    )
    times = [e.time for e in activations_to_events(act, **kwargs)]
    assert times == pytest.approx([0.05, 0.175])
    unmasked = [e.time for e in activations_to_events(act, decay_mask=0.0, **kwargs)]
    assert unmasked == pytest.approx([0.05, 0.09, 0.175])


def test_model_file_threshold_is_the_default(tiny_model, tmp_path):
    from drummernet.transcription.inference import model_threshold

    assert model_threshold(tiny_model) == DEFAULT_THRESHOLD
    path = tiny_model.save(tmp_path / "m.safetensors", extra={"threshold": 0.123})
    assert model_threshold(DrummerNet.load(path, kits=synthetic_kit())) == 0.123


def test_model_file_relative_thresholds_are_the_default(tiny_model, tmp_path, monkeypatch):
    from drummernet.transcription import inference
    from drummernet.transcription.inference import model_relative_threshold, transcribe

    assert model_relative_threshold(tiny_model) == constants.DEFAULT_RELATIVE_THRESHOLD
    per_drum = {"KD": 0.4, "HH": 0.1}
    path = tiny_model.save(tmp_path / "m.safetensors", extra={"relative_threshold": per_drum})
    model = DrummerNet.load(path, kits=synthetic_kit())
    assert model_relative_threshold(model) == per_drum
    seen = record_keyword(monkeypatch, inference, "activations_to_events", "relative_threshold")
    audio = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    transcribe(audio, SR, model=model)
    transcribe(audio, SR, model=model, relative_threshold=0.25)  # an explicit value wins
    assert seen == [per_drum, 0.25]


def test_relative_threshold_drops_faint_hits_of_a_loud_drum():
    from drummernet.transcription.events import activations_to_events

    act = np.zeros((2, 400), dtype=np.float32)
    act[0, 20::40] = 0.8  # a loud kick: 10 strong hits ...
    act[0, 40::80] = 0.1  # ... and faint bleed between them
    act[1, 30::40] = 0.1  # a quiet hi-hat, as faint as the bleed
    kwargs = dict(
        frame_rate=200.0, components=["KD", "HH_CHH"], threshold=0.05, refine=False,
        decay_mask=0.0, onset_contrast=0.0,
    )  # fmt: skip
    events = activations_to_events(act, **kwargs)
    assert sum(e.component == "KD" for e in events) == 10  # 0.1 < 0.3 * 0.8
    assert sum(e.component == "HH_CHH" for e in events) == 10  # judged against its own hits
    unfiltered = activations_to_events(act, relative_threshold=0.0, **kwargs)
    assert sum(e.component == "KD" for e in unfiltered) == 15


def test_relative_threshold_per_drum_class_or_code():
    from drummernet.transcription.events import activations_to_events, relative_threshold_of

    assert relative_threshold_of(0.2, "KD") == 0.2
    per_drum = {"HH": 0.1, "HH_OHH": 0.5, "KD": 0.0}
    assert relative_threshold_of(per_drum, "HH_CHH") == 0.1  # its class's
    assert relative_threshold_of(per_drum, "HH_OHH") == 0.5  # its own
    assert relative_threshold_of(per_drum, "SD") == constants.DEFAULT_RELATIVE_THRESHOLD
    assert relative_threshold_of({"SD": 0.0}, "SD_XS") == 0.0  # a voice follows its class

    act = np.zeros((2, 400), dtype=np.float32)
    act[0, 20::40] = 0.8  # a loud kick with faint bleed between its hits
    act[0, 40::80] = 0.1
    act[1, 20::40] = 0.8  # a hi-hat with the same pattern
    act[1, 40::80] = 0.1
    kwargs = dict(
        frame_rate=200.0, components=["KD", "HH_CHH"], threshold=0.05, refine=False,
        decay_mask=0.0, onset_contrast=0.0,
    )  # fmt: skip
    events = activations_to_events(act, relative_threshold={"HH": 0.1}, **kwargs)
    assert sum(e.component == "KD" for e in events) == 10  # the default 0.3 for the kick
    assert sum(e.component == "HH_CHH" for e in events) == 15  # 0.1 * 0.8 < 0.1


def test_onset_contrast_reads_a_wash_as_one_stroke_and_keeps_strokes_on_top():
    from drummernet.transcription.events import activations_to_events

    act = np.zeros((1, 400), dtype=np.float32)
    # A ringing cymbal after a stroke at 40 ms: one slowly decaying impulse per 40 ms window, as
    # the analyzer reads it.
    act[0, 8::8] = 0.1 * 0.97 ** np.arange(49)
    act[0, 8] = 0.4
    act[0, 200] = 0.3  # a second stroke on top of the wash, at 1 s
    kwargs = dict(
        frame_rate=200.0, components=["CY_RDC"], threshold=0.02, refine=False, decay_mask=0.0,
        relative_threshold=0.0,
    )  # fmt: skip
    times = [e.time for e in activations_to_events(act, **kwargs)]
    assert times == pytest.approx([0.04, 1.0])
    assert len(activations_to_events(act, onset_contrast=0.0, **kwargs)) == 49
    # A steady 16th-note pattern at 120 bpm (125 ms apart) is not a wash: every stroke stays.
    act = np.zeros((1, 400), dtype=np.float32)
    act[0, 10::25] = 0.2
    assert len(activations_to_events(act, **kwargs)) == 16


def test_onset_contrast_must_have_positive_windows():
    from drummernet.transcription.events import activations_to_events

    with pytest.raises(ValueError, match="contrast_window"):
        activations_to_events(np.zeros((1, 10)), 200.0, ["KD"], contrast_window=0.0)


def test_merge_voices_adds_each_voice_into_its_component():
    from drummernet.transcription.events import merge_voices

    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    merged, codes = merge_voices(rows, ("KD", "SD", "SD_XS", "CY_CHN"))
    assert codes == ("KD", "SD", "CY_CRC")
    np.testing.assert_array_equal(merged, [rows[0], rows[1] + rows[2], rows[3]])
    merged, codes = merge_voices(rows, ("KD", "KD_ROOM", "SD_ROOM", "SD"))  # room voices too
    assert codes == ("KD", "SD")
    np.testing.assert_array_equal(merged, [rows[0] + rows[1], rows[2] + rows[3]])
    same, plain = merge_voices(rows[:3], COMPS)  # no extra voices: unchanged
    assert plain == COMPS and same is not None and np.array_equal(same, rows[:3])
