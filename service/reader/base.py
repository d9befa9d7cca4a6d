"""The reader's contract: a question and its evidence sentences in, ranked candidate answers with
a calibrated confidence out. The engine, API, CLI and evaluation use only this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from service.reader.evidence import Question, Sentence

# A kind of candidate (service/reader/spans.KINDS) and the answer type it gives (Answer.answer_type).
ANSWER_TYPES = {
    "CARDINAL": "number", "MONEY": "number", "PERCENT": "number", "QUANTITY": "number",
    "NUM": "number", "ORDINAL": "number", "DATE": "date", "TIME": "date", "PERSON": "person",
    "ORG": "org", "NORP": "org", "GPE": "place", "LOC": "place", "FAC": "place",
}


def answer_type(kind: str) -> str:
    return ANSWER_TYPES.get(kind, "other")


@dataclass(frozen=True)
class Found:
    """A candidate answer: characters ``[start, end)`` of evidence sentence ``sentence``."""

    sentence: int
    start: int
    end: int
    text: str
    kind: str
    score: float  # the ranker's score: higher is better, comparable within one reading only
    confidence: float = 0.0  # calibrated probability that it is right, had it been the answer


@dataclass(frozen=True)
class Reading:
    """What a reader makes of the evidence: candidates best first (each distinct answer once),
    the confidence that the first is right, the answer type it expects, when it declines, why,
    and the confidence below which its answer is not given."""

    candidates: list[Found] = field(default_factory=list)
    confidence: float = 0.0
    expected_type: str = "other"
    reason: str | None = None
    notice: str | None = None  # e.g. the LLM reader fell back to the extractive one
    # Below this confidence the answer is declined: fitted with the calibrator (see
    # eval.reader_fit.fit_threshold); 0.5, "more likely right than wrong", when none was fitted.
    abstain_below: float = 0.5

    @property
    def best(self) -> Found | None:
        return self.candidates[0] if self.candidates else None


@runtime_checkable
class Reader(Protocol):
    name: str

    def read(self, question: Question, sentences: Sequence[Sentence]) -> Reading: ...
