"""The web page end to end in headless Chromium (Debian's ``chromium``, driven by Playwright):
drop a generated drum clip, wait for the grid, check its lanes, download the MIDI, re-read the
notes, and drop a text file (issue 17). Skips where no browser or Playwright is installed;
``.ci/run`` installs the browser."""

from __future__ import annotations

import base64
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright_api = pytest.importorskip("playwright.sync_api")

from drummernet.constants import COMPONENTS, GM_NOTES  # noqa: E402
from drummernet.transcription.events import NoteEvent  # noqa: E402
from drummernet.transcription.result import Transcription  # noqa: E402
from drummernet.web.app import WebConfig  # noqa: E402
from drummernet.web.security import LOOPBACK_HOSTS  # noqa: E402
from drummernet.web.server import bind, make_server, url_of  # noqa: E402

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)"),
    pytest.mark.slow,  # a server and a browser start: about 10 s in all
]

# What Chromium needs here as root and with no network (see the machine notes).
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip

KICKS = [0.25, 1.25, 2.25, 3.25]
SNARES = [0.75, 1.75, 2.75, 3.75]
CLIP_KIT = "audiophob"  # a built-in kit the shipped model reads kick and snare right on
CLIP_RATE = 44100


def drum_clip(path: Path) -> Path:
    """Four bars of kick on 1, snare on 3 and 8th-note hats, played with a built-in kit."""
    events = [NoteEvent(t, "KD", GM_NOTES["KD"], 110) for t in KICKS]
    events += [NoteEvent(t, "SD", GM_NOTES["SD"], 110) for t in SNARES]
    events += [NoteEvent(0.25 + 0.25 * i, "HH_CHH", GM_NOTES["HH_CHH"], 80) for i in range(16)]
    score = Transcription(
        events, np.zeros((len(COMPONENTS), 0), np.float32), 200.0, COMPONENTS, 4.5
    )
    sf.write(path, score.resynthesize(kit=CLIP_KIT, sr=CLIP_RATE), CLIP_RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def server_url():
    """The app with the shipped model on a free loopback port, stopped after the module."""
    sock = bind("127.0.0.1", 0)
    server = make_server(WebConfig(allowed_hosts=LOOPBACK_HOSTS, preload=True))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # (an HTTP error status is logged as "Failed to load resource"; the page shows those itself)
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.set_default_timeout(15_000)
    page.goto(server_url)
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert problems == []


def drop_file(page, path: Path, media_type: str = "audio/wav") -> None:
    """Drop ``path`` on the page as a user would drag it from a file manager."""
    page.evaluate(
        """([name, data, type]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            document.getElementById("drop").dispatchEvent(
                new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode(), media_type],
    )


def near(found: list[float], expected: list[float], tolerance: float = 0.03) -> bool:
    return len(found) == len(expected) and all(
        abs(f - e) <= tolerance for f, e in zip(sorted(found), expected, strict=True)
    )


def test_drop_a_clip_see_its_hits_and_download_the_midi(page, tmp_path):
    drop_file(page, drum_clip(tmp_path / "groove.wav"))
    page.wait_for_selector(".job[data-state=done]", timeout=60_000)
    page.wait_for_selector("body[data-notes]")
    assert page.is_visible("#grid canvas")

    lanes = page.evaluate("drummernet.lanes()")
    assert list(lanes) == list(COMPONENTS)
    assert near(lanes["KD"], KICKS), lanes["KD"]
    assert near(lanes["SD"], SNARES), lanes["SD"]
    # (no exact hi-hat count: the shipped model's hi-hat is its weak class, see the README)
    counts = {
        row.get_attribute("data-component"): int(row.get_attribute("data-count"))
        for row in page.query_selector_all("#lanes .lane")
    }
    assert counts == {code: len(times) for code, times in lanes.items()}

    with page.expect_download() as download:
        page.click("a[data-format=mid]")
    assert download.value.suggested_filename == "groove.mid"
    midi = pretty_midi.PrettyMIDI(download.value.path())
    notes = midi.instruments[0].notes
    assert len(notes) == sum(len(times) for times in lanes.values())
    assert near([n.start for n in notes if n.pitch == 36], KICKS)
    assert near([n.start for n in notes if n.pitch == 38], SNARES)

    # The chart, where drummernet.notation can engrave one.
    if page.evaluate("drummernet.state.info.chart_formats.includes('svg')"):
        page.wait_for_selector("#chart-body img", timeout=60_000)
        assert page.is_visible("a[data-format=pdf]") or page.is_visible("a[data-format=svg]")
    else:
        assert page.is_hidden("#chart")

    # Note reading: the grid follows the controls without a new transcription.
    page.click("details summary")
    page.fill("#threshold", "10")
    page.dispatch_event("#threshold", "change")
    page.wait_for_selector("body[data-notes='0']")
    assert page.get_attribute("#lanes .lane[data-component=KD]", "data-count") == "0"
    page.click("#reset")
    page.wait_for_selector("body:not([data-notes='0'])")

    # Playback of the drums with the kit: the clock moves.
    page.select_option("#listen", "drums")
    page.click("#play")
    playwright_api.expect(page.locator("#clock")).not_to_have_text(re.compile(r"^0:00\.0"))
    page.click("#play")


def test_a_text_file_gets_a_clear_message(page, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("kick snare kick snare\n" * 50)
    page.set_input_files("#file", str(text))
    page.wait_for_selector(".job.error")
    message = page.inner_text("#message")
    assert message.startswith("notes.txt: not a readable audio file"), message
    assert page.inner_text(".job.error .state") == message
    assert page.is_hidden("#view")


def test_the_page_fits_a_phone(browser, server_url, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(server_url)
        page.wait_for_selector("body[data-ready]")
        drop_file(page, drum_clip(tmp_path / "groove.wav"))
        page.wait_for_selector("body[data-notes]", timeout=60_000)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the phone"
        box = page.query_selector("#grid").bounding_box()
        assert box is not None and box["width"] <= 390
    finally:
        context.close()
