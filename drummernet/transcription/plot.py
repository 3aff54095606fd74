"""A picture of a transcription: a mel spectrogram with each component's hits marked over it.

Needs the optional matplotlib (``pip install 'drummernet[plot]'``) and librosa's display module,
both imported only when a plot is drawn.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drummernet.audio import AudioError, atomic_write, read_audio
from drummernet.constants import COMPONENT_NAMES, SAMPLE_RATE

if TYPE_CHECKING:
    from drummernet.transcription.result import Transcription

#: Height (Hz) at which :func:`plot_transcription` marks each component's hits on the
#: spectrogram: roughly where each drum has its energy, so the marks sit on the strokes.
_PLOT_HZ: dict[str, float] = {
    "KD": 60.0, "TT_HFT": 90.0, "TT_MHT": 130.0, "TT_HIT": 180.0, "SD": 250.0,
    "OT_TMB": 2500.0, "CY_RDC": 3500.0, "HH_PHH": 4500.0, "HH_CHH": 5500.0, "HH_OHH": 6500.0,
    "CY_CRC": 7500.0,
}  # fmt: skip

#: Marker colours, one per component in the order of the transcription's components.
_COLOURS: tuple[str, ...] = (
    "#00e5ff", "#76ff03", "#ffea00", "#ff9100", "#ff1744", "#d500f9", "#2979ff", "#1de9b6",
    "#ffffff", "#c6ff00", "#f50057",
)  # fmt: skip


def plot_transcription(
    result: Transcription,
    path: str | os.PathLike,
    audio: np.ndarray | None = None,
    sr: int | None = None,
    *,
    overwrite: bool = True,
) -> Path:
    """Write a PNG: a mel spectrogram with each component's hits marked over it.

    Args:
        result: the transcription to draw.
        path: the PNG to write (atomically).
        audio: ``(samples,)`` audio to show; default ``result.source`` read with
            :func:`drummernet.audio.read_audio` if it is readable, else the resynthesis with the
            default kit.
        sr: its sample rate (required with ``audio``).
        overwrite: replace an existing ``path`` (else an
            :class:`~drummernet.errors.OutputExistsError`).

    Returns:
        ``path``.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install drummernet[plot]``).
        ValueError: ``audio`` is given without ``sr``.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ModuleNotFoundError(
            "plotting needs matplotlib: pip install 'drummernet[plot]' (or matplotlib)"
        ) from None
    import librosa
    import librosa.display

    if audio is None:
        sr = SAMPLE_RATE
        try:
            if result.source is None:
                raise AudioError("no source")
            audio, _ = read_audio(result.source, sr)
        except AudioError:
            audio = result.resynthesize(sr=sr)
    elif sr is None:
        raise ValueError("sr is required with audio")
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    # At most ~4000 spectrogram columns, whatever the duration.
    hop = max(256, int(math.ceil(len(audio) / 4000)))
    mel = librosa.feature.melspectrogram(
        y=audio, sr=sr, n_fft=2048, hop_length=hop, n_mels=128, fmin=20.0, center=True
    )
    db = librosa.power_to_db(mel, ref=np.max(mel) if mel.size and mel.max() > 0 else 1.0,
                             top_db=80.0)  # fmt: skip

    figure = Figure(figsize=(min(30.0, max(10.0, result.duration / 2)), 6), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    librosa.display.specshow(
        db, sr=sr, hop_length=hop, x_axis="time", y_axis="mel", fmin=20.0, ax=ax, cmap="magma"
    )
    colours = figure.colorbar(ax.collections[0], ax=ax, format="%+2.0f dB")
    colours.set_label("level")
    default_hz = np.geomspace(80.0, 7000.0, len(result.components))
    for i, (code, events) in enumerate(result.notes_by_component().items()):
        if not events:
            continue
        hz = _PLOT_HZ.get(code, float(default_hz[i % len(default_hz)]))
        ax.scatter(
            [e.time for e in events], [hz] * len(events),
            s=[8 + 40 * e.velocity / 127 for e in events], marker="v",
            color=_COLOURS[i % len(_COLOURS)], edgecolors="black", linewidths=0.4,
            label=f"{code} ({COMPONENT_NAMES.get(code, code)}): {len(events)}",
        )  # fmt: skip
    title = Path(result.source).name if result.source else "transcription"
    ax.set_title(f"{title}: {len(result.events)} hits")
    if result.events:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False,
                  ncol=min(6, len(result.components)))  # fmt: skip
    figure.tight_layout()
    return atomic_write(
        path, lambda tmp: figure.savefig(tmp, format="png"), suffix=".png", overwrite=overwrite
    )
