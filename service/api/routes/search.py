"""``/search``: ranked passages for a query, without answer extraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import EngineDep
from service.api.schemas import MAX_TOP_K, ErrorBody, Question, SearchResults

router = APIRouter(prefix="/search", tags=["search"], responses={422: {"model": ErrorBody}})


@router.get("", response_model=SearchResults)
def search(
    engine: EngineDep,
    q: Annotated[Question, Query(description="What to look for.")],
    k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="Passages [default 5].")] = None,
) -> SearchResults:
    passages = engine.search(q, k)
    return SearchResults(query=q, count=len(passages), passages=passages)
