"""Dependencies: the engine and settings from ``app.state``, the API key, body checks."""

from __future__ import annotations

import email.message
import hmac
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from index.errors import IndexNotFoundError, InvalidDocumentIdError, SourcedError
from index.records import is_valid_doc_id
from service.config import Settings
from service.engine import Engine


class UnauthorizedError(SourcedError):
    code = "unauthorized"
    http_status = 401


class WritesDisabledError(SourcedError):
    code = "writes_disabled"
    http_status = 403


class UnsupportedMediaTypeError(SourcedError):
    code = "unsupported_media_type"
    http_status = 415


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise IndexNotFoundError("The service is starting: the index is not loaded yet.")
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Needed for writes.")
_bearer = HTTPBearer(auto_error=False, description="Alternative to X-API-Key.")


def require_api_key(
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Writes need the configured key, in ``X-API-Key`` or ``Authorization: Bearer``."""
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


def valid_doc_id(doc_id: Annotated[str, Path(examples=["iraq-us-coalition-talks"])]) -> str:
    if not is_valid_doc_id(doc_id):
        raise InvalidDocumentIdError(
            f"Invalid doc_id {doc_id[:140]!r}: use up to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'."
        )
    return doc_id


DocIdDep = Annotated[str, Depends(valid_doc_id)]
