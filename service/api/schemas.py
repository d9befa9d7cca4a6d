"""Request and response bodies of the HTTP API (answers reuse ``service.schemas``).

Length and range checks live here, in the types, never in handler code.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from index.records import is_valid_doc_id
from service.config import Settings
from service.schemas import Passage

MAX_QUESTION_CHARS: int = Settings.model_fields["max_question_chars"].default
MAX_TOP_K = 50
MAX_TEXT_CHARS = 2_000_000

Question = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS)]
TopK = Annotated[int | None, Field(ge=1, le=MAX_TOP_K, description="Chunks to retrieve.")]
NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ErrorBody(BaseModel):
    """Every 4xx/5xx response: a readable message and a stable machine code."""

    detail: str = Field(examples=["No document with id 'nope'."])
    code: str = Field(examples=["document_not_found"])


class AskRequest(BaseModel):
    question: Question = Field(examples=["How many US troops are in Iraq?"])
    top_k: TopK = None


class SearchResults(BaseModel):
    query: str
    count: int
    passages: list[Passage]


class DocumentCreate(BaseModel):
    """A document to add, or to replace when ``doc_id`` is already indexed."""

    doc_id: str | None = Field(
        default=None, max_length=128, description="Defaults to a slug of the title.",
        examples=["iraq-us-coalition-talks"],
    )
    title: NonBlank
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    url: str | None = Field(default=None, max_length=2000)
    published: str | None = Field(default=None, max_length=100, examples=["2024-02-11"])
    source: str | None = Field(default=None, max_length=200, examples=["cnn.com"])

    @field_validator("doc_id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_doc_id(value):
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
