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

#: Coarse drum classes (the MDB Drums "class" labels): kick, snare, hi-hat, toms, cymbals, other.
COARSE_CLASSES: tuple[str, ...] = ("KD", "SD", "HH", "TT", "CY", "OT")

#: Classes scored by default: kick, snare, hi-hat, toms, cymbals (other percussion is not scored).
SCORED_CLASSES: tuple[str, ...] = ("KD", "SD", "HH", "TT", "CY")

#: Classes of the standard 3-class task, whose mean is the figure most published systems report.
CORE_CLASSES: tuple[str, ...] = ("KD", "SD", "HH")

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

#: General MIDI drum notes -> component (the Groove MIDI Dataset's Roland mapping: 22/26 are
#: hi-hat edge hits, 58 the floor-tom rim, 55/52 splash and China as crashes).
GM_TO_COMPONENT: dict[int, str] = {
    35: "KD", 36: "KD",
    37: "SD", 38: "SD", 40: "SD",  # side stick, head, rim
    42: "HH_CHH", 22: "HH_CHH",  # closed bow, closed edge
    44: "HH_PHH",
    46: "HH_OHH", 26: "HH_OHH",  # open bow, open edge
    48: "TT_HIT", 50: "TT_HIT",
    45: "TT_MHT", 47: "TT_MHT",
    41: "TT_HFT", 43: "TT_HFT", 58: "TT_HFT",
    51: "CY_RDC", 53: "CY_RDC", 59: "CY_RDC",  # bow, bell, edge
    49: "CY_CRC", 57: "CY_CRC", 55: "CY_CRC", 52: "CY_CRC",
    54: "OT_TMB",
}  # fmt: skip

#: General MIDI drum notes -> component, for rendering synthetic training audio: every note of
#: :data:`GM_TO_COMPONENT`, plus percussion with no component of its own (clap, cowbell, cabasa,
#: maracas), rendered as the tambourine, the one "other". Notes not listed are dropped.
GM_TO_RENDERED_COMPONENT: dict[int, str] = {
    **GM_TO_COMPONENT,
    39: "OT_TMB", 56: "OT_TMB", 69: "OT_TMB", 70: "OT_TMB",  # clap, cowbell, cabasa, maracas
}  # fmt: skip

#: Extra voices: further one-shots of a component, each a row of the analyzer's output and of the
#: synthesizer's kernel, with the General MIDI note it is rendered from. A voice-aware model
#: (``AnalyzerConfig.components`` listing some of these codes) explains a side-stick click with
#: the snare's side-stick voice instead of the closed hi-hat, and a China with a crash voice;
#: transcription sums every voice's impulses into its component before reading notes.
VOICES: dict[str, tuple[str, int]] = {
    "SD_XS": ("SD", 37),  # side stick (cross-stick)
    "SD_RIM": ("SD", 40),  # GM electric snare; the rim shot in the Groove MIDI mapping
    "CY_RDB": ("CY_RDC", 53),  # ride bell
    "CY_CR2": ("CY_CRC", 57),  # second crash
    "CY_SPL": ("CY_CRC", 55),  # splash
    "CY_CHN": ("CY_CRC", 52),  # China
}

#: Room voices: each component's main one-shot heard through a fixed room (a synthetic impulse
#: response of :data:`ROOM_RT60` seconds, made with seed :data:`ROOM_SEED`), derived when a kit
#: is loaded into the synthesizer. The shipped one-shots are dry, while real recordings carry
#: the room (and overhead microphones) in every hit; a dry synthesizer can only paint a snare's
#: ringing room with hi-hat strokes. With a dry and a room voice per drum, the analyzer can mix
#: the two per hit.
ROOM_VOICES: dict[str, str] = {f"{code}_ROOM": code for code in COMPONENTS}
ROOM_RT60 = 0.4
ROOM_SEED = 2019

#: Bright voices: the main one-shot of the kick and snare above :data:`BRIGHT_CUTOFF_HZ`, derived
#: on load like the room voices. A real snare's wires and a kick's beater click are often far
#: brighter than a kit's one-shot; a synthesizer without a brighter snare can only add that
#: energy with hi-hat strokes, and every snare then reads as a snare plus a hi-hat.
BRIGHT_VOICES: dict[str, str] = {"KD_HF": "KD", "SD_HF": "SD"}
BRIGHT_CUTOFF_HZ = 2000.0

#: Every code that can name a one-shot or an analyzer row: the components, the extra voices, then
#: the derived room and bright voices.
VOICE_CODES: tuple[str, ...] = (
    COMPONENTS + tuple(VOICES) + tuple(ROOM_VOICES) + tuple(BRIGHT_VOICES)
)


def component_class(code: str) -> str:
    """The coarse class of a component or voice code: its prefix (``"HH"`` for ``"HH_OHH"``,
    ``"SD"`` for ``"SD_XS"``)."""
    return code.split("_")[0]


def voice_component(code: str) -> str:
    """The component a voice code belongs to (a component code is its own voice)."""
    if code in ROOM_VOICES:
        return ROOM_VOICES[code]
    if code in BRIGHT_VOICES:
        return BRIGHT_VOICES[code]
    return VOICES[code][0] if code in VOICES else code


#: General MIDI drum notes -> the voice that renders them in synthetic training audio (a note
#: without a voice of its own uses its component's main one-shot).
GM_TO_VOICE: dict[int, str] = {
    **GM_TO_COMPONENT,
    **{note: code for code, (_, note) in VOICES.items()},
}

#: Built-in kit of the synthesizer: the first of its training pool, used alone when resynthesising
#: and when no kit is named.
DEFAULT_KIT = "fluidr3_standard"

#: Sample rate the model works at (the paper used 16 kHz mono).
SAMPLE_RATE = 16000

#: Default evaluation tolerance for onsets, in seconds.
DEFAULT_ONSET_WINDOW = 0.05

#: Where ``drummernet serve`` listens: this computer only, unless another host is asked for.
DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = 8000

#: Largest upload the web page accepts, in MB (an hour of 48 kHz 24-bit stereo WAV is 1 GB).
DEFAULT_MAX_UPLOAD_MB = 2048

# --------------------------------------------------------------------------------------------
# Transcription (impulses -> notes) and inference defaults, shared by ``drummernet.transcribe``
# and ``drummernet transcribe``.

#: Activations (the analyzer's impulse amplitudes) below this never become a note. An impulse of
#: amplitude ``a`` adds the component's one-shot scaled by ``a`` to a recording normalised to
#: :data:`DEFAULT_TARGET_RMS`; 0.02 is a one-shot about 34 dB below full scale.
DEFAULT_THRESHOLD = 0.02

#: Two onsets of one component closer than this (seconds) are one stroke: the weaker is dropped.
#: Also the window within which the hi-hat components exclude each other.
DEFAULT_MIN_GAP = 0.03

#: Relative threshold: a hit must also reach this fraction of its component's strong hits in the
#: same recording (the 95th percentile of its candidate strengths; at least
#: :data:`RELATIVE_MIN_CANDIDATES` of them). Loudness balance differs between recordings and
#: between our one-shots and real kits, so a fixed threshold alone either drops soft drums or
#: keeps the faint echoes of loud ones; the band-wise baseline normalises each band the same way.
#: This is the value for a model file that stores none: ``python -m experiments.calibrate`` stores
#: a fraction per drum class (``extra["relative_threshold"]``), since drums differ (hi-hats are
#: played with a wide range of accents, kicks rarely), and ``transcribe`` uses those by default.
DEFAULT_RELATIVE_THRESHOLD = 0.3
RELATIVE_QUANTILE = 0.95
RELATIVE_MIN_CANDIDATES = 4

#: Decay masking (seconds): after a hit of strength A, a later hit of the same component counts
#: only if it is stronger than ``A * exp(-dt / DEFAULT_DECAY_MASK)``. The synthesizer's one-shots
#: ring shorter than real drums in a room, so the analyzer re-fires a component to fill the tail
#: of a loud hit (one impulse per 40 ms window); those echoes decay, a new stroke does not. A
#: 60 ms constant passes a stroke of equal strength 30 ms later and any 16th note at 120 bpm
#: that is at least 12% of the previous one.
DEFAULT_DECAY_MASK = 0.06

#: Onset contrast: a hit must be at least this many times the component's recent level, the mean
#: impulse mass per analysis window over the preceding :data:`DEFAULT_CONTRAST_WINDOW` seconds
#: (0 disables). The time-wise sparsemax gives every active component one impulse per 40 ms
#: window, so a sustained sound (a crash's wash, a ringing snare) shows as a run of equal impulses;
#: an onset is an impulse that rises above that run. 1.0 is the parameter-free choice ("louder than
#: what came just before"; its calibration: ``docs/notebook.md``, "Note reading").
DEFAULT_ONSET_CONTRAST = 1.0

#: Seconds before a hit over which :data:`DEFAULT_ONSET_CONTRAST` measures the recent level: three
#: analysis windows (a whole number of them, so the level counts whole impulses).
DEFAULT_CONTRAST_WINDOW = 0.12

#: Seconds of impulse mass per analysis window of the shipped analyzer (8 frames of 5 ms): the unit
#: of the recent level. Models pass their own (``DrummerNet.window_seconds``).
DEFAULT_ANALYSIS_WINDOW = 0.04

#: Velocity mapping: an impulse of this amplitude (in the normalised recording) is velocity
#: 127, and ``velocity = 127 * (amplitude / DEFAULT_REFERENCE_AMPLITUDE) ** (1 / gamma)``.
DEFAULT_REFERENCE_AMPLITUDE = 0.5

#: ... with this gamma: amplitude grows as velocity squared (Dannenberg, "The Interpretation of
#: MIDI Velocity", ICMC 2006), the response ``drummernet.training.render.render`` uses without
#: augmentation, so a rendered velocity is read back as itself.
DEFAULT_VELOCITY_GAMMA = 2.0

#: Components that one instrument plays, so only one can sound at a time: hits of a group within
#: :data:`DEFAULT_MIN_GAP` keep only the strongest (a hi-hat is closed, pedalled or open).
#: A drummer strikes one tom at a time, so one stroke is one tom note, not two.
DEFAULT_EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("HH_CHH", "HH_PHH", "HH_OHH"),
    ("TT_HIT", "TT_MHT", "TT_HFT"),
)

#: Whether :func:`~drummernet.transcribe` adapts by default
#: (:mod:`drummernet.transcription.adapt`). It does: on the 4 dev tracks and
#: both held-out synthetic sets, adaptation with tom masking keeps the kick, snare and hi-hat
#: notes as they are, finds more toms with far fewer phantom ones, and writes crash and ride
#: notes (``MODEL.md``), at about 55x real time on 2 cores; ``adapt=False`` (``--no-adapt``)
#: is the analyzer alone, about 4x faster.
DEFAULT_ADAPT = True

#: The classes whose hits can mask a tom hit (see :data:`DEFAULT_TOM_MASKING`).
TOM_MASKERS: tuple[str, ...] = ("SD",)

#: Tom masking: a tom hit within :data:`DEFAULT_MIN_GAP` of a snare hit at least this many
#: times as strong is dropped (0: never). The analyzer writes a tom under many snare strokes, to
#: paint the body that the kit's snare one-shots lack; a real tom struck with the snare is rare.
#: Models store their calibrated ratio (``extra["tom_masking"]``, ``extra["adapt_tom_masking"]``
#: for adapted activations, chosen by ``experiments.calibrate``); this default is off.
DEFAULT_TOM_MASKING = 0.0

#: Length of every written MIDI note, in seconds (drum notes have no meaningful offset).
DEFAULT_NOTE_DURATION = 0.1

#: Whole recordings are scaled to this RMS before analysis: the level unlabeled training crops
#: are normalised to (``drummernet.training.unlabeled.normalize_loudness``).
DEFAULT_TARGET_RMS = 0.1

#: An unlabeled training crop whose RMS is below this (about -50 dBFS) is silence, and is redrawn.
TRAINING_CROP_SILENCE_RMS = 0.003

#: Loudness is measured over blocks of this many seconds (the training crop length) ...
DEFAULT_LOUDNESS_BLOCK_SECONDS = 2.0

#: ... ignoring blocks more than this many dB below the whole file's mean square, so that long
#: silences (a stem that rests) don't make the played parts louder than in training.
DEFAULT_LOUDNESS_GATE_DB = 20.0

#: A recording whose RMS is below this (-80 dBFS) is silence: no analysis, no notes, a warning.
DEFAULT_SILENCE_RMS = 1e-4

#: A one-shot whose peak is below this (about -80 dBFS) is silent: a kit refuses it.
ONE_SHOT_SILENCE_PEAK = 1e-4

#: Audio shorter than this (seconds) is refused.
MIN_AUDIO_SECONDS = 0.05

#: Sample rates outside this range (Hz) are refused, in files and arrays alike: a header claiming
#: 1 Hz would otherwise ask the resampler for days of audio per second of file.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000

#: Long recordings are analysed in chunks of this many seconds ...
DEFAULT_CHUNK_SECONDS = 6.0

#: ... each with this much context (seconds) on both sides, analysed and then discarded: the
#: analyzer's GRU sees its whole input, and what it needs of that is the last second or so.
DEFAULT_OVERLAP_SECONDS = 1.0

#: Chunks analysed per forward pass.
DEFAULT_BATCH_SIZE = 16

# --------------------------------------------------------------------------------------------
# Full mixes (``drummernet.transcription.source`` and ``.separation``), shared by
# ``drummernet.transcribe(source=..., separate=...)`` and ``drummernet transcribe --source
# --separate``.

#: What an input is: ``"drums"`` (a drum stem, analysed as it is), ``"mix"`` (a full song: the
#: drums are brought forward first) or ``"auto"`` (decided from the audio), the default.
SOURCES: tuple[str, ...] = ("auto", "drums", "mix")
DEFAULT_SOURCE = "auto"

#: How the drums of a mix are brought forward: ``"hpss"`` (built in, the default) or ``"demucs"``
#: (the ``demucs`` package's drum source, if it is installed with its weights cached).
SEPARATORS: tuple[str, ...] = ("hpss", "demucs")
DEFAULT_SEPARATOR = "hpss"

#: The demucs model ``separate="demucs"`` uses.
DEFAULT_DEMUCS_MODEL = "htdemucs"

#: HPSS of a mix: a time-frequency bin is kept when its percussive estimate (a median over
#: :data:`DEFAULT_HPSS_FREQ_KERNEL_HZ`) is well above its harmonic one (a median over
#: :data:`DEFAULT_HPSS_TIME_KERNEL_SECONDS`), with the soft mask ``P^2 / (P^2 + (margin H)^2)``.
#: A margin of 1 splits the energy between the two; higher removes more of the band and more
#: of the drums' ringing.
DEFAULT_HPSS_MARGIN = 3.0

#: ... the harmonic median's length: a held note is longer than half of it, a drum's body
#: (a kick's or tom's ring, 0.1-0.4 s) shorter, so the drums stay whole.
DEFAULT_HPSS_TIME_KERNEL_SECONDS = 1.0

#: ... the percussive median's width: a stroke is broadband over it, a note's partial is not.
DEFAULT_HPSS_FREQ_KERNEL_HZ = 480.0

#: ... the STFT: a window of about this many seconds (a power of two in samples: 1024 at the
#: model's 16 kHz), hopped by this fraction of it.
DEFAULT_HPSS_FFT_SECONDS = 0.064
DEFAULT_HPSS_HOP_FRACTION = 0.25

#: Input detection: a recording is a mix when its pitch-class content keeps changing (chords,
#: a bass line, a melody), which drums alone don't do: their tuned sounds repeat. The score
#: (:func:`drummernet.transcription.source.pitch_change`) is measured on an excerpt of at most
#: :data:`DEFAULT_DETECT_SECONDS`, in :data:`DEFAULT_DETECT_PIECES` pieces spread over the file.
#: 0.07 lies between the highest real drum recording measured (0.043, a jazz ride loop) and the
#: lowest real mix (0.095), a little nearer the mixes: forcing the mix front end on a stem costs
#: more than missing it on a mix whose band is that faint.
DEFAULT_MIX_THRESHOLD = 0.07
DEFAULT_DETECT_SECONDS = 24.0
DEFAULT_DETECT_PIECES = 4

#: ... compared over blocks of this many seconds, each with the block two later.
DEFAULT_DETECT_BLOCK_SECONDS = 1.0

#: Output formats of ``drummernet transcribe`` and the default one.
OUTPUT_FORMATS: tuple[str, ...] = ("mid", "json", "csv", "wav", "musicxml", "svg", "pdf")
DEFAULT_FORMATS: tuple[str, ...] = ("mid",)

# --------------------------------------------------------------------------------------------
# Sample organiser (``drummernet.samples``), shared by ``drummernet.classify_samples`` and
# ``drummernet samples`` / ``drummernet kit build``.

#: The classes a one-shot is sorted into; "other" is any other percussion or non-drum sound, and
#: any file that is not one hit (a loop, a song, speech).
SAMPLE_CLASSES: tuple[str, ...] = ("kick", "snare", "hihat", "tom", "cymbal", "other")

#: Sample class of each component class (:func:`component_class`).
SAMPLE_CLASS_OF: dict[str, str] = {
    "KD": "kick", "SD": "snare", "HH": "hihat", "TT": "tom", "CY": "cymbal", "OT": "other",
}  # fmt: skip

#: Only the first this many seconds of a file are decoded: a one-shot is judged by its start, and
#: a folder may hold hour-long recordings.
SAMPLE_EXCERPT_SECONDS = 4.0

#: A file longer than this (seconds) is not a one-shot, whatever its start sounds like.
MAX_ONE_SHOT_SECONDS = 12.0

# --------------------------------------------------------------------------------------------
# Beats and charts (``drummernet.notation``), shared by ``drummernet.notation.to_chart`` and
# ``drummernet transcribe --format musicxml,svg,pdf --quantize``.

#: How much each drum class counts in the onset envelope beats are tracked on (times the hit's
#: velocity): kick, snare and hi-hat keep time; toms mostly play fills (often syncopated, and
#: the analyzer's toms echo snare hits), cymbals mix the ride's time with the crash's accents.
#: With the hi-hat at half weight, a kick pattern in dotted 8ths read 120 bpm as 80.
DEFAULT_BEAT_WEIGHTS: dict[str, float] = {
    "KD": 1.0, "SD": 1.0, "HH": 1.0, "TT": 0.25, "CY": 0.75, "OT": 0.25,
}  # fmt: skip

#: Beat tracking's tightness: how strongly the dynamic programme keeps beats one period apart
#: (librosa's default; higher follows tempo changes less).
DEFAULT_BEAT_TIGHTNESS = 100.0

#: Half-beat ambiguity: when the grid shifted by half a beat explains the hits at least this
#: fraction as well as the tracked one (a syncopated groove), the grid that puts the first hit
#: on a beat wins, since a recording most often starts on one.
DEFAULT_PHASE_AMBIGUITY = 0.75

#: A grid with the snare (or kick) on every beat and the other between beats (a rock beat
#: counted at half its tempo) is tracked again at twice its tempo, if that is at most this (bpm).
DEFAULT_MAX_DOUBLED_TEMPO = 200.0

#: A steady beat needs at least this many beats ...
DEFAULT_MIN_BEATS = 8

#: ... and this pulse clarity: the autocorrelation of the hits' onset envelope one beat apart,
#: over its value at no lag (1: every beat alike). Random hits score below 0.17, rubato lower
#: the more it drifts; the dev tracks score 0.39 to 0.77, a groove with 20 ms human timing 0.36.
DEFAULT_MIN_PULSE_CLARITY = 0.25

#: A tempo change is reported (a new tempo mark, a ``tempo_changes`` entry) where the tempo over
#: a bar differs from the last one reported by more than this fraction.
DEFAULT_TEMPO_CHANGE = 0.05

#: Subdivisions of a beat that notes are quantised to: straight 16ths and 8th-note triplets.
DEFAULT_SUBDIVISIONS: tuple[int, ...] = (4, 3)

#: Swing: a piece whose off-beat 8ths sit, by median, at least this far into their beat (0.5 is
#: straight, 2/3 a triplet shuffle) is swung; its 8ths are written straight under a "Swing" mark.
DEFAULT_SWING_RATIO = 0.58

#: A hit softer than this fraction of its drum's median velocity is a ghost note (in brackets).
DEFAULT_GHOST_VELOCITY = 0.5

#: A hit of a drum at most this many seconds before a louder hit of the same drum that lands on
#: the same grid slot is a flam: a grace note before it.
DEFAULT_FLAM_GAP = 0.07

#: Bars per line of a chart.
DEFAULT_BARS_PER_SYSTEM = 4
