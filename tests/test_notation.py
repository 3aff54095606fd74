"""Beats, tempo maps, quantisation and charts (``drummernet.notation``), on patterns written on
a known grid (``experiments.bench_beats.grid_pattern``) and on the dev set when present."""

from __future__ import annotations

import json
import warnings
import xml.etree.ElementTree as ElementTree
from fractions import Fraction

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import SR, drum_loop, shared_data_dir

from drummernet.cli import main
from drummernet.errors import DrummerNetWarning
from drummernet.evaluation.beats import read_beats, score_beats
from drummernet.midi import DrumNote, drum_midi
from drummernet.notation import quantize, quantize_notes, to_chart, track_beats, with_beats
from drummernet.notation.beats import _beat_frames
from drummernet.transcription.result import Transcription
from drummernet.transcription.tempo import Beat, tempo_changes
from experiments.bench_beats import grid_accuracy, grid_pattern, pattern_transcription


def pattern(seed=0, tempo=120.0, **options):
    hits = grid_pattern(np.random.default_rng(seed), tempo, **options)
    return hits, pattern_transcription(hits, hits[-1].time + 1.0)


def free_time(seed=0, seconds=12.0) -> Transcription:
    """Hits at random times: no beat at all."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, seconds, int(seconds * 4)))
    hits = [type("H", (), {"time": t, "component": "SD", "velocity": 100})() for t in times]
    return pattern_transcription(hits, seconds)


# ------------------------------------------------------------------------------------- beats


@pytest.mark.parametrize(
    ("tempo", "options"),
    [(120.0, {}), (87.0, {"jitter": 0.01}), (155.0, {"jitter": 0.01}), (100.0, {"swing": 0.64})],
)
def test_beats_bars_and_tempo_of_known_grids(tempo, options):
    hits, result = pattern(tempo=tempo, **options)
    beats = track_beats(result)
    assert (
        beats
        and abs(60 * 4 / np.median(np.diff([b.time for b in beats][::4])) - tempo) < 0.04 * tempo
    )
    bar_one = next(b for b in beats if b.bar == 1 and b.beat == 1)
    assert bar_one.time == pytest.approx(hits[0].time, abs=0.03)  # the pattern starts on bar 1
    assert {b.beat for b in beats} == {1, 2, 3, 4}
    right, found = grid_accuracy(hits, result)
    assert found == 1.0 and right >= 0.95


def test_a_fast_rock_beat_is_not_counted_at_half_tempo():
    # Kick and snare alone at 156 bpm repeat best every 2 beats; the grid at 78 bpm puts one
    # of them on every beat and the other between beats, which is twice as fast.
    hits, _ = pattern(1, tempo=156.0)
    hits = [h for h in hits if h.component in ("KD", "SD")]
    result = pattern_transcription(hits, hits[-1].time + 1.0)
    assert with_beats(result).tempo == pytest.approx(156, rel=0.03)
    assert grid_accuracy(hits, result)[0] >= 0.95


def test_beats_cover_the_recording_and_keep_the_tempo():
    _, result = pattern(tempo=100.0)
    beats = track_beats(result)
    assert beats[0].time < 60 / 100 and beats[-1].time > result.duration - 60 / 100
    assert with_beats(result).tempo == pytest.approx(100, rel=0.02)


def test_no_steady_beat_gives_no_grid_and_one_warning():
    for result in (free_time(), pattern_transcription(pattern()[0][:6], 2.0)):  # rubato, a clip
        with pytest.warns(DrummerNetWarning, match="no steady beat"):
            beats = track_beats(result)
        assert beats == ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = with_beats(free_time())
    assert result.beats == () and result.tempo is None
    assert json.loads(result.to_json())["beats"] == []
    assert quantize(result) is result  # nothing to quantise to
    chart = to_chart(result)
    assert not chart.steady and not chart.tempo_marks and chart.notes


@pytest.mark.slow
def test_dynamic_programme_agrees_with_librosa():
    import librosa

    _, result = pattern(3, tempo=131.0, jitter=0.01)
    from drummernet.notation.beats import BEAT_FPS, hit_strengths, onset_envelope

    envelope = onset_envelope(*hit_strengths(result), result.duration)
    ours = _beat_frames(envelope, 60 * BEAT_FPS / 131.0, 100.0) / BEAT_FPS
    _, theirs = librosa.beat.beat_track(
        onset_envelope=envelope, sr=BEAT_FPS * 100, hop_length=100, bpm=131.0, units="time"
    )
    import mir_eval

    assert mir_eval.beat.f_measure(theirs, ours) > 0.95


def test_tempo_changes_are_reported():
    times = np.concatenate([np.arange(16) * 0.5, 8 + np.arange(16) * 0.4])
    beats = [Beat(float(t), i // 4 + 1, i % 4 + 1) for i, t in enumerate(times)]
    changes = tempo_changes(beats, 0.05)
    assert [round(bpm) for _, bpm in changes] == [120, 150]
    assert changes[1][0] == pytest.approx(8.0, abs=1.0)
    assert tempo_changes(beats[:16], 0.05) == [(0.0, 120.0)]


# -------------------------------------------------------------------------- tempo-mapped MIDI


def test_midi_tempo_map_puts_beats_and_bars_on_the_grid():
    times = 0.3 + np.cumsum(np.r_[0, np.linspace(0.5, 0.45, 14)])
    beats = [(float(t), (i + 2) % 4 + 1) for i, t in enumerate(times)]  # a pickup: beats 3, 4
    notes = [DrumNote(float(t) + 0.01, 36, 100) for t in times]
    midi = drum_midi(notes, 0.1, None, beats)
    # The lead-in from 0 to the first beat is a beat of its own, so every beat is a quarter.
    assert midi.get_beats()[1 : len(times) + 1] == pytest.approx(times, abs=1e-4)
    assert [(ts.numerator, ts.time) for ts in midi.time_signature_changes] == [
        (3, 0.0),
        (4, pytest.approx(times[2], abs=1e-4)),
    ]
    assert [n.start for n in midi.instruments[0].notes] == pytest.approx(times + 0.01, abs=1e-3)


def test_transcription_midi_and_json_carry_the_beats(tmp_path):
    _, result = pattern(tempo=110.0, jitter=0.01)
    result = with_beats(result)
    path = result.write_midi(tmp_path / "x.mid")
    back = pretty_midi.PrettyMIDI(str(path))
    downbeats = [b.time for b in result.beats if b.beat == 1]
    # The lead-in before the first downbeat is a 1-beat bar of its own: downbeat 0 is at 0.
    assert back.get_downbeats()[1:5] == pytest.approx(downbeats[:4], abs=1e-3)
    data = json.loads(result.to_json())
    assert data["tempo"] == pytest.approx(110, rel=0.02)
    assert data["beats"][0].keys() == {"time", "bar", "beat"}
    assert data["tempo_changes"][0]["bpm"] == pytest.approx(110, rel=0.02)
    again = Transcription.from_json(result.to_json())
    assert again.beats == result.beats and again.tempo == result.tempo
    assert json.loads(pattern()[1].to_json())["beats"] is None  # never tracked


# ------------------------------------------------------------------------------ quantisation


def test_quantize_moves_hits_to_their_slots():
    hits, result = pattern(tempo=96.0, jitter=0.012)
    result = with_beats(result)
    snapped = quantize(result)
    notes, swing = quantize_notes(result.events, result.beats)
    assert swing is None and len(snapped.events) == len(notes)
    beat_times = np.array([b.time for b in result.beats])
    for event in snapped.events:  # every hit sits on a 16th or triplet of its beat
        i = np.searchsorted(beat_times, event.time + 1e-6) - 1
        phase = (event.time - beat_times[i]) / (beat_times[i + 1] - beat_times[i])
        assert (
            min(abs(phase * 4 - round(phase * 4)) / 4, abs(phase * 3 - round(phase * 3)) / 3) < 0.01
        )
    assert snapped.beats == result.beats


def test_triplets_swing_ghosts_and_flams():
    hits, result = pattern(tempo=120.0)
    notes, swing = quantize_notes(result.events, track_beats(result))
    last_bar = max(n.bar for n in notes)
    triplet = {n.position for n in notes if n.bar == last_bar and n.beat == 4}
    assert triplet == {Fraction(0), Fraction(1, 3), Fraction(2, 3)}
    assert swing is None
    assert [n.position for n in notes if n.ghost] == [Fraction(3, 4)] * 4  # bars 1, 3, 5, 7
    _, swung = pattern(tempo=100.0, swing=0.65)
    notes, swing = quantize_notes(swung.events, track_beats(swung))
    assert swing == pytest.approx(0.65, abs=0.02)
    assert {n.position for n in notes if n.event.component == "HH_CHH"} == {0, Fraction(1, 2)}
    # A soft snare 30 ms before a snare on the grid is a flam: a grace note, kept.
    flam = next(e for e in result.events if e.component == "SD" and e.velocity > 90)
    grace = type(flam)(flam.time - 0.03, "SD", 38, 40)
    flammed = Transcription([*result.events, grace], result.activations, 200.0,
                            result.components, result.duration)  # fmt: skip
    notes, _ = quantize_notes(flammed.events, track_beats(flammed))
    graces = [n for n in notes if n.grace]
    assert len(graces) == 1 and graces[0].event == grace
    assert len(notes) == len(flammed.events)


# ------------------------------------------------------------------------------------ charts


def test_musicxml_is_a_drum_staff_music21_reads_back():
    music21 = pytest.importorskip("music21")
    hits, result = pattern(tempo=120.0)
    chart = to_chart(result, title="Test groove")
    assert chart.steady and chart.meter == 4 and chart.tempo_marks[0][2] == pytest.approx(120, 1)
    data = chart.to_musicxml()
    root = ElementTree.fromstring(data)
    assert root.findtext(".//clef/sign") == "percussion"
    assert root.findtext(".//metronome/per-minute") == "120"
    instruments = {e.get("id"): e.findtext("midi-unpitched") for e in root.iter("midi-instrument")}
    assert sorted(int(v) - 1 for v in instruments.values()) == [36, 38, 42, 49]
    notes = [n for n in root.iter("note") if n.find("unpitched") is not None]
    assert all(n.find("instrument").get("id") in instruments for n in notes)
    hats = [n for n in notes if instruments[n.find("instrument").get("id")] == "43"]
    assert hats and all(n.findtext("notehead") == "x" for n in hats)
    assert {n.findtext("voice") for n in notes} == {"1", "2"}
    assert any(n.find("notehead[@parentheses='yes']") is not None for n in notes)  # ghosts
    assert any(n.find("time-modification") is not None for n in notes)  # the triplet
    assert len(root.findall(".//measure")) == len(chart.bars) == 8
    score = music21.converter.parseData(data.decode(), format="musicxml")
    assert len(score.recurse().notes) > 0


def test_svg_and_pdf_render(tmp_path):
    pytest.importorskip("verovio")
    _, result = pattern(tempo=120.0)
    chart = to_chart(result)
    svg = chart.write_svg(tmp_path / "c.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<svg") >= 2 and "\u2669" in svg  # tempo note
    # verovio finds its fonts on any thread (a web server renders on a worker thread).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        on_thread = pool.submit(chart.to_svg).result()
    assert on_thread.count("<svg") == svg.count("<svg") and "\u2669" in on_thread
    try:
        pdf = chart.write_pdf(tmp_path / "c.pdf").read_bytes()
    except ImportError:
        pytest.skip("cairosvg or the cairo library is missing")
    assert pdf.startswith(b"%PDF")


def test_cli_writes_charts_and_quantised_outputs(tmp_path, capsys, tiny_model_file):
    pytest.importorskip("verovio")
    audio, _ = drum_loop(6.0)
    wav = tmp_path / "loop.wav"
    sf.write(wav, audio, SR)
    code = main(["transcribe", str(wav), "-o", str(tmp_path / "out"), "--model",
                 str(tiny_model_file), "--format", "mid,json,musicxml,svg", "--quantize",
                 "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    for suffix in ("mid", "json", "musicxml", "svg"):
        assert (tmp_path / "out" / f"loop.{suffix}").stat().st_size > 0
    data = json.loads((tmp_path / "out" / "loop.json").read_text())
    assert "beats" in data and "tempo_changes" in data


def test_cli_names_the_extra_when_a_chart_library_is_missing(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "music21", None)  # import music21 -> ImportError
    wav = tmp_path / "x.wav"
    sf.write(wav, drum_loop(1.0)[0], SR)
    code = main(["transcribe", str(wav), "-o", str(tmp_path), "--format", "musicxml"])
    err = capsys.readouterr().err
    assert code != 0 and "pip install 'drummernet[chart]'" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ the dev set


@pytest.mark.slow
@pytest.mark.skipif(shared_data_dir() is None, reason="needs ../shared/data")
def test_dev_set_beats():
    root = shared_data_dir() / "mdb_dev"
    annotations = sorted((root / "annotations" / "beats").glob("*.beats"))
    if not annotations:
        pytest.skip("no beat annotations")
    from drummernet.transcription.inference import load_model, transcribe

    model = load_model()
    scores = [
        score_beats(read_beats(path), track_beats(transcribe(root / "audio" / f"{path.stem}.flac", model=model)))
        for path in annotations
    ]  # fmt: skip
    assert np.mean([s.f_measure for s in scores]) >= 0.9
    assert all(s.tempo_error < 0.04 for s in scores)
