"""What keeps other sites and other computers out of the web app.

* **Loopback by default**: ``drummernet serve`` listens on 127.0.0.1, and a server on a loopback
  address answers only requests addressed to :data:`LOOPBACK_HOSTS` (Starlette's
  ``TrustedHostMiddleware``), so a site that rebinds its DNS name to 127.0.0.1 gets nothing.
* **No cross-site writes**: uploads and deletions need the header ``X-Drummernet: 1``
  (:func:`from_the_page`). A page on another site cannot send it without a CORS preflight,
  which this app never grants.
* **Nothing from elsewhere**: every response carries :data:`CONTENT_SECURITY_POLICY`, so the
  page can load scripts, styles and data from this server only (it also works offline).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The header POST and DELETE requests must carry, with the value ``1``.
CSRF_HEADER = "x-drummernet"

#: Host names a server bound to the loopback interface answers to.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")

#: Content security policy of every response: the page loads nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this computer only (``localhost``, 127.x, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def from_the_page(request: Request) -> bool:
    """Whether a writing request carries the page's header (see the module docstring)."""
    return request.headers.get(CSRF_HEADER) == "1"


def attachment(filename: str) -> str:
    """A Content-Disposition header for ``filename`` (an ASCII fallback plus the UTF-8 name)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class SecurityHeaders:
    """Adds the content security policy, ``nosniff`` and ``no-referrer`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def middleware(allowed_hosts: tuple[str, ...] | None) -> list[Middleware]:
    """The app's middleware: the host check (unless ``allowed_hosts`` is ``None``) and the
    security headers."""
    stack = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        stack.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return stack
