"""The app factory: settings, lifespan (load the engine once), middleware, routes, web form.

Run it with ``sourced serve``, or ``uvicorn --factory service.api.app:create_app``.
Errors are translated in ``errors.py``; body size and rate limits live in ``limits.py``,
security headers in ``headers.py``, the access log and metrics in ``observability.py`` and
``metrics.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import os
import signal
import sys
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from service.api import metrics
from index.errors import AuthNotConfiguredError
from service.api.deps import require_api_key
from service.api.errors import add_error_handlers, error_responses
from service.api.headers import PAGE_HEADERS, SecurityHeaders
from service.api.limits import BodySizeLimit, RateLimit
from service.api.observability import AccessLog
from service.api.routes import ask, documents, health, search
from service.config import Settings
from service.engine import Engine

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; an injected ``engine`` is started if needed and left open for its owner."""
    settings = settings or Settings()
    if settings.protect_reads and not settings.api_key:
        raise AuthNotConfiguredError(
            "SOURCED_PROTECT_READS needs SOURCED_API_KEY: set the key, or turn protection off."
        )

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
    app.state.metrics = metrics.Metrics(index_counts=lambda: _index_counts(app))
    _add_routes(app, settings)
    add_error_handlers(app)
    _add_web(app)
    # The last added runs first: log and count everything (413s and 429s too), add the security
    # headers, then rate-limit, then cap bodies.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute,
                       limit_loopback=settings.rate_limit_loopback)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog, metrics=app.state.metrics)
    return app


SUPERVISOR_PID = "SOURCED_SERVE_SUPERVISOR_PID"  # set by `sourced serve --workers N`


def app_from_environment() -> FastAPI:
    """The factory each ``sourced serve --workers N`` process calls: settings from SOURCED_*
    (the CLI exports its options there), its own engine over the shared index."""
    _die_with_supervisor()
    return create_app(Settings())


def _die_with_supervisor() -> None:
    """A worker whose supervisor is killed (kill -9, OOM) must not keep serving on the port as an
    orphan: ask Linux for SIGTERM when the parent dies (a graceful shutdown: acknowledged writes
    are already committed). Elsewhere there is no such call and nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    supervisor = os.environ.get(SUPERVISOR_PID)
    if supervisor and os.getppid() != int(supervisor):  # it died before the call above
        os.kill(os.getpid(), signal.SIGTERM)


def _add_routes(app: FastAPI, settings: Settings) -> None:
    """Reads (and /metrics) need the key only when ``protect_reads``; the schema says which."""
    guard: dict[str, Any] = {}
    if settings.protect_reads:
        guard = {"dependencies": [Depends(require_api_key)], "responses": error_responses(401)}
    for module in (ask, search, documents):
        app.include_router(module.router, **guard)
    app.include_router(metrics.router, **guard)
    app.include_router(health.router)


def _index_counts(app: FastAPI) -> dict[str, int] | None:
    engine = app.state.engine
    return engine.counts() if engine is not None and engine.ready else None


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


# ------------------------------------------------------------------------------------ web form

def _add_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The web form; ``/?doc=ID&start=S&end=E`` shows a document with that span highlighted."""
        return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)
