"""``/health`` (the process is up) and ``/ready`` (the index is loaded and answering)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.schemas import NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, str | bool | int]:
    """Liveness: always 200 while the process serves requests; says whether the index is
    complete (an interrupted ``sourced index`` leaves it partial until run again)."""
    engine = getattr(request.app.state, "engine", None)
    build = engine.build if engine is not None and engine.ready else None
    if build is None:
        return {"status": "ok"}
    out: dict[str, str | bool | int] = {"status": "ok", "index_complete": build.complete,
                                        "documents": build.indexed}
    if not build.complete:
        out["documents_expected"] = build.expected
        out["notice"] = build.notice(engine.settings.index_dir) or ""
    return out


@router.get(
    "/ready", response_model=Ready,
    responses={503: {"model": NotReady, "description": "The index is not loaded."}},
)
def ready(request: Request) -> Ready | JSONResponse:
    """Readiness: 200 with document, chunk and sentence counts, or 503."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None or not engine.ready:
        body = NotReady(detail="The index is not loaded yet.", code="not_ready")
        return JSONResponse(body.model_dump(), status_code=503)
    build = engine.build
    return Ready(**engine.counts(), index_complete=build.complete,
                 notice=build.notice(engine.settings.index_dir))
