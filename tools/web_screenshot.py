"""Screenshots of the web page (``drummernet serve``) in headless Chromium, and the time from a
drop to the grid.

    python -m tools.web_screenshot [AUDIO] [--out DIR] [--size 1280x800 --size 390x844]

Starts the app on a free loopback port with the shipped model, drops ``AUDIO`` (default: the
bundled example) on the page and writes ``DIR/web-<width>x<height>.png`` once the grid is drawn,
printing the seconds from the drop to the grid. Needs the web extra, Playwright and Debian's
``chromium``. The README's picture, ``docs/web-1280x800.png``, is
``python -m tools.web_screenshot --out docs --size 1280x800``.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from drummernet.web.app import WebConfig
from drummernet.web.security import LOOPBACK_HOSTS
from drummernet.web.server import bind, make_server, url_of

EXAMPLE = Path(__file__).resolve().parents[1] / "drummernet" / "data" / "example.flac"
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

DROP = """([name, data]) => {
    window.__dropped = performance.now();
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name));
    document.getElementById("drop").dispatchEvent(
        new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="?", type=Path, default=EXAMPLE)
    parser.add_argument("--out", type=Path, default=Path("out/screenshots"))
    parser.add_argument("--size", action="append", default=[], metavar="WxH")
    parser.add_argument("--kit", default=None, help="kit to select before the screenshot")
    args = parser.parse_args(argv)
    sizes = [tuple(map(int, s.split("x"))) for s in args.size or ["1280x800", "390x844"]]
    args.out.mkdir(parents=True, exist_ok=True)
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("no Chromium installed (apt-get install chromium)")

    sock = bind("127.0.0.1", 0)
    server = make_server(WebConfig(allowed_hosts=LOOPBACK_HOSTS, preload=True))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    time.sleep(2.0)  # let the model preload, as it has by the time a person drops a file
    data = base64.b64encode(args.audio.read_bytes()).decode()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            for width, height in sizes:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url_of(sock))
                page.wait_for_selector("body[data-ready]")
                if args.kit:
                    page.select_option("#kit", args.kit)
                page.evaluate(DROP, [args.audio.name, data])
                page.wait_for_selector("body[data-notes]", timeout=600_000)
                seconds = page.evaluate("(performance.now() - window.__dropped) / 1000")
                if page.is_visible("#chart"):  # drummernet.notation is installed
                    page.wait_for_selector("#chart-body img", timeout=600_000)
                page.wait_for_timeout(300)  # the grid draws on the next animation frame
                path = args.out / f"web-{width}x{height}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"{width}x{height}: drop to grid {seconds:.2f} s; wrote {path}")
                page.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)


if __name__ == "__main__":
    main()
