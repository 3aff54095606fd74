"""A seeded fuzz test of the audio reader: small files of every format the reader takes, with
their headers and bodies damaged at random. Every case must end in decoded audio or an
AudioError: never another exception, never more audio (or memory) than the file can hold. The
number of cases is fixed, so the test's cost is too (issue 18)."""

from __future__ import annotations

import io
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from drummernet.audio import MAX_FRAMES_PER_BYTE, load_input
from drummernet.constants import MIN_SAMPLE_RATE
from drummernet.errors import AudioError

SR = 16000
CASES = 600
SEED = 18

#: (extension, soundfile format, subtype, rate, channels) of the undamaged files.
BASES = [
    ("wav", "WAV", "PCM_16", 16000, 1),
    ("wav", "WAV", "FLOAT", 44100, 2),
    ("flac", "FLAC", None, 22050, 1),
    ("aiff", "AIFF", None, 16000, 1),
    ("ogg", "OGG", None, 16000, 1),
    ("mp3", "MP3", None, 44100, 1),
    ("caf", "CAF", None, 48000, 2),
]


def _base(fmt: str, subtype: str | None, rate: int, channels: int) -> bytes:
    t = np.arange(int(0.25 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone] * channels, axis=1), rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _damage(data: bytes, rng: np.random.Generator) -> bytes:
    """One random kind of damage: header bytes, a header field set to an extreme, truncation,
    trailing junk, or bit flips anywhere."""
    data = bytearray(data)
    kind = rng.integers(5)
    if kind == 0:
        for _ in range(rng.integers(1, 6)):
            data[rng.integers(min(64, len(data)))] = rng.integers(256)
    elif kind == 1:  # a 32-bit field of the header: a size, a rate, a channel count
        offset = int(rng.integers(0, min(60, len(data) - 4)))
        extremes = [0, 1, 2, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, int(rng.integers(0, 2**32))]
        struct.pack_into("<I", data, offset, int(rng.choice(extremes)))
    elif kind == 2:
        data = data[: rng.integers(0, len(data))]
    elif kind == 3:
        data += rng.integers(0, 256, rng.integers(1, 2000)).astype(np.uint8).tobytes()
    else:
        for _ in range(rng.integers(1, 30)):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    return bytes(data)


def _wav_with_rate(rate: int) -> bytes:
    data = bytearray(_base("WAV", "PCM_16", SR, 1))
    struct.pack_into("<II", data, 24, rate, rate * 2)
    return bytes(data)


@pytest.fixture(scope="module")
def bases() -> list[tuple[str, bytes]]:
    return [(ext, _base(fmt, subtype, rate, ch)) for ext, fmt, subtype, rate, ch in BASES]


def test_damaged_files_decode_or_fail_in_one_line(tmp_path, bases):
    rng = np.random.default_rng(SEED)
    cases = [(ext, _damage(data, rng)) for ext, data in (bases[rng.integers(len(bases))]
                                                          for _ in range(CASES))]  # fmt: skip
    # Rates a header may claim, from 1 Hz up, so that the absurd ones are always among the cases.
    cases += [("wav", _wav_with_rate(int(rate))) for rate in rng.choice(2**20, 16)]
    outcomes = {"decoded": 0, "refused": 0}
    tracemalloc.start()
    try:
        for number, (ext, data) in enumerate(cases):
            path = tmp_path / f"case{number}.{ext}"
            path.write_bytes(data)
            tracemalloc.reset_peak()
            try:
                audio, rate = load_input(path, None, SR)
            except AudioError as error:
                assert len(str(error).splitlines()) == 1, (number, str(error))
                assert str(path) in str(error), (number, str(error))
                outcomes["refused"] += 1
                continue
            _, peak = tracemalloc.get_traced_memory()
            limit = len(data) * MAX_FRAMES_PER_BYTE * SR // MIN_SAMPLE_RATE + 64
            assert audio.dtype == np.float32 and audio.ndim == 1, number
            assert np.isfinite(audio).all(), number
            assert len(audio) <= limit, (number, len(data), len(audio), rate)
            assert peak < 256 * 2**20, (number, peak)
            outcomes["decoded"] += 1
    finally:
        tracemalloc.stop()
    assert outcomes["decoded"] and outcomes["refused"], outcomes  # both paths were exercised
