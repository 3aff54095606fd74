"""The errors drummernet raises for things a user can fix, and the warning it gives.

Every user-facing error derives from :class:`DrummerNetError`, and ``str(error)`` is one line that
says what is wrong; the CLI prints it as ``drummernet: error: ...`` and exits non-zero. The
subclasses for bad inputs also derive from ``ValueError``, as they did before the common base
existed; the ones for outputs that cannot be written derive from ``OSError``.
"""

from __future__ import annotations


class DrummerNetError(Exception):
    """Base of every user-facing error. ``str(error)`` is a one-line message for the user."""


class AudioError(DrummerNetError, ValueError):
    """An input that is not usable audio."""


class KitError(DrummerNetError, ValueError):
    """A drum kit that cannot be loaded."""


class ModelLoadError(DrummerNetError, ValueError):
    """A model file that is missing, foreign, corrupt or incompatible."""


class DatasetError(DrummerNetError, ValueError):
    """A dataset folder or annotation that cannot be read."""


class NoAudioError(DrummerNetError, ValueError):
    """No usable training audio was found."""


class MidiError(DrummerNetError, ValueError):
    """A file that is not a readable MIDI file."""


class ConfigError(DrummerNetError, ValueError):
    """A training config (file, override or value) that cannot be used."""


class OutputError(DrummerNetError, OSError):
    """An output file that cannot be written: its folder is not writable, or the disk is full."""


class OutputExistsError(OutputError, FileExistsError):
    """An output file that exists, where replacing it was not asked for."""


class SeparatorError(DrummerNetError, RuntimeError):
    """An external source separator (demucs) that is not installed or has no cached weights."""


class DrummerNetWarning(UserWarning):
    """Something the user should know about a result: silent or band-limited input, a note
    setting out of range. The CLI prints these as ``drummernet: warning: ...``."""
