"""What keeps the console's writes the user's own: POST only, from a page it served, with its token.

- Host: only the names it is reached by on loopback (and ``--bind``'s address) are served, so a page of another
  site that rebinds its DNS name to 127.0.0.1 gets no answer (``TrustedHostMiddleware`` in ``app``).
- Origin: a write must come from a page of this console (``Origin``, else ``Referer``, equal to its own origin);
  browsers send it with every POST, and no other site can forge it.
- Token: every form carries a random token made at start, which other sites cannot read.
- Headers: a content security policy that runs only the console's own script and styles, and no framing (a
  confirmation button must not be clickable through another site's page).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # not no-referrer: it would make browsers send "Origin: null"
    (b"cache-control", b"no-store"),
]


class Guard:
    def __init__(self, *, read_only: bool) -> None:
        self.read_only = read_only
        self.token = secrets.token_urlsafe(32)

    def refusal(self, request: Request, token: str) -> str | None:
        """Why this write is refused, or None to let it through."""
        if self.read_only:
            return "the console is read-only (started with --read-only)"
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        origin = request.headers.get("origin")
        if origin is None:
            referer = urlsplit(request.headers.get("referer", ""))
            origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else None
        if origin is None or origin.lower() != own:
            return "this request did not come from the console's own page (Origin check)"
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return "the form's token is missing or stale: reload the page and try again"
        return None


class SecurityHeaders:
    """Adds ``HEADERS`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
