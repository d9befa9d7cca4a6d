"""``/ask``: a question in, an ``Answer`` out (the same JSON as ``sourced ask --json``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.api.deps import EngineDep, require_json
from service.api.schemas import AskRequest, ErrorBody, Question, TopK
from service.schemas import Answer

router = APIRouter(
    prefix="/ask", tags=["ask"],
    responses={422: {"model": ErrorBody, "description": "Empty or too long question, bad top_k."}},
)


@router.post("", response_model=Answer, responses={415: {"model": ErrorBody}},
             dependencies=[Depends(require_json)])
def ask(body: AskRequest, engine: EngineDep) -> Answer:
    """Answer with a verbatim span and the sentence it came from, or abstain (answer null)."""
    return engine.ask(body.question, body.top_k)


@router.get("", response_model=Answer)
def ask_get(
    engine: EngineDep,
    q: Annotated[Question, Query(description="The question.")],
    top_k: Annotated[TopK, Query()] = None,
) -> Answer:
    """The same as ``POST /ask``, for links and quick tries: ``/ask?q=...``."""
    return engine.ask(q, top_k)
