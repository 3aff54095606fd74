"""The inference API: models, streaming reads, loudness, chunked analysis, transcribe()."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SR, TINY_COMPONENTS, drum_loop

from drummernet.audio import (
    AudioError,
    load_audio,
    load_input,
    read_audio,
    resample,
    stream_audio,
    to_mono,
)
from drummernet.constants import DEFAULT_TARGET_RMS, GM_NOTES
from drummernet.dsp import loudness_gain
from drummernet.errors import DrummerNetWarning
from drummernet.model.network import DrummerNet, ModelLoadError
from drummernet.transcription import inference
from drummernet.transcription.inference import (
    analyze_audio,
    load_model,
    transcribe,
)
from drummernet.transcription.result import Transcription


def onset_frames(result: Transcription) -> dict[str, np.ndarray]:
    return {c: np.round(t * result.frame_rate) for c, t in result.onsets().items()}


def assert_same_onsets(a: Transcription, b: Transcription, frames: float = 1.0) -> None:
    for (code, x), y in zip(onset_frames(a).items(), onset_frames(b).values(), strict=True):
        assert len(x) == len(y), code
        assert np.all(np.abs(x - y) <= frames), code


# ----------------------------------------------------------------------------------- models


def test_missing_or_corrupt_default_model_is_an_error(monkeypatch, tmp_path):
    """Never a silent untrained model: no shipped file, or a bad one, is a ModelLoadError."""
    absent = tmp_path / "absent.safetensors"
    monkeypatch.setattr(inference, "DEFAULT_MODEL_PATH", absent)
    inference._default_model.cache_clear()
    try:
        for call in (lambda: load_model(load_kit=False), lambda: load_model("default"),
                     lambda: transcribe(np.ones(SR, np.float32), SR)):  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # an error, not a warning and a stand-in
                with pytest.raises(ModelLoadError) as raised:
                    call()
            message = str(raised.value)
            assert str(absent) in message and "drummernet train" in message
            assert "--model" in message and len(message.splitlines()) == 1
        absent.write_bytes(b"not a model")
        with pytest.raises(ModelLoadError, match="absent.safetensors"):
            load_model(load_kit=False)
    finally:
        inference._default_model.cache_clear()


def test_an_untrained_model_passed_as_an_object_is_used_as_it_is(tiny_model):
    audio, _ = drum_loop(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = transcribe(audio, SR, model=tiny_model, onset_contrast=0.0)
    assert result.components == TINY_COMPONENTS


def test_default_model_loads_the_shipped_file(monkeypatch, tiny_model_file):
    monkeypatch.setattr(inference, "DEFAULT_MODEL_PATH", tiny_model_file)
    inference._default_model.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = load_model("default", load_kit=False)
        assert model.components == TINY_COMPONENTS
    finally:
        inference._default_model.cache_clear()


def test_load_model_file_and_run_folder(tiny_model_file, tmp_path):
    assert load_model(tiny_model_file).components == TINY_COMPONENTS
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        load_model(run)
    (run / "model.safetensors").write_bytes(tiny_model_file.read_bytes())
    assert load_model(run, load_kit=False).components == TINY_COMPONENTS
    with pytest.raises(ModelLoadError, match="no such model file"):
        load_model(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------ audio


def test_read_audio_streams_like_load_audio(tmp_path):
    audio, _ = drum_loop(2.0, sr=44100)
    stereo = np.stack([audio, 0.5 * audio, -audio, audio], axis=1)  # 4 channels
    path = tmp_path / "x.flac"
    sf.write(path, stereo, 44100)
    streamed, file_sr = read_audio(path, SR)
    loaded, _ = load_audio(path, SR)
    assert file_sr == 44100
    assert abs(len(streamed) - len(loaded)) <= 1
    n = min(len(streamed), len(loaded))
    np.testing.assert_allclose(streamed[:n], loaded[:n], atol=2e-3)
    # Blocks far smaller than the file give the same result as one block.
    small = np.concatenate(list(stream_audio(path, SR, block_frames=1000)))
    np.testing.assert_allclose(small[:n], streamed[:n], atol=1e-5)


@pytest.mark.parametrize("rate", [8000, 192000])
def test_read_audio_resamples_any_rate(tmp_path, rate):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(rate // 2, np.float32), rate)
    audio, file_sr = read_audio(path, SR)
    assert file_sr == rate and abs(len(audio) - SR // 2) <= 1


def test_to_mono_takes_channels_first():
    left, right = np.arange(6, dtype=np.float32), -0.5 * np.arange(6, dtype=np.float32)
    stereo = np.stack([left, right])  # (channels, samples)
    np.testing.assert_array_equal(to_mono(stereo), (left + right) / 2)
    np.testing.assert_array_equal(to_mono(torch.from_numpy(stereo)), (left + right) / 2)
    mono = to_mono(left)
    assert mono.dtype == np.float32 and mono is not left  # a new array, the caller's to modify
    with pytest.raises(ValueError, match="channels, samples"):
        to_mono(np.zeros((1, 2, 3)))


def test_load_input_takes_a_file_or_an_array(tmp_path):
    audio, _ = drum_loop(1.0, sr=44100)
    stereo = np.stack([audio, 0.5 * audio])  # (channels, samples)
    path = tmp_path / "x.wav"
    sf.write(path, stereo.T, 44100, subtype="FLOAT")  # soundfile: (frames, channels)
    from_file, file_sr = load_input(path, None, SR)
    from_array, array_sr = load_input(stereo, 44100, SR)
    assert file_sr == array_sr == 44100 and from_file.dtype == from_array.dtype == np.float32
    np.testing.assert_allclose(from_array, resample(0.75 * audio, 44100, SR), atol=1e-6)
    n = min(len(from_file), len(from_array))
    np.testing.assert_allclose(from_file[:n], from_array[:n], atol=2e-3)
    same, _ = load_input(torch.from_numpy(stereo), 44100, SR)
    np.testing.assert_array_equal(same, from_array)
    with pytest.raises(ValueError, match="sr is required"):
        load_input(stereo, None, SR)
    with pytest.raises(AudioError, match="no audio samples"):
        load_input(np.zeros(0, np.float32), SR, SR)
    with pytest.raises(AudioError, match="NaN"):
        load_input(np.full(SR, np.inf, np.float32), SR, SR)
    with pytest.raises(AudioError, match="too short"):
        load_input(np.ones(int(0.01 * SR), np.float32), SR, SR)
    with pytest.raises(AudioError, match="no such file"):
        load_input(tmp_path / "missing.wav", None, SR)


def test_truncated_and_corrupt_files_are_refused(tmp_path):
    noise = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32) * 0.1
    for name in ("x.wav", "x.flac"):
        sf.write(tmp_path / name, noise, SR)
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        read_audio(tmp_path / "x.wav", SR)
    with pytest.raises(AudioError, match="corrupt"):
        read_audio(tmp_path / "x.flac", SR)


# --------------------------------------------------------------------------------- loudness


def test_loudness_gain_scales_and_gates():
    audio, _ = drum_loop(4.0)
    gain = loudness_gain(audio, SR)
    assert gain == pytest.approx(loudness_gain(audio * 0.01, SR) * 0.01, rel=1e-5)
    # Played blocks reach the target RMS ...
    assert np.sqrt(np.mean((audio * gain) ** 2)) == pytest.approx(DEFAULT_TARGET_RMS, rel=0.05)
    # ... and a long rest does not change the gain.
    rest = np.concatenate([audio, np.zeros(8 * SR, np.float32), 1e-5 * audio])
    assert loudness_gain(rest, SR) == pytest.approx(gain, rel=0.02)
    assert loudness_gain(np.zeros(SR, np.float32), SR) is None
    assert loudness_gain(np.full(SR, 1e-6, np.float32), SR) is None


# --------------------------------------------------------------------------------- analysis


@pytest.mark.parametrize("seconds", [2.6, 7.3])
def test_chunked_analysis_matches_one_pass(tiny_model, seconds):
    audio, _ = drum_loop(seconds)
    one_pass = analyze_audio(tiny_model, audio, chunk_seconds=1000)
    with torch.inference_mode():
        direct = tiny_model.analyze(torch.from_numpy(audio)[None])[0].numpy()
    np.testing.assert_array_equal(one_pass, direct)
    assert one_pass.shape == (3, math.ceil(len(audio) / tiny_model.hop_length))
    threads = torch.get_num_threads()
    for batch_size, workers in [(1, 1), (3, 2)]:  # serial, and two worker threads
        chunked = analyze_audio(tiny_model, audio, chunk_seconds=0.5, overlap_seconds=0.4,
                                batch_size=batch_size, workers=workers)  # fmt: skip
        assert torch.get_num_threads() == threads
        assert chunked.shape == one_pass.shape
        np.testing.assert_allclose(chunked, one_pass, atol=1e-4 * one_pass.max())


def test_parallel_batches_share_the_work_evenly(tiny_model, monkeypatch):
    """On 2 workers the regular windows make an even number of equal batches (12 windows at
    batch size 16 make 6 + 6, not one batch of 12 with a worker idle)."""
    audio, _ = drum_loop(7.3)
    shapes: list[tuple[int, int]] = []
    analyze = tiny_model.analyze

    def recording(x):
        shapes.append(tuple(x.shape))
        return analyze(x)

    monkeypatch.setattr(tiny_model, "analyze", recording)
    chunked = analyze_audio(tiny_model, audio, chunk_seconds=0.5, overlap_seconds=0.4,
                            batch_size=16, workers=2)  # fmt: skip
    monkeypatch.undo()
    window = min(length for _, length in shapes)
    regular = sorted(batch for batch, length in shapes if length == window)
    tail = [batch for batch, length in shapes if length != window]
    assert tail == [1] and len(regular) % 2 == 0 and regular[-1] - regular[0] <= 1, shapes
    assert sum(regular) + 1 >= 7.3 / 0.5
    one_pass = analyze_audio(tiny_model, audio, chunk_seconds=1000)
    np.testing.assert_allclose(chunked, one_pass, atol=1e-4 * one_pass.max())


def test_chunked_transcription_has_the_same_onsets(tiny_model):
    audio, _ = drum_loop(6.0)
    # No onset contrast: the untrained tiny model's impulses are a wash, which it would remove.
    options = dict(model=tiny_model, onset_contrast=0.0)
    whole = transcribe(audio, SR, chunk_seconds=1000, **options)
    chunked = transcribe(audio, SR, chunk_seconds=0.6, overlap_seconds=0.4, **options)
    assert len(whole) > 10
    assert_same_onsets(whole, chunked)


# ------------------------------------------------------------------------------- transcribe


def test_transcribe_array(tiny_model):
    audio, _ = drum_loop(3.0)
    result = transcribe(audio, SR, model=tiny_model)
    assert isinstance(result, Transcription)
    assert result.components == TINY_COMPONENTS
    assert result.frame_rate == SR / tiny_model.hop_length
    assert result.activations.shape == (3, math.ceil(len(audio) / tiny_model.hop_length))
    assert result.duration == pytest.approx(3.0)
    assert result.gain == pytest.approx(loudness_gain(audio, SR))
    times = [e.time for e in result.events]
    assert times == sorted(times) and 0 <= times[0] and times[-1] < 3.0
    assert all(e.note == GM_NOTES[e.component] and 1 <= e.velocity <= 127 for e in result.events)
    # Loudness normalisation: the input level does not matter; nor does (channels, samples).
    quiet = transcribe(np.stack([audio, audio]) * 0.05, SR, model=tiny_model)
    assert_same_onsets(result, quiet)
    assert [e.velocity for e in quiet.events] == [e.velocity for e in result.events]


def test_transcribe_file_matches_array(tiny_model, tiny_model_file, tmp_path):
    audio, _ = drum_loop(3.0, sr=44100)
    path = tmp_path / "loop.wav"
    sf.write(path, np.stack([audio, audio], axis=1), 44100, subtype="FLOAT")
    from_file = transcribe(path, model=tiny_model_file)
    assert from_file.source == str(path)
    from_array = transcribe(audio, 44100, model=tiny_model)
    assert_same_onsets(from_file, from_array)


def test_transcribe_refuses_bad_audio(tiny_model):
    with pytest.raises(AudioError, match="too short"):
        transcribe(np.ones(int(0.04 * SR), np.float32), SR, model=tiny_model)
    bad = np.ones(SR, np.float32)
    bad[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        transcribe(bad, SR, model=tiny_model)
    with pytest.raises(ValueError, match="sr is required"):
        transcribe(np.ones(SR, np.float32), model=tiny_model)


def test_silence_gives_an_empty_transcription_and_a_warning(tiny_model):
    with pytest.warns(DrummerNetWarning, match="silent"):
        result = transcribe(np.zeros(SR, np.float32), SR, model=tiny_model)
    assert len(result) == 0 and result.activations.shape == (3, 200)


def test_low_rate_warns(tiny_model):
    audio, _ = drum_loop(1.0, sr=8000)
    with pytest.warns(DrummerNetWarning, match="above 4 kHz is missing"):
        transcribe(audio, 8000, model=tiny_model)


def test_a_voice_model_transcribes_into_components():
    """Extra voices (here the snare's side stick) are analyzer rows of their own; transcription
    adds them into their component, so users see the 11 components whatever the model."""
    from conftest import synthetic_kit, tiny_config

    torch.manual_seed(0)
    kit = synthetic_kit()
    click = torch.zeros(1, kit.shape[1])
    click[0, :40] = torch.hann_window(40)
    net = DrummerNet(
        tiny_config(components=(*TINY_COMPONENTS, "SD_XS")), kits=torch.cat([kit, click])
    )
    audio, _ = drum_loop(2.0)
    result = transcribe(audio, SR, model=net, adapt=False)  # the analyzer's rows as they are
    assert result.components == TINY_COMPONENTS
    rows = analyze_audio(net, audio * np.float32(result.gain))
    np.testing.assert_allclose(result.activations[1], rows[1] + rows[3], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.activations[[0, 2]], rows[[0, 2]])
    assert {e.component for e in result.events} <= set(TINY_COMPONENTS)
    with pytest.warns(DrummerNetWarning, match="silent"):
        silent = transcribe(np.zeros(SR, np.float32), SR, model=net)
    assert silent.components == TINY_COMPONENTS and silent.activations.shape == (3, 200)
