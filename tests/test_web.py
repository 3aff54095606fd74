"""The web app's HTTP API, in-process (Starlette's TestClient), on audio written by the tests and
the tiny model; and ``drummernet serve`` (issue 17). The page itself is driven in a real browser
by ``test_web_browser.py``."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import SR, drum_loop, record_keyword

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from starlette.testclient import TestClient  # noqa: E402

import drummernet  # noqa: E402
from drummernet.cli import main  # noqa: E402
from drummernet.transcription.inference import transcribe  # noqa: E402
from drummernet.transcription.result import Transcription  # noqa: E402
from drummernet.web import charts as web_charts  # noqa: E402
from drummernet.web import jobs as web_jobs  # noqa: E402
from drummernet.web.app import PLAYBACK_RATE, WebConfig, create_app  # noqa: E402
from drummernet.web.reading import NoteSettings  # noqa: E402
from drummernet.web.server import bind, make_server  # noqa: E402

POST = {"X-Drummernet": "1"}


def wav_bytes(seconds: float = 2.0, seed: int = 0) -> bytes:
    audio, _ = drum_loop(seconds, seed=seed)
    buffer = io.BytesIO()
    sf.write(buffer, audio, SR, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def app_config(tiny_model_file) -> WebConfig:
    return WebConfig(models={"tiny": tiny_model_file}, max_upload_bytes=2**20)


@pytest.fixture
def client(app_config):
    with TestClient(create_app(app_config)) as client:
        yield client


def upload(client, data: bytes, name: str = "loop.wav", **params):
    return client.post("/api/jobs", params={"name": name, **params}, content=data, headers=POST)


def wait(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in ("done", "error"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {status['state']}")


def transcribed(client, data: bytes = b"", name: str = "loop.wav") -> str:
    response = upload(client, data or wav_bytes(), name)
    assert response.status_code == 202, response.text
    assert wait(client, response.json()["id"])["state"] == "done"
    return response.json()["id"]


def event_rows(notes: dict) -> list[tuple[float, str, int]]:
    events = notes["events"]
    return [(t, notes["components"][lane], v)
            for t, lane, v in zip(events["time"], events["lane"], events["velocity"], strict=True)]  # fmt: skip


# ----------------------------------------------------------------------------------- the API


def test_info_lists_models_kits_and_formats(client):
    info = client.get("/api/info").json()
    assert info["models"] == ["tiny"] and info["default_model"] == "tiny"
    assert info["default_kit"] in info["kits"] and len(info["kits"]) >= 2
    assert info["formats"][:4] == ["mid", "json", "csv", "wav"]
    assert info["max_upload_bytes"] == 2**20


def test_the_page_and_its_assets_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "grid.js", "player.js", "style.css"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and response.content
        assert "http://" not in response.text and "https://" not in response.text  # no CDN


def test_an_upload_is_transcribed_as_the_api_would(client, tiny_model_file, tmp_path):
    data = wav_bytes(2.0)
    job_id = transcribed(client, data)
    status = client.get(f"/api/jobs/{job_id}").json()
    assert status["name"] == "loop.wav" and status["model"] == "tiny"
    assert status["audio_seconds"] == pytest.approx(2.0)
    notes = client.get(f"/api/jobs/{job_id}/notes").json()

    (tmp_path / "loop.wav").write_bytes(data)
    expected = transcribe(tmp_path / "loop.wav", model=tiny_model_file)
    assert notes["components"] == list(expected.components)
    assert notes["duration"] == pytest.approx(expected.duration)
    assert event_rows(notes) == [(round(e.time, 4), e.component, e.velocity) for e in expected]
    assert status["notes"] == len(expected) > 0
    assert notes["classes"] == ["KD", "SD", "HH"]
    assert set(notes["defaults"]["relative"]) == {"KD", "SD", "HH"}
    from drummernet.constants import DEFAULT_DECAY_MASK, DEFAULT_MIN_GAP, DEFAULT_ONSET_CONTRAST

    assert notes["defaults"]["onset_contrast"] == DEFAULT_ONSET_CONTRAST
    assert (notes["defaults"]["decay_mask"], notes["defaults"]["min_gap"]) == (
        DEFAULT_DECAY_MASK,
        DEFAULT_MIN_GAP,
    )


def test_note_reading_reruns_peak_picking_not_the_model(client, monkeypatch):
    calls = []
    real = web_jobs.transcribe
    monkeypatch.setattr(web_jobs, "transcribe", lambda *a, **k: calls.append(1) or real(*a, **k))
    job_id = transcribed(client, wav_bytes(3.0))

    def count(**params) -> int:
        response = client.get(f"/api/jobs/{job_id}/notes", params=params)
        assert response.status_code == 200, response.text
        return len(response.json()["events"]["time"])

    default = count()
    assert default > 0
    # Read again with the model's values spelled out: the same notes as the transcription's.
    first = client.get(f"/api/jobs/{job_id}/notes").json()
    defaults = first["defaults"]
    spelled = {"threshold": defaults["threshold"]}
    spelled.update({f"rel.{name}": value for name, value in defaults["relative"].items()})
    again = client.get(f"/api/jobs/{job_id}/notes", params=spelled).json()
    assert event_rows(again) == event_rows(first)
    assert count(threshold=100) == 0
    floor = {"rel.KD": 0, "rel.SD": 0, "rel.HH": 0, "onset_contrast": 0, "decay_mask": 0}
    assert count(threshold=1e-4, **floor) > default  # more sensitive: softer hits appear
    assert count(**{"rel.KD": 0.99, "rel.SD": 0.99, "rel.HH": 0.99}) < default
    assert count() == default
    assert len(calls) == 1


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"threshold": "abc"}, "threshold: not a number"),
        ({"threshold": "0"}, "threshold: must be positive"),
        ({"rel.XX": "0.1"}, "rel.XX: unknown drum class"),
        ({"rel.KD": "1.5"}, "rel.KD: 1.5 is outside"),
        ({"min_gap": "nan"}, "min_gap"),
    ],
)
def test_bad_reading_settings_are_a_clear_400(client, params, fragment):
    job_id = transcribed(client)
    response = client.get(f"/api/jobs/{job_id}/notes", params=params)
    assert response.status_code == 400 and fragment in response.json()["error"]


def test_class_settings_override_the_models_per_component_values():
    settings = NoteSettings.from_query({"rel.HH": "0.5", "rel.KD": "0", "other": "x"})
    assert settings.relative == (("HH", 0.5), ("KD", 0.0)) and settings.threshold is None
    from drummernet.web.reading import relative_thresholds

    merged = relative_thresholds({"HH_CHH": 0.1, "SD": 0.2}, dict(settings.relative))
    assert merged == {"SD": 0.2, "HH": 0.5, "KD": 0.0}
    assert relative_thresholds(0.3, {"KD": 0.0})["SD"] == 0.3


def test_the_page_rereads_with_the_models_tom_masking():
    from drummernet.web.reading import ModelDefaults, reread

    activations = np.zeros((2, 200), np.float32)
    activations[0, 50], activations[1, 51], activations[1, 150] = 0.6, 0.15, 0.15  # SD, TT
    result = Transcription([], activations, 200.0, ("SD", "TT_HFT"), 1.0)
    for masking, toms in ((3.0, 1), (0.0, 2)):
        defaults = ModelDefaults(0.02, 0.0, 0.04, tom_masking=masking)
        events = reread(result, defaults, NoteSettings()).events
        assert sum(e.component == "TT_HFT" for e in events) == toms


def test_downloads_hold_the_notes_on_the_page(client):
    job_id = transcribed(client, wav_bytes(3.0))
    params = {"rel.HH": "0.5"}
    notes = client.get(f"/api/jobs/{job_id}/notes", params=params).json()
    rows = event_rows(notes)

    mid = client.get(f"/api/jobs/{job_id}/download/mid", params=params)
    assert mid.status_code == 200 and mid.headers["content-type"] == "audio/midi"
    assert 'filename="loop.mid"' in mid.headers["content-disposition"]
    midi = pretty_midi.PrettyMIDI(io.BytesIO(mid.content))
    written = sorted((n.start, n.pitch, n.velocity) for n in midi.instruments[0].notes)
    from drummernet.constants import GM_NOTES

    expected = sorted((t, GM_NOTES[c], v) for t, c, v in rows)
    assert [w[1:] for w in written] == [e[1:] for e in expected] and len(expected) > 0
    assert np.allclose([w[0] for w in written], [e[0] for e in expected], atol=0.002)

    text = client.get(f"/api/jobs/{job_id}/download/json", params=params).text
    back = Transcription.from_json(text)
    assert back.source == "loop.wav"  # the client's name, never the server's temporary path
    assert [(round(e.time, 4), e.component, e.velocity) for e in back] == rows
    csv = client.get(f"/api/jobs/{job_id}/download/csv", params=params).text
    assert csv.splitlines()[0] == "time,component,note,velocity"
    assert len(csv.splitlines()) == len(rows) + 1

    wav = client.get(f"/api/jobs/{job_id}/download/wav", params={**params, "kit": "audiophob"})
    assert wav.status_code == 200
    audio, rate = sf.read(io.BytesIO(wav.content))
    assert rate == PLAYBACK_RATE and len(audio) == round(3.0 * PLAYBACK_RATE)
    assert np.abs(audio).max() > 0.01
    job = client.app.state.jobs.get(job_id)
    assert [p.name for p in job.folder.iterdir()] == [job.input_path.name]  # render removed


def test_long_recordings_render_at_the_models_rate(client, monkeypatch):
    from drummernet.constants import SAMPLE_RATE
    from drummernet.web import app as web_app

    monkeypatch.setattr(web_app, "LONG_RENDER_SECONDS", 1.0)
    job_id = transcribed(client, wav_bytes(2.0))
    wav = client.get(f"/api/jobs/{job_id}/download/wav")
    assert sf.info(io.BytesIO(wav.content)).samplerate == SAMPLE_RATE


def test_a_kit_one_shot_is_served_as_float_samples(client):
    response = client.get("/api/kits/audiophob/SD")
    assert response.status_code == 200 and response.headers["x-sample-rate"] == str(PLAYBACK_RATE)
    shot = np.frombuffer(response.content, dtype="<f4")
    assert 1000 < len(shot) and 0.5 < np.abs(shot).max() <= 1.0


def test_the_original_is_served_for_playback_with_ranges(client):
    data = wav_bytes()
    job_id = transcribed(client, data)
    whole = client.get(f"/api/jobs/{job_id}/audio")
    assert whole.content == data and whole.headers["content-type"] == "audio/wav"
    part = client.get(f"/api/jobs/{job_id}/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == data[:100]


# ------------------------------------------------------------------------------------ safety


def test_a_text_file_gets_a_message_naming_it_and_leaves_nothing(client):
    response = upload(client, b"these are my drum notes\n" * 20, "notes.txt")
    assert response.status_code == 415
    message = response.json()["error"]
    assert message.startswith("notes.txt: not a readable audio file"), message
    store = client.app.state.jobs
    assert str(store.root) not in message and len(store) == 0
    assert list(store.root.iterdir()) == []


def test_a_truncated_wav_is_refused_with_a_clear_message(client):
    data = wav_bytes()
    response = upload(client, data[: len(data) // 3], "cut.wav")
    assert response.status_code == 415 and "cut.wav: file is truncated" in response.json()["error"]


def test_an_empty_upload_is_refused(client):
    response = upload(client, b"", "empty.wav")
    assert response.status_code == 400 and "empty.wav: file is empty" in response.json()["error"]


def test_uploads_over_the_limit_are_refused_and_removed(client):
    big = b"\0" * (2**20 + 1)
    assert upload(client, big, "big.wav").status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(5):
            yield b"\0" * 300_000

    response = client.post("/api/jobs", params={"name": "big.wav"}, content=chunks(), headers=POST)
    assert response.status_code == 413 and "upload limit" in response.json()["error"]
    assert list(client.app.state.jobs.root.iterdir()) == []


def test_an_upload_that_cannot_be_stored_is_a_clear_error(client, monkeypatch):
    store = client.app.state.jobs
    create = store.create

    def create_without_a_folder(*args, **kwargs):
        job = create(*args, **kwargs)
        job.folder.rmdir()  # as if the temporary folder had been cleaned away
        return job

    monkeypatch.setattr(store, "create", create_without_a_folder)
    response = upload(client, wav_bytes(), "take.wav")
    assert response.status_code == 507
    assert response.json()["error"].startswith("take.wav: cannot store the upload")
    assert len(store) == 0


def test_writes_need_the_pages_header(client):
    assert client.post("/api/jobs", content=wav_bytes()).status_code == 403
    job_id = transcribed(client)
    assert client.delete(f"/api/jobs/{job_id}").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/nope/notes",
        "/api/jobs/..%2F..%2Fetc%2Fpasswd/audio",
        "/api/jobs/%2Fetc%2Fpasswd/download/mid",
        "/api/kits/..%2F..%2Fetc/KD",
        "/api/kits/%2Ftmp/KD",
        "/api/kits/audiophob/XX",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
    ],
)
def test_no_client_path_reaches_the_file_system(client, path):
    assert client.get(path).status_code == 404


def test_unknown_names_are_refused(client):
    assert upload(client, wav_bytes(), model="/etc/passwd").status_code == 400
    assert upload(client, wav_bytes(), source="karaoke").status_code == 400  # not a mode
    job_id = transcribed(client)
    assert client.get(f"/api/jobs/{job_id}/download/exe").status_code == 404
    response = client.get(f"/api/jobs/{job_id}/download/wav", params={"kit": "/tmp"})
    assert response.status_code == 400 and "unknown kit" in response.json()["error"]


def test_file_names_are_never_paths(client):
    job_id = transcribed(client, name="../../etc/evil\x00name.wav")
    job = client.app.state.jobs.get(job_id)
    assert job.name == "evilname.wav"
    assert job.folder.parent == client.app.state.jobs.root and job.input_path.parent == job.folder
    response = client.get(f"/api/jobs/{job_id}/download/csv")
    assert 'filename="evilname.csv"' in response.headers["content-disposition"]


def test_concurrent_uploads_do_not_mix(client):
    lengths = (1.5, 2.5, 3.5)
    ids: dict[float, str] = {}

    def send(seconds: float) -> None:
        response = upload(client, wav_bytes(seconds, seed=int(seconds * 10)), f"take{seconds}.wav")
        ids[seconds] = response.json()["id"]

    threads = [threading.Thread(target=send, args=(s,)) for s in lengths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids.values())) == len(lengths)
    for seconds, job_id in ids.items():
        assert wait(client, job_id)["name"] == f"take{seconds}.wav"
        notes = client.get(f"/api/jobs/{job_id}/notes").json()
        assert notes["duration"] == pytest.approx(seconds)


def test_a_silent_recording_warns_by_its_name(client):
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(SR, np.float32), SR, format="WAV")
    response = upload(client, buffer.getvalue(), "quiet.wav")
    status = wait(client, response.json()["id"])
    assert status["state"] == "done" and status["notes"] == 0
    assert any(w.startswith("quiet.wav: audio is silent") for w in status["warnings"])


def test_temporary_files_are_removed_on_delete_and_on_shutdown(app_config):
    with TestClient(create_app(app_config)) as client:
        store = client.app.state.jobs
        first, second = transcribed(client), transcribed(client)
        folder = store.get(first).folder
        assert client.delete(f"/api/jobs/{first}", headers=POST).status_code == 204
        assert not folder.exists() and client.get(f"/api/jobs/{first}").status_code == 404
        assert store.get(second).input_path.is_file()
    assert not store.root.exists()


def test_a_job_removed_while_queued_never_runs(tiny_model_file, monkeypatch):
    monkeypatch.setattr(web_jobs, "transcribe", lambda *a, **k: pytest.fail("transcribed"))
    store = web_jobs.JobStore()
    try:
        job = store.create("loop.wav", "tiny")
        job.state = "queued"
        assert store.remove(job.id) and not job.folder.exists()
        web_jobs.run_job(job, web_jobs.Models({"tiny": tiny_model_file}))
        assert job.state == "removed" and job.result is None
    finally:
        store.close()


def test_old_finished_jobs_are_dropped(tiny_model_file):
    config = WebConfig(models={"tiny": tiny_model_file}, max_jobs=1)
    with TestClient(create_app(config)) as client:
        first = transcribed(client)
        second = transcribed(client)
        assert client.get(f"/api/jobs/{first}").status_code == 404
        assert client.get(f"/api/jobs/{second}").status_code == 200


def test_only_the_allowed_host_names_are_served(app_config):
    config = WebConfig(models=app_config.models, allowed_hosts=("127.0.0.1", "localhost"))
    with TestClient(create_app(config), base_url="http://127.0.0.1") as client:
        assert client.get("/api/info").status_code == 200
        assert client.get("/api/info", headers={"Host": "evil.example"}).status_code == 400


# ----------------------------------------------------------------- charts and full-mix mode


def test_the_chart_appears_only_when_notation_is_installed(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "drummernet.notation", None)  # not installed
    job_id = transcribed(client)
    assert client.get("/api/info").json()["chart_formats"] == []
    assert client.get(f"/api/jobs/{job_id}/chart.svg").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/download/musicxml").status_code == 404

    seen = []

    def to_svg(result: Transcription) -> str:
        seen.append(len(result))
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"

    fake = types.ModuleType("drummernet.notation")
    fake.__dict__.update(to_svg=to_svg, to_musicxml=lambda result: b"<score-partwise/>")
    monkeypatch.setitem(sys.modules, "drummernet.notation", fake)
    monkeypatch.setattr(drummernet, "notation", fake, raising=False)
    monkeypatch.setattr(web_charts, "_installed", lambda module: True)
    info = client.get("/api/info").json()
    assert (
        info["chart_formats"] == ["musicxml", "svg"]
        and info["formats"][-2:] == info["chart_formats"]
    )
    view = client.get(f"/api/jobs/{job_id}/chart.svg", params={"threshold": 100})
    assert view.status_code == 200 and view.headers["content-type"].startswith("image/svg+xml")
    assert seen == [0]  # charted with the page's reading
    monkeypatch.setattr(web_charts, "_installed", lambda module: module != "verovio")
    assert web_charts.chart_formats() == ["musicxml"]  # no SVG without its engraver
    chart = client.get(f"/api/jobs/{job_id}/download/musicxml")
    assert (
        chart.status_code == 200
        and 'filename="loop.musicxml"' in chart.headers["content-disposition"]
    )


def test_the_input_mode_reaches_transcribe(client, monkeypatch):
    """The page offers transcribe's input modes, and the chosen one is the one transcribed."""
    assert client.get("/api/info").json()["source_modes"] == ["auto", "drums", "mix"]
    seen = []
    real = web_jobs.transcribe

    def spy(audio, sr=None, model=None, device=None, *, source="auto", **kwargs):
        seen.append(source)
        return real(audio, sr, model, device, source=source, **kwargs)

    monkeypatch.setattr(web_jobs, "transcribe", spy)
    response = upload(client, wav_bytes(), source="mix")
    assert wait(client, response.json()["id"])["state"] == "done" and seen == ["mix"]


def test_the_adapt_switch_reaches_transcribe(client, monkeypatch):
    """Adapt on the page is ``transcribe(adapt=True)``, off ``adapt=False``; without the
    parameter, ``transcribe``'s default (adapted). Anything but 0 or 1 is refused."""
    seen = record_keyword(monkeypatch, web_jobs, "transcribe", "adapt")
    for value, expected in (("1", True), ("0", False), (None, "default")):
        response = upload(client, wav_bytes(), **({"adapt": value} if value else {}))
        job = wait(client, response.json()["id"])
        assert job["state"] == "done"
        assert seen[-1] == expected
    assert upload(client, wav_bytes(), adapt="yes").status_code == 400


def test_the_page_adapts_by_default():
    from drummernet.constants import DEFAULT_ADAPT

    page = (Path(web_jobs.__file__).parent / "static" / "index.html").read_text()
    assert DEFAULT_ADAPT and '<input type="checkbox" id="adapt" checked>' in page


# ------------------------------------------------------------------------- drummernet serve


def test_serve_runs_on_a_free_loopback_port_and_stops(app_config):
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = WebConfig(models=app_config.models, allowed_hosts=("127.0.0.1",))
    server = make_server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=10) as reply:
            assert json.load(reply)["models"] == ["tiny"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/info", headers={"Host": "rebound.example"}
        )
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert not thread.is_alive()


def test_serve_help_and_usage_errors(capsys):
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0 and "--max-upload-mb" in capsys.readouterr().out
    assert main(["serve", "--port", "70000"]) == 2
    assert "drummernet: error: --port" in capsys.readouterr().err


def test_serve_without_the_web_extra_says_which_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "drummernet: error: drummernet serve needs the web extra: pip install 'drummernet[web]'"
    )


def test_serve_on_a_taken_port_is_one_line(capsys, tiny_model_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--model", str(tiny_model_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "in use" in err


def test_serve_with_a_bad_model_fails_before_listening(tmp_path, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_text("not a model")
    assert main(["serve", "--model", str(bad), "--port", "0"]) == 1
    assert "drummernet: error:" in capsys.readouterr().err


def test_static_assets_ship_with_the_package():
    static = Path(__file__).resolve().parents[1] / "drummernet" / "web" / "static"
    assert {p.name for p in static.iterdir()} >= {"index.html", "app.js", "style.css"}
    setup = (Path(__file__).resolve().parents[1] / "setup.cfg").read_text()
    assert "web/static/*" in setup
