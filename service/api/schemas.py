"""Request and response bodies of the HTTP API (answers reuse ``service.schemas``).

Length and range checks live here, in the types, never in handler code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from index.errors import SourcedError
from index.records import is_valid_doc_id
from service.filters import Filters, parse_date, source_key
from service.questions import MAX_QUESTION_CHARS, NOT_BLANK, check_question
from service.schemas import Passage

MAX_TOP_K = 50
MAX_TEXT_CHARS = 2_000_000
# ``index.records.is_valid_doc_id`` as a JSON Schema pattern (no look-ahead: "no '..'" is spelled
# out as "every '.' is followed by another allowed character, or ends the id"). Documentation
# only: the check itself stays in ``is_valid_doc_id``, with its own message.
DOC_ID_SCHEMA: dict[str, Any] = {
    "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?$", "maxLength": 128,
}


def is_safe_doc_id(value: str) -> bool:
    """``is_valid_doc_id``, minus a trailing newline that its ``$`` lets through (ids go into
    the ``Location`` header and URLs, where a newline must never get)."""
    return is_valid_doc_id(value) and "\n" not in value


# Character classes the schema states and the server enforces alike. Spelled out so that Python's
# ``re`` and the JSON Schema validators (ECMA-262, Rust) read them the same way (``NOT_BLANK``,
# in ``service.questions``: a blank question is refused by the same class).
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"  # something ``index.cleaning.clean_text`` keeps
# The pydantic error type of a domain check's refusal; ``errors.py`` answers it with the domain's
# own message and code, so a mistake reads the same from the CLI, the API and the web form.
DOMAIN_ERROR = "sourced_domain"


def domain_check(check: Callable[[Any], object]) -> Callable[[Any], Any]:
    """A validator that runs ``check`` on the value and keeps the value as given."""

    def validate(value: Any) -> Any:
        try:
            check(value)
        except SourcedError as exc:
            raise PydanticCustomError(
                DOMAIN_ERROR, "{message}", {"message": exc.message, "code": exc.code}
            ) from None
        return value

    return validate


def _not_blank(value: str) -> str:
    if not re.search(NOT_BLANK, value):
        raise ValueError("String should have at least one character that is not a space")
    return value


def _visible(value: str) -> str:
    if not re.search(VISIBLE, value):
        raise ValueError("String should have a character that is not a space or a control")
    return value


# Checked by the same function as the CLI's question; the schema states the same limits.
Question = Annotated[
    str, AfterValidator(domain_check(check_question)),
    Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": NOT_BLANK}),
]
TopK = Annotated[int | None, Field(ge=1, le=MAX_TOP_K, description="Chunks to retrieve.")]


def _json_integer(value: object) -> object:
    """In a JSON body ``true`` and ``"5"`` are not integers (``5.0`` is, as JSON Schema says)."""
    if isinstance(value, (bool, str)):
        raise ValueError("Input should be a valid integer")
    return value


JsonTopK = Annotated[TopK, BeforeValidator(_json_integer)]
Title = Annotated[
    str, StringConstraints(min_length=1, max_length=500),
    Field(json_schema_extra={"pattern": NOT_BLANK}), AfterValidator(_not_blank),
]
NO_BRACKETS = r"^[^\[\]]*$"  # unbalanced ones make urlsplit raise; none belong in an article url


def _url(value: str) -> str:
    if not re.match(NO_BRACKETS, value):
        raise ValueError("'[' and ']' are not allowed in a url: percent-encode them (%5B, %5D)")
    try:  # indexing keeps a url urlsplit refuses as written; over HTTP we can ask for a better one
        urlsplit(value if "://" in value else "https://" + value.lstrip("/"))
    except ValueError as exc:
        raise ValueError(f"not a url ({exc})") from None
    return value


Url = Annotated[
    str, StringConstraints(max_length=2000), Field(json_schema_extra={"pattern": NO_BRACKETS}),
    AfterValidator(_url),
]
ArticleText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS),
    Field(json_schema_extra={"pattern": VISIBLE}), AfterValidator(_visible),
]


def _date_filter(name: str) -> Callable[[Any], Any]:
    """``service.filters.parse_date`` as a validator: only ``YYYY-MM-DD`` (pydantic would also
    take a timestamp, "1700000000"), refused with the same message and code as the CLI's."""
    return domain_check(lambda value: value is None or parse_date(value, name))


MAX_SOURCES = 20


# Filters (``service.filters``): an inclusive publication window and publisher names. Each value,
# and whether they fit together (from <= to), is the domain's to judge, in the CLI's words.
PublishedFrom = Annotated[
    dt.date | None, BeforeValidator(_date_filter("published_from")),
    Field(description="Only articles published on or after this date (YYYY-MM-DD). "
          "Articles without a date are left out.", examples=["2022-01-01"]),
]
PublishedTo = Annotated[
    dt.date | None, BeforeValidator(_date_filter("published_to")),
    Field(description="Only articles published on or before this date (YYYY-MM-DD). "
          "Articles without a date are left out.", examples=["2022-01-07"]),
]
SourceName = Annotated[
    str, StringConstraints(max_length=200), AfterValidator(domain_check(source_key)),
    Field(json_schema_extra={"minLength": 1, "pattern": NOT_BLANK}),
]
SOURCES_DESCRIPTION = (
    "Only articles from these sources (any of them), e.g. cnn.com; case-insensitive, "
    "'www.' and urls are reduced to the host, subdomains match."
)


class ErrorBody(BaseModel):
    """Every 4xx/5xx response: a readable message and a stable machine code."""

    detail: str = Field(examples=["No document with id 'nope'."])
    code: str = Field(examples=["document_not_found"])


class AskRequest(BaseModel):
    question: Question = Field(examples=["How many US troops are in Iraq?"])
    top_k: JsonTopK = None
    published_from: PublishedFrom = None
    published_to: PublishedTo = None
    sources: list[SourceName] = Field(
        default_factory=list, max_length=MAX_SOURCES, description=SOURCES_DESCRIPTION,
        examples=[["cnn.com"]],
    )

    def filters(self) -> Filters:
        """The filters asked for; raises ``InvalidFilterError`` when they cannot hold."""
        return Filters(self.published_from, self.published_to, tuple(self.sources))


class SearchResults(BaseModel):
    query: str
    count: int
    passages: list[Passage]


class DocumentCreate(BaseModel):
    """A document to add, or to replace when ``doc_id`` is already indexed."""

    doc_id: str | None = Field(
        default=None, max_length=128, description="Defaults to a slug of the title.",
        examples=["iraq-us-coalition-talks"], json_schema_extra=DOC_ID_SCHEMA,
    )
    title: Title
    text: ArticleText = Field(description="Plain text or Markdown; cleaned before indexing.")
    url: Url | None = None
    published: str | None = Field(
        default=None, max_length=100, examples=["2024-02-11"],
        description="The publication date, best as YYYY-MM-DD ('Aug 19, 2022' is read too). "
        "No date, more than a day ahead or before 1900 is refused: 422 bad_date.",
    )
    source: str | None = Field(default=None, max_length=200, examples=["cnn.com"])

    @field_validator("doc_id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        if value is not None and not is_safe_doc_id(value):
            raise ValueError(
                "use up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                "without '..'"
            )
        return value


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    chars: int = Field(description="Length of the text in characters (code points).")


class DocumentPublic(DocumentSummary):
    text: str = Field(description="The text that citation offsets point into (code points).")


class DocumentsPublic(BaseModel):
    data: list[DocumentSummary]
    count: int = Field(description="Total number of indexed documents.")
    offset: int
    limit: int


class Ready(BaseModel):
    ready: Literal[True] = True
    documents: int
    chunks: int
    sentences: int
    index_complete: bool = True
    notice: str | None = Field(default=None, description="Set when the index is incomplete.")


class NotReady(ErrorBody):
    ready: Literal[False] = False
