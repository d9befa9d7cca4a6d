"""Dependencies: engine, settings and metrics from ``app.state``, the API key, body checks."""

from __future__ import annotations

import email.message
import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from index.errors import (
    IndexNotFoundError,
    InvalidDocumentIdError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    WritesDisabledError,
)
from service.api.errors import set_outcome
from service.api.schemas import (
    DOC_ID_SCHEMA,
    MAX_SOURCES,
    SOURCES_DESCRIPTION,
    PublishedFrom,
    PublishedTo,
    SourceName,
    is_safe_doc_id,
)
from service.config import Settings
from service.engine import Engine
from service.filters import Filters
from service.schemas import Answer


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise IndexNotFoundError("The service is starting: the index is not loaded yet.")
    return engine


def answer_recorder(request: Request) -> Callable[[Answer], Answer]:
    """Counts an answer by outcome (metrics, access log) and hands it back."""

    def record(answer: Answer) -> Answer:
        outcome = "answered" if answer.answer is not None else "abstained"
        request.app.state.metrics.observe_answer(outcome)
        set_outcome(request.scope, outcome)
        return answer

    return record


def query_filters(
    published_from: Annotated[PublishedFrom, Query()] = None,
    published_to: Annotated[PublishedTo, Query()] = None,
    source: Annotated[
        list[SourceName],
        Query(max_length=MAX_SOURCES, description=SOURCES_DESCRIPTION + " Repeatable."),
    ] = [],  # noqa: B006 (FastAPI copies defaults per request)
) -> Filters:
    """Filters from the query string: ``?published_from=...&published_to=...&source=a&source=b``."""
    return Filters(published_from, published_to, tuple(source))


SettingsDep = Annotated[Settings, Depends(get_settings)]
FiltersDep = Annotated[Filters, Depends(query_filters)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RecordAnswerDep = Annotated[Callable[[Answer], Answer], Depends(answer_recorder)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="Needed for writes, and for reads when SOURCED_PROTECT_READS is set.",
)
_bearer = HTTPBearer(auto_error=False, description="Alternative to X-API-Key.")


def require_api_key(
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Writes (and protected reads) need the key, in ``X-API-Key`` or ``Authorization: Bearer``.

    Checked before anything about the request is looked at, so a refusal never tells whether
    a document exists. Neither key is ever logged.
    """
    expected = settings.api_key.get_secret_value() if settings.api_key else ""
    if not expected:
        raise WritesDisabledError("Writes are disabled: set SOURCED_API_KEY to enable them.")
    given = api_key or (bearer.credentials if bearer else "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise UnauthorizedError("Missing or wrong API key: send it in the X-API-Key header.")


def require_json(request: Request) -> None:
    """POST bodies must be JSON (``application/json`` or ``application/*+json``)."""
    message = email.message.Message()
    message["content-type"] = request.headers.get("content-type", "")
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        raise UnsupportedMediaTypeError(
            "The request body must be JSON (Content-Type: application/json)."
        )


DocIdPath = Annotated[
    str, Path(examples=["iraq-us-coalition-talks"], json_schema_extra=DOC_ID_SCHEMA)
]


def valid_doc_id(request: Request, doc_id: DocIdPath) -> str:
    if request.scope["path"].endswith("\n"):
        # ``{doc_id:path}`` is ``(.*)$``: "$" matches before a final newline, which falls off.
        doc_id += "\n"
    if not is_safe_doc_id(doc_id):
        raise InvalidDocumentIdError(
            f"Invalid doc_id {doc_id[:140]!r}: use up to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'."
        )
    return doc_id


DocIdDep = Annotated[str, Depends(valid_doc_id)]
