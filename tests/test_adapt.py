"""Per-recording adaptation (drummernet.transcription.adapt): NMFD from the analyzer's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SR, record_keyword, synthetic_kit

from drummernet.model.network import DrummerNet
from drummernet.transcription import adapt as adapt_module
from drummernet.transcription.adapt import (
    ADAPT_BANDS,
    ADAPT_EQ_SMOOTH,
    ADAPT_FRAME_FACTOR,
    ADAPT_SAMPLE_RATE,
    adapt_activations,
    kit_templates,
    model_templates,
    nmfd,
    reads_upper_band,
    recording_spectrogram,
)
from drummernet.transcription.inference import model_relative_threshold, transcribe

HOP = 80


def _render(kit: torch.Tensor, hits: list[tuple[int, float, float]], seconds: float) -> np.ndarray:
    """``hits`` of (row, time, amplitude) through ``kit: (rows, length)`` -> audio."""
    audio = np.zeros(int(seconds * SR) + kit.shape[-1], dtype=np.float32)
    for row, time, amplitude in hits:
        start = int(round(time * SR))
        audio[start : start + kit.shape[-1]] += amplitude * kit[row].numpy()
    return audio[: int(seconds * SR)]


def test_templates_have_one_spectrogram_per_component():
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    assert templates.shape[:2] == (3, ADAPT_BANDS)
    assert (templates >= 0).all()
    # the kick's energy sits in the low bands, the hat's in the high ones
    low, high = templates[:, :12].sum((1, 2)), templates[:, -12:].sum((1, 2))
    assert low[0] / high[0] > low[2] / high[2]


def test_templates_can_have_a_length_per_component():
    kit = synthetic_kit()
    short = kit_templates(kit[None], SR, HOP)
    mixed = kit_templates(kit[None], SR, HOP, seconds=[0.1, 0.5, 0.2])
    frames = short.shape[-1]
    assert mixed.shape == short.shape  # as long as the longest
    torch.testing.assert_close(mixed[1], short[1])
    cut = round(0.1 * SR / (HOP * ADAPT_FRAME_FACTOR))
    torch.testing.assert_close(mixed[0, :, :cut], short[0, :, :cut])
    assert not mixed[0, :, cut:].any() and short[0, :, cut:].any()
    longer = kit_templates(kit[None], SR, HOP, seconds=[0.5, 0.5, 1.0])
    assert longer.shape[-1] == 2 * frames and not longer[0, :, frames:].any()
    with pytest.raises(ValueError, match="2 template lengths for 3 components"):
        kit_templates(kit[None], SR, HOP, seconds=[0.5, 0.5])


def test_nmfd_explains_away_a_stroke_the_recording_does_not_have():
    """A snare alone, with the analyzer's guess of snare + kick at its onset: the fit keeps the
    snare and shrinks the kick, and a zero stays zero."""
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    audio = _render(kit, [(1, 0.5, 0.8), (1, 1.5, 0.8)], 2.5)
    spectrogram = recording_spectrogram(torch.from_numpy(audio), SR, HOP)
    frames = spectrogram.shape[1]
    start = torch.zeros(3, frames)
    for t in (50, 150):  # 10 ms frames
        start[1, t] = 0.5
        start[0, t] = 0.5
    fitted = nmfd(spectrogram, templates, start, iterations=30)
    assert (fitted[start == 0] == 0).all()
    for t in (50, 150):
        assert fitted[0, t] < 0.25 * start[0, t]
        assert fitted[1, t] > 0.5 * start[1, t]


def test_nmfd_smooths_each_components_equaliser_over_its_own_width():
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    audio = _render(kit, [(0, 0.3, 1.0), (1, 0.8, 1.0), (2, 1.2, 0.5), (1, 1.6, 0.7)], 2.0)
    spectrogram = recording_spectrogram(torch.from_numpy(audio), SR, HOP)
    start = torch.zeros(3, spectrogram.shape[1])
    start[:, [30, 80, 120, 160]] = 0.3
    default = nmfd(spectrogram, templates, start, 30)
    same = nmfd(spectrogram, templates, start, 30, smoothing=[ADAPT_EQ_SMOOTH] * 3)
    torch.testing.assert_close(same, default, rtol=0, atol=0)
    free = nmfd(spectrogram, templates, start, 30, smoothing=[ADAPT_EQ_SMOOTH, ADAPT_EQ_SMOOTH, 0])
    assert not torch.equal(free, default)
    with pytest.raises(ValueError, match="2 widths for 3 components"):
        nmfd(spectrogram, templates, start, 30, smoothing=[0, 0])


def test_adaptation_leaves_the_toms_equalisers_unsmoothed_up_to_16_khz(monkeypatch):
    """Reading up to 16 kHz, the toms' equalisers follow the recording band by band
    (ADAPT_EQ_SMOOTH_BY_CLASS); every other component's is smoothed over ADAPT_EQ_SMOOTH bands.
    Within the analyzer's band every equaliser is smoothed."""
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    audio = _render(kit, [(0, 0.3, 1.0), (1, 0.8, 1.0), (2, 1.2, 0.5)], 2.0)
    spectrogram = recording_spectrogram(torch.from_numpy(audio), SR, HOP)
    activations = np.zeros((3, len(audio) // HOP), dtype=np.float32)
    activations[:, 100] = 0.5
    seen = []
    real = adapt_module.nmfd

    def spy(*args):
        seen.append(list(args[4]))
        return real(*args)

    monkeypatch.setattr(adapt_module, "nmfd", spy)
    codes = ("KD", "TT_HFT", "HH_CHH")
    wide = ADAPT_SAMPLE_RATE  # the same 5 ms frames at twice the rate
    adapt_activations(activations, None, templates, wide, HOP * wide // SR, codes,
                      classes=("all",), spectrogram=spectrogram)  # fmt: skip
    assert seen == [[ADAPT_EQ_SMOOTH, 0, ADAPT_EQ_SMOOTH]]
    seen.clear()
    adapt_activations(activations, None, templates, SR, HOP, codes, classes=("all",),
                      spectrogram=spectrogram)  # fmt: skip
    assert seen == [[ADAPT_EQ_SMOOTH] * 3]


def test_adaptation_within_the_analyzers_band_smooths_every_equaliser(tiny_model, monkeypatch):
    """A recording at the analyzer's rate is adapted within its band, at a rate where the toms'
    settings (and equalisers) are those of sessions 6-11: every equaliser smoothed."""
    from drummernet.transcription import inference

    seen = []
    real = inference.adapt_activations

    def spy(*args, **kwargs):
        seen.append(args[3])  # the rate adaptation reads the recording at
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "adapt_activations", spy)
    audio = _render(synthetic_kit(), [(i % 3, 0.2 + 0.25 * i, 0.8) for i in range(6)], 2.0)
    result = transcribe(audio, sr=SR, model=tiny_model, adapt=True)
    assert result.adaptation == "narrow" and seen == [SR] and not reads_upper_band(SR)


def test_adapt_activations_changes_only_the_adapted_classes():
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    audio = _render(kit, [(0, 0.3, 1.0), (1, 0.8, 1.0), (2, 1.2, 0.5)], 2.0)
    frames = len(audio) // HOP
    rng = np.random.default_rng(0)
    activations = (rng.random((3, frames)) * (rng.random((3, frames)) > 0.97)).astype(np.float32)
    codes = ("KD", "SD", "HH_CHH")
    out = adapt_activations(activations, audio, templates, SR, HOP, codes, classes=("SD",))
    assert out.shape == activations.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[[0, 2]], activations[[0, 2]])
    assert not np.array_equal(out[1], activations[1])
    assert (out[1][activations[1] == 0] == 0).all()
    # windows: a short chunk length gives the same shape and finite values
    chunked = adapt_activations(
        activations, audio, templates, SR, HOP, codes, classes=("all",), chunk_seconds=0.5
    )
    assert chunked.shape == activations.shape and np.isfinite(chunked).all()
    # nothing to adapt: returned as it is
    np.testing.assert_array_equal(
        adapt_activations(activations, audio, templates, SR, HOP, codes, classes=("TT",)),
        activations,
    )
    assert ADAPT_FRAME_FACTOR == 2


def test_a_silent_cymbal_row_is_revived_where_a_cymbal_sounds():
    """The analyzer wrote only kicks; where a crash (here the noisy third one-shot) sounds with
    the kick, the revived crash row takes it; where the kick is alone, it stays low."""
    kit = synthetic_kit()
    templates = kit_templates(kit[None], SR, HOP)
    with_crash, alone = (0.3, 1.3), (0.8, 1.8)
    hits = [(0, t, 1.0) for t in with_crash + alone] + [(2, t, 1.0) for t in with_crash]
    audio = _render(kit, hits, 2.5)
    frames = len(audio) // HOP
    activations = np.zeros((3, frames), dtype=np.float32)
    for t in with_crash + alone:
        activations[0, round(t * SR / HOP)] = 0.5
    codes = ("KD", "SD", "CY_CRC")
    out = adapt_activations(activations, audio, templates, SR, HOP, codes, classes=("CY",))

    def peak(times) -> float:
        return max(out[2, round(t * SR / HOP) - 2 : round(t * SR / HOP) + 3].max() for t in times)

    assert peak(with_crash) > 0.1
    assert peak(alone) < 0.25 * peak(with_crash)
    np.testing.assert_array_equal(out[:2], activations[:2])  # not adapted: as they were
    # without revival the silent row stays silent
    plain = adapt_activations(activations, audio, templates, SR, HOP, codes, classes=("CY",),
                              revive=())  # fmt: skip
    assert not plain[2].any()


def test_transcribe_with_adapt_keeps_the_other_classes_notes(tiny_model):
    """Adapting the hi-hat leaves every kick and snare note as it was."""
    kit = synthetic_kit()
    audio = _render(kit, [(i % 3, 0.2 + 0.25 * i, 0.8) for i in range(10)], 3.0)
    plain = transcribe(audio, sr=SR, model=tiny_model, adapt=False)
    adapted = transcribe(audio, sr=SR, model=tiny_model, adapt=True, adapt_classes=("HH",))
    assert [e for e in plain.events if e.component != "HH_CHH"] == [
        e for e in adapted.events if e.component != "HH_CHH"
    ]
    assert adapted.activations.shape == plain.activations.shape


def test_model_templates_read_the_kit_of_a_model_loaded_without_it(tiny_model_file):
    net = DrummerNet.load(tiny_model_file, load_kit=False)
    assert not net.synthesizer.kits.any()  # a silent stand-in
    templates = model_templates(net)
    assert templates.shape[:2] == (3, ADAPT_BANDS)
    assert model_templates(net) is templates  # computed once per model


def test_longer_templates_per_class_only_up_to_16_khz(tiny_model_file, monkeypatch):
    """ADAPT_TEMPLATE_SECONDS_BY_CLASS lengthens a class's templates when adaptation reads above
    the analyzer's band (another rate than the model's); within it, every template is as long."""
    monkeypatch.setattr(adapt_module, "ADAPT_TEMPLATE_SECONDS_BY_CLASS", {"HH": 1.0})
    net = DrummerNet.load(tiny_model_file)
    narrow, wide = model_templates(net), model_templates(net, 2 * net.sample_rate)
    assert wide.shape[-1] == 2 * narrow.shape[-1]  # 1 s against 0.5 s, same frame duration
    half = narrow.shape[-1]
    assert not wide[:2, :, half:].any()  # kick and snare stop at 0.5 s
    monkeypatch.setattr(adapt_module, "ADAPT_TEMPLATE_SECONDS_BY_CLASS", {})
    other = DrummerNet.load(tiny_model_file)
    assert model_templates(other, 2 * other.sample_rate).shape[-1] == half


def test_adapted_relative_thresholds_replace_the_classes_they_name(tiny_model):
    tiny_model.extra = {"relative_threshold": {"KD": 0.4, "TT": 0.6}}
    assert model_relative_threshold(tiny_model, adapted=True) == {"KD": 0.4, "TT": 0.6}
    tiny_model.extra["adapt_relative_threshold"] = {"TT": 0.5}
    assert model_relative_threshold(tiny_model) == {"KD": 0.4, "TT": 0.6}
    assert model_relative_threshold(tiny_model, adapted=True) == {"KD": 0.4, "TT": 0.5}
    tiny_model.extra = {"relative_threshold": 0.3, "adapt_relative_threshold": {"CY": 0.2}}
    merged = model_relative_threshold(tiny_model, adapted=True)
    assert isinstance(merged, dict) and merged["CY"] == 0.2 and merged["KD"] == 0.3


@pytest.mark.parametrize("bad", [{"TT": 1.5}, {"TT": "x"}])
def test_a_bad_adapted_threshold_in_a_model_file_is_refused(tiny_model, tmp_path, bad):
    from drummernet.errors import ModelLoadError

    path = tiny_model.save(tmp_path / "m.safetensors", extra={"adapt_relative_threshold": bad})
    with pytest.raises(ModelLoadError, match="adapt_relative_threshold"):
        DrummerNet.load(path)


@pytest.mark.parametrize(
    "flag, adapted", [([], True), (["--adapt"], True), (["--no-adapt"], False)]
)
def test_cli_adapts_by_default(tmp_path, tiny_model_file, monkeypatch, flag, adapted):
    import soundfile as sf
    from conftest import drum_loop

    from drummernet.cli import main
    from drummernet.transcription import inference

    seen = record_keyword(monkeypatch, inference, "transcribe", "adapt")
    audio, _ = drum_loop(1.0)
    wav = tmp_path / "loop.wav"
    sf.write(wav, audio, SR)
    out = ["-o", str(tmp_path / "out"), "--model", str(tiny_model_file)]
    assert main(["transcribe", str(wav), *out, *flag]) == 0
    assert seen == [adapted]


def test_cli_adapt_writes_the_same_kind_of_midi(capsys, tmp_path, tiny_model_file):
    import pretty_midi
    import soundfile as sf
    from conftest import drum_loop

    from drummernet.cli import main

    audio, _ = drum_loop(2.0)
    wav = tmp_path / "loop.wav"
    sf.write(wav, audio, SR)
    code = main(["transcribe", str(wav), "-o", str(tmp_path / "out"), "--model",
                 str(tiny_model_file), "--adapt"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0, err
    (drums,) = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "loop.mid")).instruments
    assert drums.is_drum and {n.pitch for n in drums.notes} <= {36, 38, 42}


def test_a_model_whose_kit_cannot_be_read_is_a_one_line_error(tiny_model, tmp_path):
    import dataclasses

    from drummernet.errors import ModelLoadError

    missing = str(tmp_path / "no_such_kit")
    tiny_model.config = dataclasses.replace(tiny_model.config, kits=(missing,))
    tiny_model.synthesizer.set_kits(torch.zeros(1, 3, 1))  # as if loaded without its kit
    with pytest.raises(ModelLoadError, match="adaptation needs the model's kit"):
        model_templates(tiny_model)


def test_adaptation_reads_the_upper_band_when_the_recording_has_it():
    from drummernet.transcription.adapt import ADAPT_SAMPLE_RATE, adaptation_rate

    assert ADAPT_SAMPLE_RATE == 32000
    for rate in (32000, 44100, 48000, 96000):
        assert adaptation_rate(rate, SR, HOP) == ADAPT_SAMPLE_RATE
    for rate in (8000, 16000, 22050, 24000):
        assert adaptation_rate(rate, SR, HOP) == SR
    assert adaptation_rate(44100, 44100, 441) == 44100  # a model at a higher rate keeps its own


def test_templates_at_the_adaptation_rate_span_the_same_frames(tiny_model):
    at_model, wide = model_templates(tiny_model), model_templates(tiny_model, 32000)
    assert wide.shape == at_model.shape and wide is model_templates(tiny_model, 32000)
    assert not torch.allclose(wide, at_model)


@pytest.mark.parametrize(
    "rate, source, expected", [(44100, "drums", 32000), (16000, "drums", SR), (44100, "mix", SR)]
)
def test_transcribe_adapts_a_full_band_drum_recording_at_32k(
    tiny_model, monkeypatch, rate, source, expected
):
    from conftest import drum_loop

    from drummernet.audio import resample
    from drummernet.transcription import inference

    seen = []
    original = inference.adapt_activations

    def spy(activations, audio, templates, sample_rate, hop_length, *args, **kwargs):
        seen.append((sample_rate, hop_length, kwargs["spectrogram"]))
        return original(activations, audio, templates, sample_rate, hop_length, *args, **kwargs)

    monkeypatch.setattr(inference, "adapt_activations", spy)
    audio, _ = drum_loop(2.0)
    audio = resample(audio, SR, rate)
    result = transcribe(audio, rate, model=tiny_model, source=source)
    ((sample_rate, hop, spectrogram),) = seen
    assert sample_rate == expected and hop == HOP * expected // SR
    assert result.adaptation == ("wide" if expected > SR else "narrow")
    assert transcribe(audio, rate, model=tiny_model, adapt=False).adaptation is None
    assert result.activations.shape[1] == pytest.approx(2.0 * SR / HOP, abs=1)
    if source == "drums":  # the recording at the adaptation's rate, loudness-normalised
        again = resample(audio, rate, expected) * np.float32(result.gain)
        expected_spectrogram = recording_spectrogram(again, expected, hop)
        torch.testing.assert_close(spectrogram, expected_spectrogram, rtol=1e-4, atol=1e-5)


def test_the_spectrogram_of_a_stream_is_the_spectrogram_of_the_whole(tmp_path):
    """Blocks of any sizes (a file streamed at another rate included) give the one-array result,
    exactly, across the transform's 30 s blocks and the recording's ends."""
    import soundfile as sf

    from drummernet.audio import read_audio
    from drummernet.transcription.adapt import ADAPT_CHUNK_SECONDS, reread_spectrogram

    rng = np.random.default_rng(3)
    hop = HOP * 2
    for seconds in (0.01, 1.0, ADAPT_CHUNK_SECONDS + 0.37):
        audio = rng.standard_normal(int(seconds * 32000)).astype(np.float32)
        whole = recording_spectrogram(audio, 32000, hop)
        assert whole.shape == (ADAPT_BANDS, len(audio) // (hop * ADAPT_FRAME_FACTOR) + 1)
        cuts = np.sort(rng.integers(0, len(audio), 9))
        blocks = iter(np.split(audio, cuts))  # empty blocks among them
        torch.testing.assert_close(recording_spectrogram(blocks, 32000, hop), whole, rtol=0, atol=0)
    path = tmp_path / "drums.wav"
    sf.write(path, rng.standard_normal((44100 * 2, 2)).astype(np.float32) * 0.1, 44100)
    read, _ = read_audio(path, 32000)
    expected = recording_spectrogram(read, 32000, hop) * 0.5
    torch.testing.assert_close(reread_spectrogram(path, None, 32000, hop, 0.5), expected)


def test_adaptation_within_the_analyzers_band_keeps_the_hihat_and_its_own_settings(
    tiny_model, tmp_path
):
    """Below 32 kHz only NARROW_ADAPT_CLASSES are adapted, read with the adapt16_ settings."""
    from conftest import drum_loop

    from drummernet.audio import resample
    from drummernet.transcription.adapt import NARROW_ADAPT_CLASSES
    from drummernet.transcription.inference import model_tom_masking

    assert "HH" not in NARROW_ADAPT_CLASSES
    extra = {
        "adapt_relative_threshold": {"HH": 0.0, "TT": 0.2},
        "adapt_tom_masking": 4.0,
        "adapt16_relative_threshold": {"TT": 0.5},
        "adapt16_tom_masking": 3.0,
    }
    model = DrummerNet.load(tiny_model.save(tmp_path / "m.safetensors", extra=extra),
                            kits=synthetic_kit())  # fmt: skip
    assert model_relative_threshold(model, adapted=True)["HH"] == 0.0
    assert model_relative_threshold(model, adapted=True, narrow=True)["TT"] == 0.5
    assert "HH" not in model_relative_threshold(model, adapted=True, narrow=True)
    assert (model_tom_masking(model, adapted=True), model_tom_masking(model, True, True)) == (4, 3)
    audio, _ = drum_loop(2.0)
    narrow = transcribe(audio, SR, model=model)
    plain = transcribe(audio, SR, model=model, adapt=False)
    assert narrow.adaptation == "narrow"
    hats = [i for i, c in enumerate(narrow.components) if c.startswith("HH")]
    np.testing.assert_array_equal(narrow.activations[hats], plain.activations[hats])
    wide = transcribe(resample(audio, SR, 44100), 44100, model=model)
    assert wide.adaptation == "wide"
