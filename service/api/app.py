"""The app factory: settings, lifespan (load the engine once), error handlers, routes, web form.

Run it with ``sourced serve``, or ``uvicorn --factory service.api.app:create_app``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.errors import SourcedError
from service.api.routes import ask, documents, health, search
from service.config import Settings
from service.engine import Engine

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MAX_BODY_BYTES = 2_500_000
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "content_too_large"}
# The form loads only its own files: document text can never bring in a script.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; an injected ``engine`` is started if needed and left open for its owner."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        eng = engine or Engine(settings)
        if not eng.ready:  # slow: loads the model, and builds the index from corpus/ if missing
            await run_in_threadpool(eng.start, build_if_missing=True, progress=False)
        app.state.engine = eng
        try:
            yield
        finally:
            app.state.engine = None
            if engine is None:
                eng.close()

    app = FastAPI(
        title="sourced",
        summary="Answers questions over news articles, with the exact sentence they came from.",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.engine = None
    for module in (ask, search, documents, health):
        app.include_router(module.router)
    _add_error_handlers(app)
    _add_web(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


# ------------------------------------------------------------------------------------ errors

def _error(status: int, detail: str, code: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SourcedError)
    async def domain_error(_: Request, exc: SourcedError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return _error(exc.http_status, exc.message, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0]
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error", "JSON decode error")
            return _error(400, f"The body is not valid JSON: {reason}.", "invalid_json")
        loc = [str(part) for part in first.get("loc", ())]
        field = ".".join(loc[1:]) or (loc[0] if loc else "request")
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return _error(422, f"{field}: {message}", "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code)
        code = code or HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        return _error(exc.status_code, str(exc.detail), code, exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "Internal error", "internal")


# ------------------------------------------------------------------------------------ web form

def _add_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The web form; ``/?doc=ID&start=S&end=E`` shows a document with that span highlighted."""
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)


# ------------------------------------------------------------------------------------ body limit

class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than the {max_bytes / 1e6:g} MB limit.")


class BodySizeLimit:
    """Refuse bodies over ``max_bytes``: by Content-Length up front, else while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await _error(413, str(too_large.detail), HTTP_CODES[413])(scope, receive, send)
            return
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _error(413, str(too_large.detail), HTTP_CODES[413])(scope, receive, send)
