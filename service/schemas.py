"""Public shapes of an answer: what the CLI's ``--json`` prints and the HTTP API returns."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """A verified quote: ``document.text[char_start:char_end] == quote``."""

    doc_id: str
    title: str
    url: str | None
    published: str | None = None
    quote: str = Field(description="The supporting sentence, verbatim.")
    char_start: int = Field(description="Offset of the quote in the document text.")
    char_end: int
    answer_start: int | None = Field(
        default=None, description="Offset of the answer in the document text (None if abstained)."
    )
    answer_end: int | None = None
    score: float = 0.0


class Alternative(Citation):
    """A different answer of the same type that another sentence supports about as strongly:
    verified like any citation, so ``document.text[answer_start:answer_end] == answer``."""

    answer: str = Field(description="The competing answer, a verbatim span of this quote.")


class Computation(BaseModel):
    """A computed answer: ``operation`` over the figures ``operands`` cite (each verified, each a
    span of its quote), shown as ``expression``."""

    operation: str = Field(description="'sum' or 'difference'.")
    expression: str = Field(description="The arithmetic, e.g. '2,500 + some 900 = about 3,400'.")
    operands: list[Alternative] = Field(description="Each figure with its verified citation.")


class Passage(BaseModel):
    """A retrieved chunk, shown as nearest evidence (also when the answer abstains)."""

    doc_id: str
    title: str
    url: str | None
    published: str | None = None
    text: str
    char_start: int
    char_end: int
    score: float


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    extraction_ms: float = 0.0
    total_ms: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str | None = Field(description="A verbatim span of the cited quote (or, when "
                               "computation is set, the result of arithmetic over cited figures), "
                               "or null.")
    answer_type: str = Field(description="Expected answer type guessed from the question.")
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str | None = Field(default=None, description="Why the answer is null, if it is.")
    citations: list[Citation] = Field(default_factory=list)
    conflict: bool = Field(
        default=False,
        description="True when the sources disagree: another sentence gives a different answer of "
        "the same type with strong support (listed in alternatives).",
    )
    alternatives: list[Alternative] = Field(
        default_factory=list, description="The competing answers when conflict is true, best first."
    )
    history: list[Alternative] = Field(
        default_factory=list, description="Earlier values of the same claim from older articles, "
        "newest first: the answer is the newest article's value.")
    computation: Computation | None = Field(
        default=None, description="Set when the answer is computed from several cited figures.")
    passages: list[Passage] = Field(default_factory=list)
    notice: str | None = Field(
        default=None, description="Something the reader wants said, e.g. that the LLM reader "
        "timed out and the extractive reader answered instead.")
    timings: Timings = Field(default_factory=Timings)
