"""Full mixes: the HPSS front end, drum-stem / mix detection, the ``source`` / ``separate``
options of ``transcribe`` and the CLI, and the optional demucs separator's error paths."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.ndimage
import soundfile as sf
from conftest import SR, drum_loop, shared_data_dir

from drummernet.cli import main
from drummernet.errors import SeparatorError
from drummernet.model.kits import DrumKit, list_kits
from drummernet.training.accompaniment import accompaniment_notes, synthesize_notes
from drummernet.training.grooves import PROCEDURAL_STYLES, procedural_groove
from drummernet.training.render import render
from drummernet.transcription import separation
from drummernet.transcription.inference import transcribe
from drummernet.transcription.separation import (
    check_demucs,
    hpss_drums,
    median_filter,
    process_in_chunks,
)
from drummernet.transcription.source import detect_source, pitch_change, prepare_source

# ------------------------------------------------------------------------------- separation


@pytest.mark.parametrize("size", [1, 3, 31, 63])
@pytest.mark.parametrize("axis", [0, 1])
def test_running_median_equals_scipy(rng, size, axis):
    x = rng.random((70, 90)).astype(np.float32)
    x[5, 10:30] = 0.5  # ties
    footprint = (1, size) if axis == 1 else (size, 1)
    expected = scipy.ndimage.median_filter(x, size=footprint, mode="reflect")
    np.testing.assert_array_equal(median_filter(x, size, axis), expected)


def test_chunks_give_the_one_pass_result(rng):
    x = rng.standard_normal(5000).astype(np.float32)

    def smooth(w: np.ndarray) -> np.ndarray:  # depends on 20 samples either side
        return np.convolve(w, np.ones(41, np.float32), "same")

    np.testing.assert_allclose(
        process_in_chunks(x.copy(), smooth, 300, 20, 8), smooth(x), atol=1e-4
    )


def test_hpss_chunked_equals_unchunked(rng):
    t = np.arange(6 * SR) / SR
    x = (np.sin(2 * np.pi * 220 * t) + rng.standard_normal(len(t)) * (t % 0.5 < 0.02)).astype(
        np.float32
    )
    whole = hpss_drums(x.copy(), SR, chunk_seconds=100.0)
    chunked = hpss_drums(x.copy(), SR, chunk_seconds=1.0)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


def test_hpss_removes_a_held_chord_and_keeps_the_drums():
    drums, _ = drum_loop(4.0)
    t = np.arange(len(drums)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 277.2, 329.6)).astype(np.float32)
    chord *= 0.5 * np.std(drums) / np.std(chord)
    out_chord = hpss_drums(chord.copy(), SR)
    out_drums = hpss_drums(drums.copy(), SR)
    assert np.sum(out_chord[SR:-SR] ** 2) < 0.01 * np.sum(chord[SR:-SR] ** 2)  # -20 dB
    assert np.sum(out_drums**2) > 0.3 * np.sum(drums**2)
    assert np.isfinite(out_drums).all() and out_drums.shape == drums.shape


# -------------------------------------------------------------------------------- detection


def _stem_and_mix(seed: int, seconds: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Drums from the shipped kits, and the same drums with a band at their level."""
    rng = np.random.default_rng(seed)
    style = PROCEDURAL_STYLES[seed % len(PROCEDURAL_STYLES)]
    kit = DrumKit.load(list_kits()[seed % len(list_kits())])
    drums = render(procedural_groove(rng, seconds, style=style, tempo=120.0), [kit], rng, sr=SR)
    band = synthesize_notes(accompaniment_notes(rng, seconds, 120.0), seconds, rng, SR)
    mix = drums + band * np.float32(np.std(drums) / np.std(band))
    return drums, mix


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_detects_stems_and_mixes(seed):
    drums, mix = _stem_and_mix(seed)
    assert detect_source(drums, SR).source == "drums"
    decision = detect_source(mix, SR)
    assert decision.source == "mix" and decision.pitch_change is not None
    assert pitch_change(mix, SR) > pitch_change(drums, SR)


def test_detection_of_silence_and_short_audio():
    assert pitch_change(np.zeros(3 * SR, np.float32), SR) == 0.0
    assert pitch_change(np.zeros(SR // 10, np.float32), SR) == 0.0
    assert detect_source(np.zeros(SR // 10, np.float32), SR).source == "drums"


def test_long_inputs_are_read_from_a_bounded_excerpt(monkeypatch):
    seen = []
    monkeypatch.setattr(
        "drummernet.transcription.source.hpss_masks",
        lambda m, *a, **k: (seen.append(m.shape[1]), (np.zeros_like(m), np.zeros_like(m)))[1],
    )
    pitch_change(np.zeros(300 * SR, np.float32), SR, excerpt_seconds=8.0, pieces=4)
    assert len(seen) == 4 and sum(seen) < 9 * SR / 256


@pytest.mark.skipif(shared_data_dir() is None, reason="../shared/data not present")
def test_detects_the_dev_stems_and_mixes():
    from drummernet.audio import load_input

    data = shared_data_dir()
    stems = sorted((data / "mdb_dev" / "audio").glob("*.flac"))
    mixes = sorted((data / "mdb_dev_mix" / "audio").glob("*.flac"))
    if not stems or not mixes:
        pytest.skip("MDB dev stems or mixes missing")
    for path in stems:
        assert detect_source(load_input(path, None, SR)[0], SR).source == "drums", path
    for path in mixes:
        assert detect_source(load_input(path, None, SR)[0], SR).source == "mix", path


# ------------------------------------------------------------------------------- transcribe


def test_drum_source_is_untouched(tiny_model):
    drums, _ = drum_loop(3.0)
    audio, decision = prepare_source(drums.copy(), SR, "auto")
    assert decision.source == "drums" and decision.separator is None
    np.testing.assert_array_equal(audio, drums)
    auto = transcribe(drums, SR, model=tiny_model)
    stem = transcribe(drums, SR, model=tiny_model, source="drums")
    np.testing.assert_array_equal(auto.activations, stem.activations)
    assert [e.time for e in auto.events] == [e.time for e in stem.events]
    assert auto.source_decision.requested == "auto"
    assert stem.source_decision.pitch_change is None


def test_mix_source_separates(tiny_model):
    drums, _ = drum_loop(3.0)
    result = transcribe(drums, SR, model=tiny_model, source="mix")
    assert result.source_decision.source == "mix"
    assert result.source_decision.separator == "hpss"
    stem = transcribe(drums, SR, model=tiny_model, source="drums")
    assert not np.array_equal(result.activations, stem.activations)


@pytest.mark.parametrize(
    "options",
    [{"source": "song"}, {"separate": "spleeter"}, {"source": "drums", "separate": "hpss"}],
)
def test_bad_source_options(tiny_model, options):
    drums, _ = drum_loop(1.0)
    with pytest.raises(ValueError):
        transcribe(drums, SR, model=tiny_model, **options)


# ---------------------------------------------------------------------------------- demucs


def _without_demucs(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        separation.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "demucs" else real(name, *a),
    )


def test_demucs_not_installed_is_one_error(monkeypatch, tiny_model):
    _without_demucs(monkeypatch)
    with pytest.raises(SeparatorError, match="demucs package is not installed"):
        check_demucs()
    drums, _ = drum_loop(1.0)
    with pytest.raises(SeparatorError, match="not installed"):
        transcribe(drums, SR, model=tiny_model, separate="demucs")


def test_demucs_weights_must_be_cached(monkeypatch, tmp_path):
    """A stand-in demucs package: the weights are looked up in torch hub's cache, never
    fetched."""
    remote = tmp_path / "pkg" / "demucs" / "remote"
    remote.mkdir(parents=True)
    (remote.parent / "__init__.py").write_text("")
    (remote / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    (remote / "files.txt").write_text("955717e8-8726e21a.th\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    importlib.invalidate_caches()
    with pytest.raises(SeparatorError, match="weights of demucs model 'htdemucs' are not in"):
        check_demucs()
    with pytest.raises(SeparatorError, match="no pretrained model 'nope'"):
        check_demucs("nope")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "955717e8-8726e21a.th").write_bytes(b"")
    assert check_demucs() == remote


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture
def loop_wav(tmp_path):
    audio, _ = drum_loop(2.0)
    path = tmp_path / "loop.wav"
    sf.write(path, audio, SR)
    return path


def test_cli_source_options(capsys, loop_wav, tiny_model_file, tmp_path):
    args = ["transcribe", str(loop_wav), "--model", str(tiny_model_file), "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "a"), "--source", "mix"]) == 0
    assert (tmp_path / "a" / "loop.mid").is_file()
    assert main([*args, "-o", str(tmp_path / "b"), "--source", "drums"]) == 0
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "c"), "--source", "drums", "--separate", "hpss"]) == 2
    assert "cannot go with --source drums" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--source", "song"])


def test_cli_missing_demucs_is_one_line(capsys, monkeypatch, loop_wav, tiny_model_file, tmp_path):
    _without_demucs(monkeypatch)
    code = main(["transcribe", str(loop_wav), "--model", str(tiny_model_file), "-o",
                 str(tmp_path / "out"), "--separate", "demucs", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        "drummernet: error: --separate demucs: the demucs package is not installed "
        "(pip install demucs)"
    )
    assert not (tmp_path / "out" / "loop.mid").exists()
