"""Errors at the HTTP edge: each one becomes JSON ``{"detail", "code"}``, here and only here.

Routes and dependencies raise ``SourcedError``s (``index/errors.py``, ``deps.py``); FastAPI raises
validation and HTTP errors. The handlers below translate them once, and record the ``code`` as
the request's outcome for the access log (``observability.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from index.errors import SourcedError
from service.api.schemas import DOMAIN_ERROR, ErrorBody

log = logging.getLogger(__name__)

HTTP_CODES = {
    404: "not_found", 405: "method_not_allowed", 413: "content_too_large", 429: "rate_limited",
}
# What FastAPI says when the body is not JSON at all (bad bytes, nesting past the recursion limit).
UNPARSABLE_BODY = "There was an error parsing the body"
ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON (or not UTF-8).",
    401: "Missing or wrong API key.",
    403: "Writes (or protected reads) are disabled: no SOURCED_API_KEY is set.",
    404: "No such document.",
    413: "The request body is over the size limit.",
    415: "The body is not JSON.",
    422: "A parameter or body field is invalid.",
    429: "Too many requests from this client IP: over SOURCED_RATE_LIMIT_PER_MINUTE (default "
         "120 a minute, in bursts of as many). Loopback clients (127.0.0.0/8, ::1) are not "
         "limited unless SOURCED_RATE_LIMIT_LOOPBACK is set. Wait Retry-After seconds.",
    503: "The index is not loaded yet, or is busy.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for error statuses, all with the ``ErrorBody`` shape."""
    table: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        table[status] = {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        if status == 429:
            table[status]["headers"] = RETRY_AFTER
    return table


def allowed_methods(request: Request) -> str:
    """Every method of every route at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def set_outcome(scope: Scope, outcome: str) -> None:
    """Tell the access log how the request ended ("answered", "unauthorized", ...)."""
    scope.setdefault("state", {})["outcome"] = outcome


def error_response(
    scope: Scope, status: int, detail: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    set_outcome(scope, code)
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SourcedError)
    async def domain_error(request: Request, exc: SourcedError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return error_response(request.scope, exc.http_status, exc.message, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0]
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error", "JSON decode error")
            detail = f"The body is not valid JSON: {reason}."
            return error_response(request.scope, 400, detail, "invalid_json")
        if first.get("type") == DOMAIN_ERROR:  # a domain check in the schema: its own words
            ctx = first["ctx"]
            return error_response(request.scope, 422, ctx["message"], ctx["code"])
        loc = [str(part) for part in first.get("loc", ())]
        field = ".".join(loc[1:]) or (loc[0] if loc else "request")
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return error_response(request.scope, 422, f"{field}: {message}", "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
            detail = "The body is not valid JSON: it is not UTF-8 text, or it is nested too deeply."
            return error_response(request.scope, 400, detail, "invalid_json")
        code = HTTP_CODES.get(exc.status_code)
        code = code or HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(request.scope, exc.status_code, str(exc.detail), code, headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # The path only: a query string can hold a private question.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request.scope, 500, "Internal error", "internal")
