"""Request and response bodies of the HTTP API (answers reuse ``service.schemas``).

Length and range checks live here, in the types, never in handler code.
"""

from __future__ import annotations

import datetime as dt
import re
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

from index.records import is_valid_doc_id
from service.config import Settings
from service.filters import Filters
from service.schemas import NOT_BLANK, Passage

MAX_QUESTION_CHARS: int = Settings.model_fields["max_question_chars"].default
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
# in ``service.schemas``: the answerer refuses a blank question by the same class).
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"  # something ``index.cleaning.clean_text`` keeps


def _not_blank(value: str) -> str:
    if not re.search(NOT_BLANK, value):
        raise ValueError("String should have at least one character that is not a space")
    return value


def _visible(value: str) -> str:
    if not re.search(VISIBLE, value):
        raise ValueError("String should have a character that is not a space or a control")
    return value


# Blank questions are the answerer's to refuse (with its own message); the schema says so too.
Question = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS),
    Field(json_schema_extra={"pattern": NOT_BLANK}),
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


ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_SOURCES = 20


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic would also take a timestamp ("1700000000") as a date."""
    if value is None or isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("use an ISO date, YYYY-MM-DD (e.g. 2022-01-31)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None


# Filters (``service.filters``): an inclusive publication window and publisher names. Whether
# they fit together (from <= to) is the domain's to say, with the same message as the CLI's.
PublishedFrom = Annotated[
    dt.date | None, BeforeValidator(_iso_date),
    Field(description="Only articles published on or after this date (YYYY-MM-DD). "
          "Articles without a date are left out.", examples=["2022-01-01"]),
]
PublishedTo = Annotated[
    dt.date | None, BeforeValidator(_iso_date),
    Field(description="Only articles published on or before this date (YYYY-MM-DD). "
          "Articles without a date are left out.", examples=["2022-01-07"]),
]
SourceName = Annotated[
    str, StringConstraints(min_length=1, max_length=200),
    Field(json_schema_extra={"pattern": NOT_BLANK}), AfterValidator(_not_blank),
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
    published: str | None = Field(default=None, max_length=100, examples=["2024-02-11"])
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


class NotReady(ErrorBody):
    ready: Literal[False] = False
