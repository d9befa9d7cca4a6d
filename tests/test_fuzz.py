"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid; each response must not be a 5xx
and must match the schema: a declared status code, the declared body (errors are
``{"detail", "code"}``), content type and headers, ``Allow`` on 405s, and a 401 without the key.
In-process over ASGI, on the fake embedder. ``--hypothesis-show-statistics`` prints the counts.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.types import ASGIApp, Receive, Scope, Send

from index.cleaning import clean_text, published_date
from service.api import create_app
from service.config import Settings
from service.engine import Engine

KEY = {"X-API-Key": "k"}
ARTICLES = {
    "harbour.md": "# Harbour bridge reopens\n\nThe harbour bridge reopened on Monday after "
    "repairs that cost 12 million euros.\n",
    "library.md": "# Springfield library vote\n\nThe Springfield council voted on Tuesday to "
    "approve a library budget. The mayor said the library would open in March 2025.\n",
}


class AppFromFixture:
    """The ASGI app schemathesis sends to; the fixture below plugs the real one in."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the fuzz_app fixture builds the app"
        await self.app(scope, receive, send)


# schemathesis's pytest integration needs the schema and app at import time (its fixture loader
# does not work with pytest 9), and ``from_asgi`` would start the lifespan (load an index) right
# away. The schema does not depend on the index: it is read from an app that is never started,
# and requests go to the fixture's app (as ``from_asgi`` does, the app is set on the schema).
APP = AppFromFixture()
SCHEMA_ONLY = create_app(Settings(embedder="hash", reader="fake", api_key="k"))
schema = schemathesis.openapi.from_dict(SCHEMA_ONLY.openapi())
schema.app = APP


@schema.hook
def filter_case(context, case) -> bool:
    """JSON Schema cannot say ``published_from <= published_to``, nor which strings are a
    believable publication date ("Aug 19, 2022" is, "next tuesday" and "2999-01-01" are not):
    such requests pass the schema and are the API's to refuse (422 ``invalid_filter``,
    tests/test_filters.py; 422 ``bad_date``, tests/test_api.py), so they are not generated as
    valid data here. Nor is a document whose text is only boilerplate ("All rights reserved."):
    it cleans to nothing, and 422 ``empty_document`` is the answer (tests/test_api_hostile.py)."""
    fields = [case.query or {}, case.body if isinstance(case.body, dict) else {}]
    for given in fields:
        start, end = given.get("published_from"), given.get("published_to")
        if isinstance(start, str) and isinstance(end, str) and start > end:
            return False
        published = given.get("published")
        if isinstance(published, str):
            try:
                published_date(published)
            except ValueError:
                return False
        text = given.get("text")
        if isinstance(text, str) and text.strip() and not clean_text(text).strip():
            return False
    return True


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, nlp):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "corpus").mkdir()
    for name, text in ARTICLES.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    config = Settings(embedder="hash", reader="fake", index_dir=root / "idx", corpus_dir=root / "corpus",
                      api_key="k", rate_limit_per_minute=0)
    # Injected and started here: schemathesis runs the app's lifespan itself and keeps it until
    # the process exits, and with an engine given, the lifespan neither loads nor closes it.
    engine = Engine(config, nlp=nlp)
    engine.start(build_if_missing=True, progress=False)
    APP.app = create_app(config, engine)
    yield APP.app
    engine.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema_and_never_fails(case, fuzz_app):
    case.call_and_validate(headers=KEY if case.method in ("POST", "DELETE") else None)
