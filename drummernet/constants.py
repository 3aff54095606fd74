"""Shared constants: the drum components, their General MIDI notes and every tunable default.

Every threshold or window that both the Python API and the CLI use is defined here once, so the
two can never disagree (the pattern of spotify/basic-pitch's ``constants.py``).
"""

from __future__ import annotations

#: The 11 drum components of DrummerNet (Choi & Cho, ISMIR 2019), in model output order.
COMPONENTS: tuple[str, ...] = (
    "KD",  # kick drum
    "SD",  # snare drum
    "HH_CHH",  # closed hi-hat
    "HH_PHH",  # pedal hi-hat
    "HH_OHH",  # open hi-hat
    "TT_HIT",  # high tom
    "TT_MHT",  # mid tom
    "TT_HFT",  # high floor tom
    "CY_RDC",  # ride cymbal
    "CY_CRC",  # crash cymbal
    "OT_TMB",  # tambourine
)

#: General MIDI drum note written for each component.
GM_NOTES: dict[str, int] = {
    "KD": 36,
    "SD": 38,
    "HH_CHH": 42,
    "HH_PHH": 44,
    "HH_OHH": 46,
    "TT_HIT": 50,
    "TT_MHT": 47,
    "TT_HFT": 43,
    "CY_RDC": 51,
    "CY_CRC": 49,
    "OT_TMB": 54,
}

#: Human-readable component names, for printed output.
COMPONENT_NAMES: dict[str, str] = {
    "KD": "kick",
    "SD": "snare",
    "HH_CHH": "closed hi-hat",
    "HH_PHH": "pedal hi-hat",
    "HH_OHH": "open hi-hat",
    "TT_HIT": "high tom",
    "TT_MHT": "mid tom",
    "TT_HFT": "floor tom",
    "CY_RDC": "ride",
    "CY_CRC": "crash",
    "OT_TMB": "tambourine",
}

#: Evaluation classes of the standard 3-class task, as General MIDI note sets.
EVAL_CLASSES: dict[str, tuple[int, ...]] = {
    "KD": (35, 36),
    "SD": (37, 38, 40),
    "HH": (42, 44, 46),
}

#: Coarse class (the MDB Drums "class" labels) of every General MIDI drum note we map.
GM_TO_CLASS: dict[int, str] = {
    35: "KD", 36: "KD",
    37: "SD", 38: "SD", 40: "SD",
    42: "HH", 44: "HH", 46: "HH",
    41: "TT", 43: "TT", 45: "TT", 47: "TT", 48: "TT", 50: "TT", 58: "TT",
    49: "CY", 51: "CY", 52: "CY", 53: "CY", 55: "CY", 57: "CY", 59: "CY",
    54: "OT", 56: "OT", 39: "OT", 60: "OT", 61: "OT", 62: "OT", 63: "OT", 64: "OT",
    65: "OT", 66: "OT", 67: "OT", 68: "OT", 69: "OT", 70: "OT", 75: "OT", 76: "OT", 77: "OT",
}  # fmt: skip

#: Sample rate the model works at (the paper used 16 kHz mono).
SAMPLE_RATE = 16000

#: Default evaluation tolerance for onsets, in seconds.
DEFAULT_ONSET_WINDOW = 0.05
