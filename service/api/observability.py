"""The access log and request metrics: one JSON line (logger ``sourced.access``) per request.

Logged: method, path, route template, status, latency, client address and outcome. Never
logged: the query string (a question can be private; its length is logged instead), headers
(they carry the API key) and bodies.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.metrics import Metrics

access_log = logging.getLogger("sourced.access")
UNMATCHED = "<unmatched>"
MAX_LOGGED_PATH = 300


def route_template(scope: Scope) -> str:
    """``/documents/{doc_id}`` for ``/documents/harbour``: bounded, unlike raw paths."""
    route = scope.get("route")
    if route is None:  # answered before routing (413, 429): find the route it was meant for
        router = getattr(scope.get("app"), "router", None)
        for candidate in getattr(router, "routes", ()):
            if candidate.matches(scope)[0] != Match.NONE:
                route = candidate
                break
    return getattr(route, "path_format", None) or UNMATCHED


def default_outcome(status: int) -> str:
    return "ok" if status < 400 else "server_error" if status >= 500 else "client_error"


class AccessLog:
    """Outermost middleware: times every request, counts it, and writes its log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 0

        async def send_watching_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_watching_status)
        except Exception:  # the server's error middleware answers 500 after we return
            if not status:
                status = 500
                state["outcome"] = "internal"
            raise
        finally:
            seconds = time.perf_counter() - start
            self._record(scope, status, seconds, state.get("outcome"))

    def _record(self, scope: Scope, status: int, seconds: float, outcome: str | None) -> None:
        route = route_template(scope)
        self.metrics.observe_request(scope["method"], route, status, seconds)
        client = scope.get("client")
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"][:MAX_LOGGED_PATH],
            "route": route,
            "query_chars": len(scope.get("query_string", b"")),
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
            "outcome": outcome or (default_outcome(status) if status else "disconnected"),
        }
        access_log.info(json.dumps(entry, ensure_ascii=True), extra={"access": entry})
