"""Benchmark the web page (``drummernet serve``): from a drop to the grid, and server memory.

Not a test: it prints figures. It starts the real command (``python -m drummernet.cli serve
--port 0``) in a subprocess, lets one short warm-up file load the model (as a person's first
drop would), then for each length (default 3 and 60 minutes of 44.1 kHz stereo WAV, the drums of
:func:`experiments.bench_transcribe.make_drums`) chooses the file on the page in headless
Chromium and times, inside the page, the moment the file is picked to the moment the grid has
its notes, and the CPU time the server spent on it (on a machine shared with other work the wall
time grows, the CPU time much less). Meanwhile it reads the job's progress line as the page
shows it and the server's resident memory; the server's peak (``VmHWM``) is printed at the end. Needs the web extra,
Playwright and Debian's ``chromium``.

Usage::

    OMP_WAIT_POLICY=PASSIVE python experiments/bench_web.py [--minutes 3,60] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.bench_transcribe import make_drums

BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Timestamps inside the page: the file input's change event, and the grid's notes arriving.
INSTRUMENT = """() => {
    document.getElementById("file").addEventListener("change", () => {
        window.__picked = performance.now();
    }, { capture: true });
    new MutationObserver(() => {
        if (document.body.dataset.notes && !window.__grid) window.__grid = performance.now();
    }).observe(document.body, { attributes: true });
}"""


def memory_mb(pid: int, field: str) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) / 1024  # type: ignore[union-attr]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="3,60")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("no Chromium installed (apt-get install chromium)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-web-"))
    workdir.mkdir(parents=True, exist_ok=True)
    minutes = [float(m) for m in args.minutes.split(",")]
    files = {m: make_drums(workdir / f"drums_{m:g}min.wav", m) for m in [0.05, *minutes]}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)

    server = subprocess.Popen(
        [sys.executable, "-m", "drummernet.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)  # type: ignore[union-attr]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            for length, path in files.items():
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url)
                page.wait_for_selector("body[data-ready]")
                page.evaluate(INSTRUMENT)
                cpu = cpu_seconds(server.pid)
                page.set_input_files("#file", str(path))
                shown: list[str] = []
                peak_rss = 0.0
                while not page.query_selector("body[data-notes]"):
                    state = page.query_selector(".job .state")
                    text = state.inner_text() if state else ""
                    if text and (not shown or text.split(" ")[0] != shown[-1].split(" ")[0]):
                        shown.append(text)
                    if page.query_selector(".job.error"):
                        raise SystemExit(f"{path.name}: {text}")
                    peak_rss = max(peak_rss, memory_mb(server.pid, "VmRSS"))
                    time.sleep(0.05)
                seconds = page.evaluate("(window.__grid - window.__picked) / 1000")
                cpu = cpu_seconds(server.pid) - cpu
                notes = page.evaluate("document.body.dataset.notes")
                page.close()
                if length < 1:
                    continue  # the warm-up: the model is loaded now
                size = path.stat().st_size / 2**20
                print(
                    f"{length:g} min ({size:.0f} MB WAV): drop to grid {seconds:.2f} s "
                    f"(server CPU {cpu:.2f} s), {notes} notes; server RSS up to "
                    f"{peak_rss:.0f} MB; the page showed: " + " -> ".join(shown),
                    flush=True,
                )
            browser.close()
        print(f"server peak memory (VmHWM): {memory_mb(server.pid, 'VmHWM'):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
