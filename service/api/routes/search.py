"""``/search``: ranked passages for a query, without answer extraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import EngineDep, FiltersDep
from service.api.errors import error_responses
from service.api.schemas import MAX_TOP_K, Question, SearchResults

router = APIRouter(prefix="/search", tags=["search"], responses=error_responses(422, 429, 503))


@router.get("", response_model=SearchResults)
def search(
    engine: EngineDep,
    q: Annotated[Question, Query(description="What to look for.")],
    filters: FiltersDep,
    k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="Passages [default 5].")] = None,
) -> SearchResults:
    """Ranked passages (hybrid retrieval), without answer extraction; filters as ``GET /ask``."""
    passages = engine.search(q, k, filters)
    return SearchResults(query=q, count=len(passages), passages=passages)
