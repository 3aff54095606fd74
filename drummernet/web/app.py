"""The web app: the HTTP API behind the page, and the page itself (``static/``).

============================================  ===============================================
``GET  /``                                    the page
``GET  /api/info``                            models, kits, formats, the upload limit
``POST /api/jobs?name=&model=[&source=][&adapt=0|1]``  the recording as the raw body -> a job
``GET  /api/jobs/{id}``                       the job's state (polled while it transcribes)
``GET  /api/jobs/{id}/notes?<reading>``       the notes, re-read with the page's settings
``GET  /api/jobs/{id}/audio``                 the original recording, for playback
``GET  /api/jobs/{id}/download/{fmt}?...``    mid, json, csv, wav (``&kit=``), chart formats
``GET  /api/jobs/{id}/chart.svg?<reading>``   the chart view (when notation is installed)
``DELETE /api/jobs/{id}``                     forget the job, delete its files
``GET  /api/kits/{kit}/{component}``          a built-in kit's one-shot, for playback
============================================  ===============================================

``<reading>`` is :meth:`~drummernet.web.reading.NoteSettings.from_query`. The client never names
a file or folder: jobs are found by id, kits and models by name among those listed, and the
upload is streamed to a file the server names, so a request can neither read nor write
anywhere else. Requests from other sites are kept out by :mod:`drummernet.web.security`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from drummernet import __version__
from drummernet.audio import AUDIO_EXTENSIONS, audio_info
from drummernet.constants import (
    COMPONENT_NAMES,
    COMPONENTS,
    DEFAULT_KIT,
    DEFAULT_MAX_UPLOAD_MB,
    SAMPLE_RATE,
)
from drummernet.errors import AudioError, DrummerNetError
from drummernet.model.kits import DrumKit, list_kits
from drummernet.transcription.events import velocity_to_amplitude
from drummernet.transcription.result import Transcription
from drummernet.web.charts import CHART_FORMATS, chart_formats, render_chart
from drummernet.web.jobs import Job, JobRunner, JobStore, Models, run_job, source_modes
from drummernet.web.reading import NoteSettings, class_defaults, drum_classes
from drummernet.web.security import CSRF_HEADER, attachment, from_the_page, middleware

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: The note-reading options the page shows as numbers, with their defaults.
DEFAULT_READING = NoteSettings()
READING_OPTIONS: tuple[str, ...] = ("onset_contrast", "decay_mask", "min_gap")

#: Sample rate of the one-shots the page plays and of WAV downloads (the built-in kits' own).
PLAYBACK_RATE = 44100

#: WAV downloads of recordings longer than this (seconds) are rendered at the model's rate
#: instead: the render is held in memory whole, and an hour at 44.1 kHz would take 1.3 GB.
LONG_RENDER_SECONDS = 20 * 60

#: Note exports, each with its media type; chart formats join them when available.
NOTE_FORMATS: dict[str, str] = {
    "mid": "audio/midi",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "wav": "audio/wav",
}

#: Charts kept, per job and reading: the page asks again for the one it shows with each download.
CHART_CACHE = 8


@dataclass(frozen=True)
class WebConfig:
    """Settings of one web app.

    Attributes:
        models: name -> model file or run folder (``None``: the shipped model); the first is the
            default. The page chooses among these names only.
        max_upload_bytes: larger uploads are refused (413) before anything is stored.
        allowed_hosts: host names requests may be addressed to; ``None`` allows any.
        max_jobs: finished jobs kept (the oldest are removed beyond it).
        preload: load the default model when the server starts, so the first drop is fast.
    """

    models: Mapping[str, str | Path | None] = field(default_factory=lambda: {"default": None})
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20
    allowed_hosts: tuple[str, ...] | None = None
    max_jobs: int = 16
    preload: bool = False


class _UploadTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(config: WebConfig | None = None) -> Starlette:
    """The web app (an ASGI application) for ``config``.

    Its jobs (``app.state.jobs``, a :class:`~drummernet.web.jobs.JobStore` while the app runs)
    live in a temporary folder that is removed when the app shuts down (the lifespan's end:
    uvicorn's exit, or leaving a ``TestClient`` block).
    """
    config = config or WebConfig()
    models = Models(config.models)
    kits = list_kits()
    state: dict[str, Any] = {}
    shots: dict[tuple[str, str], bytes] = {}
    charts: OrderedDict[tuple[str, NoteSettings, str], bytes] = OrderedDict()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["store"] = app.state.jobs = JobStore(config.max_jobs)
        state["runner"] = JobRunner()
        state["charts"] = JobRunner()  # charts apart: a slow chart never delays a transcription
        if config.preload:
            state["runner"].submit(_preload, models)
        try:
            yield
        finally:
            state["runner"].close()
            state["charts"].close()
            state["store"].close()

    def store() -> JobStore:
        return state["store"]

    def runner() -> JobRunner:
        return state["runner"]

    def find(request: Request) -> Job | None:
        return store().get(request.path_params["job"])

    def formats() -> list[str]:
        return [*NOTE_FORMATS, *chart_formats()]

    # ------------------------------------------------------------------------------ pages

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "version": __version__,
                "models": models.names,
                "default_model": models.default,
                "kits": kits,
                "default_kit": DEFAULT_KIT if DEFAULT_KIT in kits else kits[0],
                "max_upload_bytes": config.max_upload_bytes,
                "extensions": list(AUDIO_EXTENSIONS),
                "formats": formats(),
                "chart_formats": chart_formats(),
                "source_modes": source_modes(),
            }
        )

    # ----------------------------------------------------------------------------- upload

    async def create_job(request: Request) -> Response:
        if not from_the_page(request):
            return _error(403, f"missing header {CSRF_HEADER}")
        params = request.query_params
        model = params.get("model") or models.default
        if model not in models.files:
            return _error(400, f"unknown model {model[:60]!r}")
        options: dict[str, Any] = {}
        source = params.get("source")
        if source:
            if source not in source_modes():
                return _error(400, f"unknown input mode {source[:20]!r}")
            options["source"] = source
        adapt = params.get("adapt")
        if adapt:
            if adapt not in ("0", "1"):
                return _error(400, f"adapt must be 0 or 1, not {adapt[:20]!r}")
            options["adapt"] = adapt == "1"
        limit = config.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, f"file is larger than the {limit / 2**20:g} MB upload limit")

        job = store().create(params.get("name", ""), model, options)
        try:
            size = 0
            with open(job.input_path, "wb") as file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise _UploadTooLarge
                    file.write(chunk)
            if size == 0:
                store().remove(job.id)
                return _error(400, f"{job.name}: file is empty (0 bytes)")
            info = await run_in_threadpool(audio_info, job.input_path)
        except _UploadTooLarge:
            store().remove(job.id)
            return _error(413, f"file is larger than the {limit / 2**20:g} MB upload limit")
        except AudioError as error:
            store().remove(job.id)
            return _error(415, job.tell(str(error)))
        except ClientDisconnect:  # the page went away mid-upload: nobody reads an answer
            store().remove(job.id)
            return Response(status_code=400)
        except asyncio.CancelledError:
            store().remove(job.id)
            raise
        except OSError as error:  # the server's disk is full or its temporary folder went away
            store().remove(job.id)
            return _error(507, f"{job.name}: cannot store the upload ({error.strerror})")
        job.audio_seconds = info.frames / info.sample_rate
        job.state = "queued"
        runner().submit(run_job, job, models)
        return JSONResponse(job.status(), status_code=202)

    # ------------------------------------------------------------------------------- jobs

    async def job_status(request: Request) -> Response:
        job = find(request)
        return JSONResponse(job.status()) if job else _error(404, "no such job")

    async def delete_job(request: Request) -> Response:
        if not from_the_page(request):
            return _error(403, f"missing header {CSRF_HEADER}")
        job_id = request.path_params["job"]
        if not store().remove(job_id):
            return _error(404, "no such job")
        for key in [key for key in charts if key[0] == job_id]:
            del charts[key]
        return Response(status_code=204)

    async def read(request: Request) -> tuple[Job, NoteSettings, Transcription] | Response:
        """The job and its notes under the request's settings, or an error response."""
        job = find(request)
        if job is None:
            return _error(404, "no such job")
        if job.state != "done":
            return _error(409, job.error or f"not transcribed yet ({job.state})")
        try:
            settings = NoteSettings.from_query(request.query_params)
        except ValueError as problem:
            return _error(400, str(problem))
        return job, settings, await run_in_threadpool(job.notes, settings)

    async def notes(request: Request) -> Response:
        found = await read(request)
        if isinstance(found, Response):
            return found
        job, _, result = found
        assert job.defaults is not None
        lane = {code: i for i, code in enumerate(result.components)}
        velocities = [e.velocity for e in result.events]
        return JSONResponse(
            {
                "id": job.id,
                "name": job.name,
                "duration": result.duration,
                "components": list(result.components),
                "names": [COMPONENT_NAMES.get(c, c) for c in result.components],
                "classes": drum_classes(result.components),
                "tempo": result.tempo,
                "defaults": {
                    "threshold": job.defaults.threshold,
                    "relative": class_defaults(job.defaults, result.components),
                    **{key: getattr(DEFAULT_READING, key) for key in READING_OPTIONS},
                },
                "events": {
                    "time": [round(e.time, 4) for e in result.events],
                    "lane": [lane[e.component] for e in result.events],
                    "velocity": velocities,
                    "amplitude": [round(float(a), 5) for a in velocity_to_amplitude(velocities)],
                },
            }
        )

    async def original(request: Request) -> Response:
        job = find(request)
        if job is None or job.state == "uploading":
            return _error(404, "no such job")
        return FileResponse(job.input_path, media_type=job.media_type)

    async def download(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in formats():
            return _error(404, f"unknown format {fmt[:20]!r}")
        kit = request.query_params.get("kit") or DEFAULT_KIT
        if fmt == "wav" and kit not in kits:
            return _error(400, f"unknown kit {kit[:40]!r}")
        found = await read(request)
        if isinstance(found, Response):
            return found
        job, settings, result = found
        suffix = CHART_FORMATS[fmt].suffix if fmt in CHART_FORMATS else fmt
        filename = f"{Path(job.name).stem}.{suffix}"
        headers = {"content-disposition": attachment(filename)}
        if fmt == "wav":
            path = job.folder / f"render-{secrets.token_hex(8)}.wav"
            # On the job thread: a render of an hour is as large as a transcription.
            rate = PLAYBACK_RATE if result.duration <= LONG_RENDER_SECONDS else SAMPLE_RATE
            await asyncio.wrap_future(runner().submit(result.write_wav, path, kit, rate))
            return FileResponse(
                path, media_type=NOTE_FORMATS["wav"], headers=headers,
                background=BackgroundTask(path.unlink, missing_ok=True),
            )  # fmt: skip
        if fmt in CHART_FORMATS:
            chart = await chart_of(job, settings, result, fmt)
            if isinstance(chart, Response):
                return chart
            return Response(chart, media_type=CHART_FORMATS[fmt].media_type, headers=headers)
        if fmt == "mid":
            buffer = io.BytesIO()
            result.to_midi().write(buffer)
            data = buffer.getvalue()
        else:
            data = (result.to_json() + "\n" if fmt == "json" else result.to_csv()).encode()
        return Response(data, media_type=NOTE_FORMATS[fmt], headers=headers)

    async def chart_of(
        job: Job, settings: NoteSettings, result: Transcription, fmt: str
    ) -> bytes | Response:
        """The chart file, rendered on the chart thread (kept for the last few readings), or
        an error response naming what is missing."""
        key = (job.id, settings, fmt)
        if key not in charts:
            future = state["charts"].submit(render_chart, result, fmt)
            try:
                charts[key] = await asyncio.wrap_future(future)
            except DrummerNetError as error:
                return _error(422, job.tell(str(error)))
            while len(charts) > CHART_CACHE:
                charts.popitem(last=False)
        charts.move_to_end(key)
        return charts[key]

    async def chart_view(request: Request) -> Response:
        if "svg" not in chart_formats():
            return _error(404, "charts need drummernet.notation")
        found = await read(request)
        if isinstance(found, Response):
            return found
        chart = await chart_of(*found, "svg")
        if isinstance(chart, Response):
            return chart
        return Response(chart, media_type=CHART_FORMATS["svg"].media_type)

    # ------------------------------------------------------------------------------- kits

    async def kit_shot(request: Request) -> Response:
        kit, code = request.path_params["kit"], request.path_params["code"]
        if kit not in kits or code not in COMPONENTS:
            return _error(404, "no such kit or component")
        if (kit, code) not in shots:
            loaded = await run_in_threadpool(DrumKit.builtin, kit, PLAYBACK_RATE)
            for name, shot in loaded.samples.items():
                shots[(kit, name)] = np.asarray(shot, dtype="<f4").tobytes()
        if (kit, code) not in shots:
            return _error(404, f"kit {kit} has no {code}")
        # Raw little-endian float32 samples: the page copies them into an AudioBuffer as they are.
        return Response(
            shots[(kit, code)],
            media_type="application/octet-stream",
            headers={"cache-control": "max-age=3600", "x-sample-rate": str(PLAYBACK_RATE)},
        )

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/jobs", create_job, methods=["POST"]),
        Route("/api/jobs/{job}", job_status),
        Route("/api/jobs/{job}", delete_job, methods=["DELETE"]),
        Route("/api/jobs/{job}/notes", notes),
        Route("/api/jobs/{job}/audio", original),
        Route("/api/jobs/{job}/download/{fmt}", download),
        Route("/api/jobs/{job}/chart.svg", chart_view),
        Route("/api/kits/{kit}/{code}", kit_shot),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware(config.allowed_hosts), lifespan=lifespan)


def _preload(models: Models) -> None:
    """Load the default model ahead of the first upload; a failure is reported by that upload."""
    with contextlib.suppress(DrummerNetError):
        models.load(models.default)
