"""``/ask``: a question in, an ``Answer`` out (the same JSON as ``sourced ask --json``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.api.deps import EngineDep, FiltersDep, RecordAnswerDep, require_json
from service.api.errors import error_responses
from service.api.schemas import AskRequest, Question, TopK
from service.schemas import Answer

router = APIRouter(prefix="/ask", tags=["ask"], responses=error_responses(422, 429, 503))


@router.post("", response_model=Answer, responses=error_responses(400, 413, 415),
             dependencies=[Depends(require_json)])
def ask(body: AskRequest, engine: EngineDep, record: RecordAnswerDep) -> Answer:
    """Answer with a verbatim span and the sentence it came from, or abstain (answer null).

    ``published_from``/``published_to`` (inclusive) and ``sources`` restrict the articles used;
    when none match, the answer is null and ``reason`` says so.
    """
    return record(engine.ask(body.question, body.top_k, body.filters()))


@router.get("", response_model=Answer)
def ask_get(
    engine: EngineDep,
    record: RecordAnswerDep,
    q: Annotated[Question, Query(description="The question.")],
    filters: FiltersDep,
    top_k: Annotated[TopK, Query()] = None,
) -> Answer:
    """The same as ``POST /ask``, for links and quick tries: ``/ask?q=...&source=cnn.com``."""
    return record(engine.ask(q, top_k, filters))
