"""``/health`` (the process is up) and ``/ready`` (the index is loaded and answering)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.schemas import NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: always 200 while the process serves requests."""
    return {"status": "ok"}


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
    return Ready(**engine.counts())
