"""Jobs of the web app: one per upload, each in a temporary folder of its own.

A job is named by a random id that only the uploading page learns, so concurrent uploads never
see each other's results. Its folder is made by the server under one root that is removed when
the server stops; nothing the client sends (file names included) becomes a path. Transcriptions
run one at a time on a single worker thread (:class:`JobRunner`), so the server's memory is that
of one transcription however many files are dropped at once.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from drummernet.audio import AUDIO_EXTENSIONS
from drummernet.errors import DrummerNetError
from drummernet.model.network import DrummerNet
from drummernet.transcription.inference import (
    load_model,
    model_relative_threshold,
    model_threshold,
    model_tom_masking,
    transcribe,
)
from drummernet.transcription.result import Transcription
from drummernet.web.reading import ModelDefaults, NoteSettings, reread

log = logging.getLogger("drummernet")

T = TypeVar("T")

#: Media type of the original recording, by file suffix (for playback in the page).
MEDIA_TYPES: dict[str, str] = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
}

#: Values of ``transcribe(source=...)`` (full-mix mode), offered when ``transcribe`` takes it.
SOURCE_MODES: tuple[str, ...] = ("auto", "drums", "mix")


def source_modes() -> list[str]:
    """The input modes to offer: :data:`SOURCE_MODES` once
    :func:`~drummernet.transcription.inference.transcribe` has a ``source`` argument (full-mix
    mode), else none."""
    return list(SOURCE_MODES) if "source" in inspect.signature(transcribe).parameters else []


def display_name(name: str, limit: int = 120) -> str:
    """A client's file name made safe to show and to offer as a download name: its last path
    part, printable characters only, at most ``limit`` long. Never used as a server path."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = name.strip(" .")[:limit]
    return name or "recording"


# --------------------------------------------------------------------------------------------
# Models


class Models:
    """The models the page may choose from, by name, each loaded on first use and kept.

    Args:
        files: name -> model file or run folder, or ``None`` for the shipped model; the first
            is the default. Only these can be used: the page sends a name, never a path.
    """

    def __init__(self, files: Mapping[str, str | os.PathLike | None]) -> None:
        if not files:
            raise ValueError("at least one model is needed")
        self.files = dict(files)
        self._loaded: dict[str, DrummerNet] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.files)

    @property
    def default(self) -> str:
        return next(iter(self.files))

    def load(self, name: str) -> DrummerNet:
        """The model called ``name`` (loaded without its kit: transcription never plays it).

        Raises:
            KeyError: no such name.
            ModelLoadError: the file is not a usable model.
        """
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load_model(self.files[name], load_kit=False)
            return self._loaded[name]


# --------------------------------------------------------------------------------------------
# Jobs


@dataclass(eq=False)
class Job:
    """One uploaded recording and its transcription.

    Attributes:
        id: random, URL-safe; the only handle the client has.
        name: the client's file name, for display and download names only (:func:`display_name`).
        folder: the job's own temporary folder, made by the server.
        model: name of the model (a key of :class:`Models`).
        options: further ``transcribe`` arguments chosen on the page (``source``, ``adapt``).
        state: ``"uploading"``, ``"queued"``, ``"running"``, ``"done"``, ``"error"`` or
            ``"removed"``.
    """

    id: str
    name: str
    folder: Path
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    state: str = "uploading"
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    audio_seconds: float = 0.0
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    result: Transcription | None = None
    defaults: ModelDefaults | None = None
    _read: tuple[NoteSettings, Transcription] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def input_path(self) -> Path:
        """Where the upload is stored: ``input`` plus the name's suffix when it is an audio one
        (some decoders go by it)."""
        suffix = Path(self.name).suffix.lower()
        return self.folder / f"input{suffix if suffix in AUDIO_EXTENSIONS else ''}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.input_path.suffix, "application/octet-stream")

    def tell(self, message: str) -> str:
        """``message`` with the server's paths replaced by the client's file name."""
        return message.replace(str(self.input_path), self.name).replace(str(self.folder), "")

    def status(self) -> dict[str, Any]:
        """The job's state as the page polls it."""
        now = time.monotonic()
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model,
            "state": self.state,
            "error": self.error,
            "warnings": self.warnings,
            "audio_seconds": round(self.audio_seconds, 3),
            "elapsed": round((self.finished or now) - (self.started or now), 3),
            "notes": len(self.result) if self.result is not None else None,
        }

    def notes(self, settings: NoteSettings) -> Transcription:
        """The transcription read with ``settings`` (the last reading is kept, so a download
        right after a change of the controls costs nothing).

        Raises:
            RuntimeError: the job is not done.
        """
        if self.result is None or self.defaults is None:
            raise RuntimeError(f"job {self.id} is {self.state}")
        with self._lock:
            if self._read is None or self._read[0] != settings:
                self._read = (settings, reread(self.result, self.defaults, settings))
            return self._read[1]


class JobStore:
    """The jobs of one server, each in a folder under one temporary root.

    Args:
        max_jobs: jobs kept; beyond it the oldest finished ones are removed (their files too).
    """

    def __init__(self, max_jobs: int = 16) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="drummernet-web-"))
        self.max_jobs = max_jobs
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(self, name: str, model: str, options: Mapping[str, Any] | None = None) -> Job:
        """A new job with a fresh id and an empty folder of its own."""
        with self._lock:
            job_id = secrets.token_urlsafe(16)
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=self.root))
            job = Job(job_id, display_name(name), folder, model, dict(options or {}))
            self._jobs[job_id] = job
            self._evict()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def remove(self, job_id: str) -> bool:
        """Forget a job and delete its folder; ``False`` if there was no such job."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return False
        job.state = "removed"  # a queued job is then skipped (see run_job)
        shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def __len__(self) -> int:
        return len(self._jobs)

    def _evict(self) -> None:
        excess = len(self._jobs) - self.max_jobs
        finished = [j for j in self._jobs.values() if j.state in ("done", "error")]
        for job in sorted(finished, key=lambda j: j.created)[: max(0, excess)]:
            del self._jobs[job.id]
            shutil.rmtree(job.folder, ignore_errors=True)

    def close(self) -> None:
        """Forget every job and remove the root folder with everything in it."""
        with self._lock:
            self._jobs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Running


class JobRunner:
    """One worker thread for the heavy work (transcriptions, WAV renders), in arrival order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="drummernet-job")

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def run_job(job: Job, models: Models) -> None:
    """Transcribe ``job``'s upload, leaving the result or a one-line error on the job."""
    if job.state != "queued":  # removed or failed while waiting
        return
    job.state, job.started = "running", time.monotonic()
    try:
        net = models.load(job.model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = transcribe(job.input_path, model=net, **job.options)
        adapted, narrow = result.adaptation is not None, result.adaptation == "narrow"
        job.defaults = ModelDefaults(
            model_threshold(net),
            model_relative_threshold(net, adapted=adapted, narrow=narrow),
            net.window_seconds,
            model_tom_masking(net, adapted=adapted, narrow=narrow),
        )
        job.warnings = [job.tell(str(item.message)) for item in caught]
        job.result = dataclasses.replace(result, source=job.name)  # never the server's path
        job._read = (NoteSettings(), job.result)  # the page's first reading: no need to redo it
        job.state = "done"
    except DrummerNetError as error:
        job.error, job.state = job.tell(str(error)).splitlines()[0], "error"
    except MemoryError:
        job.error, job.state = "out of memory while transcribing this file", "error"
    except Exception as error:  # the page gets a line, the server log the traceback
        log.exception("transcribing %s failed", job.name)
        job.error, job.state = f"unexpected {type(error).__name__}: {job.tell(str(error))}", "error"
    finally:
        job.finished = time.monotonic()
