"""DrummerNet as an evaluation system: transcription onsets per component and coarse class."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from conftest import SR, TINY_COMPONENTS, drum_loop

from drummernet.constants import GM_TO_CLASS
from drummernet.evaluation.datasets import Track
from drummernet.evaluation.systems import transcription_system
from drummernet.transcription.inference import transcribe


def test_transcription_system_labels(tiny_model, tmp_path):
    audio, _ = drum_loop(3.0)
    path = tmp_path / "x.wav"
    sf.write(path, audio, SR)
    system = transcription_system(tiny_model, onset_contrast=0.0)  # keep the tiny model's wash
    labels = system(Track("x", path, {}))
    result = transcribe(path, model=tiny_model, onset_contrast=0.0)
    for code in TINY_COMPONENTS:
        np.testing.assert_allclose(labels[code], result.onsets()[code])
    for coarse in ("KD", "SD", "HH", "TT", "CY", "OT"):
        expected = sorted(e.time for e in result.events if GM_TO_CLASS[e.note] == coarse)
        assert len(labels[coarse]) <= len(expected)
        assert set(np.round(labels[coarse], 6)) <= set(np.round(expected, 6))
    np.testing.assert_allclose(labels["KD"], result.onsets()["KD"])
    assert len(labels["KD"]) > 0 and len(labels["TT"]) == 0
