"""``drummernet serve``: the web app on uvicorn, on this computer's loopback address by default."""

from __future__ import annotations

import logging
import socket
import threading
import webbrowser
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from drummernet.constants import DEFAULT_MAX_UPLOAD_MB, DEFAULT_WEB_HOST, DEFAULT_WEB_PORT
from drummernet.errors import DrummerNetError
from drummernet.web.app import WebConfig, create_app
from drummernet.web.security import LOOPBACK_HOSTS, is_loopback

log = logging.getLogger("drummernet")


class ServeError(DrummerNetError, OSError):
    """The server cannot start: the address is in use or cannot be bound."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one).

    Raises:
        ServeError: the port is taken or the address is not this computer's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        reason = "is in use; choose another with --port" if error.errno == 98 else error.strerror
        raise ServeError(f"cannot listen on {host}:{port}: the address {reason}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def make_server(config: WebConfig) -> uvicorn.Server:
    """A uvicorn server for the app; run it on a socket from :func:`bind` with
    ``server.run(sockets=[sock])`` (``server.should_exit = True`` stops it)."""
    return uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", timeout_graceful_shutdown=5)
    )


def serve(
    host: str = DEFAULT_WEB_HOST,
    port: int = DEFAULT_WEB_PORT,
    *,
    models: Mapping[str, str | Path | None] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    open_browser: bool = False,
) -> None:
    """Serve the page until interrupted (Ctrl-C or SIGTERM), then remove every temporary file.

    Args:
        host: address to listen on; a non-loopback one lets other computers use the page.
        port: port to listen on (0: any free one).
        models: name -> model file or run folder the page may choose from (``None``: the shipped
            model only).
        max_upload_mb: largest upload accepted.
        open_browser: open the page in the default browser.

    Raises:
        ServeError: the address cannot be listened on.
    """
    loopback = is_loopback(host)
    config = WebConfig(
        models=models or {"default": None},
        max_upload_bytes=int(max_upload_mb * 2**20),
        allowed_hosts=LOOPBACK_HOSTS if loopback else None,
        preload=True,
    )
    sock = bind(host, port)
    if not loopback:
        log.warning("listening on %s: anyone who can reach this computer can use the page", host)
    url = url_of(sock)
    print(f"drummernet: serving on {url} (Ctrl-C to stop)", flush=True)
    if open_browser:  # the socket already listens: the browser's request waits for the server
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    make_server(config).run(sockets=[sock])
