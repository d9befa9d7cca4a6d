"""RGB ``en_fact`` (counterfactual robustness): does the product repeat an edited-false passage,
and does it notice that its sources disagree?

Each record has a question, its answer, a counterfactual "fake" answer, true passages
(``positive``), the same passages edited to state the fake answer (``positive_wrong``) and
related passages without either (``negative``, "noise"). Per question and condition a tiny index
of that question's passages is built and the question asked once:

* ``true``: true + noise passages (the control: can it answer at all?);
* ``false``: edited-false + noise passages (RGB's own counterfactual setting);
* ``mixed``: true + false + noise (the sources disagree: is it flagged?).

Passages are shuffled with a per-question seed so that index order favours neither kind. Read
from ``datasets/rgb_en_fact`` beside the checkout at run time (CC BY-NC-SA: nothing is copied).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field
from tqdm import tqdm

from eval.metrics import answers_match, percentile
from index.errors import SourcedError
from index.records import Document
from service.schemas import Answer

if TYPE_CHECKING:
    from spacy.language import Language

    from index.embedding import Embedder
    from service.config import Settings

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rgb_en_fact"
Kind = Literal["true", "false", "noise"]
Condition = Literal["true", "false", "mixed"]
Says = Literal["true", "false", "other", "abstained"]
CONDITIONS: dict[str, tuple[Kind, ...]] = {
    "true": ("true", "noise"),
    "false": ("false", "noise"),
    "mixed": ("true", "false", "noise"),
}


class AskOver(Protocol):
    def __call__(self, question: str, docs: Sequence[Document]) -> tuple[Answer, float]:
        """Index ``docs``, ask ``question``; the answer and the ask's own latency in ms."""
        ...


class RgbQuestion(BaseModel):
    id: str
    query: str
    answers: list[str] = Field(min_length=1)  # accepted surface forms of the true answer
    fake_answer: str
    passages: dict[Kind, list[str]]


class RgbRow(BaseModel):
    id: str
    condition: Condition
    question: str
    answers: list[str]
    fake_answer: str
    n_passages: int
    predicted: str | None
    says: Says  # whose answer it gave: the true one, the fake one, something else, none
    cited_kind: Kind | None  # which kind of passage the citation quotes
    confidence: float
    conflict: bool
    alternatives: list[str]
    both_shown: bool  # the answer and its alternatives include both the true and the fake answer
    quote: str | None
    quote_answer: tuple[int, int] | None
    latency_ms: float  # the ask alone, without building the index
    error: str | None = None


class RgbSummary(BaseModel):
    condition: Condition
    n: int
    n_true: int  # answered the true answer
    n_false: int  # answered the fake answer
    n_other: int
    n_abstained: int
    n_cited_false: int  # quoted an edited-false passage
    n_cited_true: int
    n_conflict: int
    n_both_shown: int
    n_errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class RgbReport(BaseModel):
    summaries: list[RgbSummary]
    rows: list[RgbRow]


def load_questions(path: Path | None = None, limit: int | None = None) -> list[RgbQuestion]:
    """The dev records (``en_fact.dev.json``, JSON Lines); a bad line raises ``SourcedError``."""
    folder = path or DEFAULT_DIR
    file = folder / "en_fact.dev.json" if folder.is_dir() else folder
    if not file.is_file():
        raise SourcedError(
            f"RGB en_fact data not found at {file}. Pass --rgb-data to the folder holding "
            "en_fact.dev.json (shared/datasets/rgb_en_fact beside the checkout)."
        )
    out: list[RgbQuestion] = []
    with file.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(_question(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise SourcedError(f"{file}:{lineno}: not an RGB record: {exc}") from exc
            if limit is not None and len(out) >= limit:
                break
    return out


def _flatten(answer: object) -> list[str]:
    """``"Tampa"`` or ``[["May 15 2012", "May 15, 2012"]]`` -> a flat list of accepted forms."""
    if isinstance(answer, str):
        return [answer]
    if isinstance(answer, list):
        return [form for item in answer for form in _flatten(item)]
    raise TypeError(f"answer must be a string or a list, got {type(answer).__name__}")


def _question(rec: dict) -> RgbQuestion:
    return RgbQuestion(
        id=str(rec["id"]), query=rec["query"], answers=_flatten(rec["answer"]),
        fake_answer=rec["fakeanswer"],
        passages={"true": list(rec["positive"]), "false": list(rec["positive_wrong"]),
                  "noise": list(rec["negative"])},
    )


def documents(q: RgbQuestion, condition: str) -> list[Document]:
    """The passages of ``condition`` as documents, shuffled; the kind is in the id only
    (``rgb-<id>-<kind>-<n>``), so nothing the answerer reads tells true from false."""
    docs = [
        Document(doc_id=f"rgb-{q.id}-{kind}-{i}", text=text.strip(), title=f"Passage {q.id}")
        for kind in CONDITIONS[condition]
        for i, text in enumerate(q.passages[kind])
        if text.strip()
    ]
    random.Random(f"{q.id}/{condition}").shuffle(docs)
    return docs


def kind_of(doc_id: str) -> Kind | None:
    parts = doc_id.split("-")
    return parts[2] if len(parts) == 4 and parts[2] in ("true", "false", "noise") else None  # type: ignore[return-value]


def _says(predicted: str | None, q: RgbQuestion) -> Says:
    if predicted is None:
        return "abstained"
    if answers_match(predicted, q.answers):
        return "true"
    return "false" if answers_match(predicted, [q.fake_answer]) else "other"


def score(q: RgbQuestion, condition: Condition, n_passages: int, ans: Answer,
          latency_ms: float) -> RgbRow:
    cite = ans.citations[0] if ans.citations else None
    given = [a for a in [ans.answer, *(x.answer for x in ans.alternatives)] if a is not None]
    in_quote = None
    if cite is not None and cite.answer_start is not None and cite.answer_end is not None:
        in_quote = (cite.answer_start - cite.char_start, cite.answer_end - cite.char_start)
    return RgbRow(
        id=q.id, condition=condition, question=q.query, answers=q.answers,
        fake_answer=q.fake_answer, n_passages=n_passages, predicted=ans.answer,
        says=_says(ans.answer, q), cited_kind=kind_of(cite.doc_id) if cite else None,
        confidence=ans.confidence, conflict=ans.conflict,
        alternatives=[a.answer for a in ans.alternatives],
        both_shown=any(answers_match(a, q.answers) for a in given)
        and any(answers_match(a, [q.fake_answer]) for a in given),
        quote=cite.quote if cite else None, quote_answer=in_quote, latency_ms=latency_ms,
    )


def summarize(rows: Iterable[RgbRow], condition: Condition) -> RgbSummary:
    rs = [r for r in rows if r.condition == condition]
    lat = [r.latency_ms for r in rs if r.error is None]
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    return RgbSummary(
        condition=condition, n=len(rs), n_true=sum(r.says == "true" for r in rs),
        n_false=sum(r.says == "false" for r in rs), n_other=sum(r.says == "other" for r in rs),
        n_abstained=sum(r.says == "abstained" and r.error is None for r in rs),
        n_cited_false=sum(r.cited_kind == "false" for r in rs),
        n_cited_true=sum(r.cited_kind == "true" for r in rs),
        n_conflict=sum(r.conflict for r in rs), n_both_shown=sum(r.both_shown for r in rs),
        n_errors=sum(r.error is not None for r in rs),
        latency_p50_ms=None if not lat else p50, latency_p95_ms=None if not lat else p95,
    )


def run_rgb(questions: Sequence[RgbQuestion], ask_over: AskOver,
            conditions: Sequence[Condition] = ("true", "false", "mixed"),
            progress: bool = True) -> RgbReport:
    """Ask each question once per condition over a fresh index of its passages.

    An exception from ``ask_over`` is recorded on its row (``error``) and the run goes on.
    """
    rows: list[RgbRow] = []
    jobs = [(q, c) for c in conditions for q in questions]
    for q, condition in tqdm(jobs, desc="rgb", unit="q", file=sys.stderr, disable=not progress):
        docs = documents(q, condition)
        try:
            ans, latency_ms = ask_over(q.query, docs)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, the run goes on
            rows.append(RgbRow(
                id=q.id, condition=condition, question=q.query, answers=q.answers,
                fake_answer=q.fake_answer, n_passages=len(docs), predicted=None, says="abstained",
                cited_kind=None, confidence=0.0, conflict=False, alternatives=[],
                both_shown=False, quote=None, quote_answer=None, latency_ms=0.0,
                error=f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(score(q, condition, len(docs), ans, latency_ms))
    return RgbReport(summaries=[summarize(rows, c) for c in conditions], rows=rows)


class TinyIndexAsker:
    """``AskOver`` with the real engine: per call a fresh index in a temporary folder, sharing
    one embedder, one spaCy pipeline and one reader (each loaded once) across all calls."""

    def __init__(self, settings: Settings, embedder: Embedder, nlp: Language, reader=None) -> None:
        self.settings, self.embedder, self.nlp, self.reader = settings, embedder, nlp, reader

    def __call__(self, question: str, docs: Sequence[Document]) -> tuple[Answer, float]:
        from service.engine import Engine

        with tempfile.TemporaryDirectory(prefix="sourced-rgb-") as tmp:
            settings = self.settings.model_copy(update={"index_dir": Path(tmp) / "index"})
            engine = Engine(settings, embedder=self.embedder, nlp=self.nlp, reader=self.reader)
            try:
                engine.index_documents(docs)
                engine.start(progress=False)
                t0 = time.perf_counter()
                answer = engine.ask(question)
                return answer, (time.perf_counter() - t0) * 1000
            finally:
                engine.close()


def format_summary(report: RgbReport) -> str:
    lines = ["RGB en_fact   n   true  false  other  abstained  cited-false  conflict  both-shown"]
    for s in report.summaries:
        lines.append(f"  {s.condition:<10} {s.n:>3}  {s.n_true:>5}  {s.n_false:>5}  {s.n_other:>5}  "
                     f"{s.n_abstained:>9}  {s.n_cited_false:>11}  {s.n_conflict:>8}  "
                     f"{s.n_both_shown:>10}" + (f"  ({s.n_errors} errors)" if s.n_errors else ""))
    return "\n".join(lines)
