"""Security headers: every response says "don't sniff" and "no referrer"; the page adds a CSP.

A JSON body that quotes ``<script>`` from an article must never be read as HTML, whoever
opens it; the form itself loads only its own files, so document text can never bring in a script.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALL_RESPONSES = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# Only for the form: /docs (Swagger UI) loads its script from a CDN and would break under it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    **ALL_RESPONSES,
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALL_RESPONSES.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
