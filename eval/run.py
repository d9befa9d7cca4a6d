"""Run a question file against an ``ask`` function and report accuracy, abstention, citations.

Model-free: it takes ``ask(question) -> Answer`` and ``document_text(doc_id) -> str | None`` as
callables, so the CLI wires in the real service and tests pass fakes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm import tqdm

from eval.metrics import (abstention_scores, answers_match, exact_match, hits_at_k, percentile,
                          reciprocal_rank, token_f1)
from service.schemas import Answer, Citation, Passage

AnswerType = Literal["number", "date", "person", "org", "place", "other"]
Outcome = Literal["correct", "wrong", "missed", "abstained_ok", "answered_unanswerable", "error"]
DocumentText = Callable[[str], "str | None"]


class EvalQuestion(BaseModel):
    """One line of a question file (fields described in eval/README.md)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    answerable: bool
    answer_type: AnswerType
    evidence: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.answerable and not self.answers:
            raise ValueError("an answerable question needs at least one gold answer")
        if not self.answerable and (self.answers or self.evidence):
            raise ValueError("an unanswerable question must have answers [] and no evidence")
        return self


class EvalRow(BaseModel):
    """One scored question. ``correct`` is None on unanswerable questions; ``citation_valid`` is
    None without citations; ``answer_in_quote`` (answer is a substring of some cited quote) is
    None without an answer or citations; ``evidence_rank`` is 1-based over ``answer.passages``."""

    id: str
    question: str
    answerable: bool
    gold_answers: list[str]
    answer_type: str  # gold type of the question
    has_evidence: bool
    latency_ms: float
    outcome: Outcome
    abstained: bool = False
    predicted: str | None = None
    predicted_type: str | None = None
    correct: bool | None = None
    confidence: float | None = None
    citation_valid: bool | None = None
    answer_in_quote: bool | None = None
    evidence_rank: int | None = None
    quote: str | None = None  # the first citation's quote
    em: float | None = None  # upstream RealTime QA style, answerable questions only
    f1: float | None = None
    reason: str | None = None
    error: str | None = None


class EvalSummary(BaseModel):
    """Aggregate figures; ratios are None when their denominator is 0. ``mrr`` is MRR@k."""

    n: int
    n_answerable: int
    n_unanswerable: int
    n_errors: int
    n_correct: int
    answer_accuracy: float | None
    accuracy_by_type: dict[str, float]
    n_wrong_on_unanswerable: int
    abstention_precision: float | None
    abstention_recall: float | None
    abstention_rate: float | None
    n_with_citations: int
    n_citations_valid: int
    citation_validity: float | None
    n_answer_not_in_quote: int
    n_answered_without_citation: int
    k: int
    n_with_evidence: int
    hit_at_1: float | None
    hit_at_k: float | None
    mrr: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    em: float | None
    f1: float | None


class EvalReport(BaseModel):
    summary: EvalSummary
    rows: list[EvalRow]


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSONL question file; a bad line raises ``ValueError("file:line: ...")``."""
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                q = EvalQuestion.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise ValueError(f"{path}:{lineno}: bad question line: {exc}") from exc
            if q.id in seen:
                raise ValueError(f"{path}:{lineno}: duplicate question id {q.id!r}")
            seen.add(q.id)
            questions.append(q)
    return questions


def citation_valid(c: Citation, answer: str | None, text: str | None) -> bool:
    """The quote sits at its offsets in ``text`` and (unless abstained) so does the answer,
    inside the quote."""
    if text is None or not 0 <= c.char_start <= c.char_end <= len(text):
        return False
    if text[c.char_start:c.char_end] != c.quote:
        return False
    if answer is None:
        return True
    s, e = c.answer_start, c.answer_end
    return (s is not None and e is not None and c.char_start <= s < e <= c.char_end
            and text[s:e] == answer)


def evidence_rank(passages: Sequence[Passage], evidence: str, doc_text: DocumentText) -> int | None:
    """1-based rank of the first passage containing ``evidence`` or whose span covers it."""
    for rank, p in enumerate(passages, start=1):
        if evidence in p.text:
            return rank
        text = doc_text(p.doc_id) or ""
        start = text.find(evidence)
        while start != -1:
            if p.char_start <= start and start + len(evidence) <= p.char_end:
                return rank
            start = text.find(evidence, start + 1)
    return None


def _score_row(q: EvalQuestion, ans: Answer, latency_ms: float, doc_text: DocumentText) -> EvalRow:
    pred, abstained = ans.answer, ans.answer is None
    correct = answers_match(pred, q.answers) if q.answerable else None
    if q.answerable:
        outcome = "missed" if abstained else ("correct" if correct else "wrong")
    else:
        outcome = "abstained_ok" if abstained else "answered_unanswerable"
    cites = ans.citations
    return EvalRow(
        id=q.id, question=q.question, answerable=q.answerable, gold_answers=q.answers,
        answer_type=q.answer_type, has_evidence=bool(q.evidence), latency_ms=latency_ms,
        outcome=outcome, abstained=abstained, predicted=pred, predicted_type=ans.answer_type,
        correct=correct, confidence=ans.confidence,
        citation_valid=all(citation_valid(c, pred, doc_text(c.doc_id)) for c in cites)
        if cites else None,
        answer_in_quote=any(pred in c.quote for c in cites) if pred is not None and cites else None,
        evidence_rank=evidence_rank(ans.passages, q.evidence, doc_text) if q.evidence else None,
        quote=cites[0].quote if cites else None,
        em=exact_match(pred, q.answers) if q.answerable else None,
        f1=token_f1(pred, q.answers) if q.answerable else None, reason=ans.reason,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(values: Sequence[float], p: float) -> float | None:
    v = percentile(values, p)
    return None if math.isnan(v) else v


def summarize(rows: Sequence[EvalRow], k: int) -> EvalSummary:
    """Aggregate scored rows. Error rows count as wrong and are left out of abstention figures."""
    answerable = [r for r in rows if r.answerable]
    cited = [r for r in rows if r.citation_valid is not None]
    by_type: dict[str, list[float]] = {}
    for r in answerable:
        by_type.setdefault(r.answer_type, []).append(float(bool(r.correct)))
    # Evidence ranks as ranked lists of passage ranks, so hits/MRR come from eval.metrics.
    ev = [([str(i) for i in range(1, (r.evidence_rank or 0) + 1)], {str(r.evidence_rank)})
          for r in rows if r.has_evidence]
    abst = abstention_scores([r for r in rows if r.error is None])
    latencies = [r.latency_ms for r in rows]
    return EvalSummary(
        n=len(rows), n_answerable=len(answerable), n_unanswerable=len(rows) - len(answerable),
        n_errors=sum(r.error is not None for r in rows),
        n_correct=sum(bool(r.correct) for r in answerable),
        answer_accuracy=_mean([float(bool(r.correct)) for r in answerable]),
        accuracy_by_type={t: sum(v) / len(v) for t, v in sorted(by_type.items())},
        n_wrong_on_unanswerable=sum(r.outcome == "answered_unanswerable" for r in rows),
        abstention_precision=abst["precision"], abstention_recall=abst["recall"],
        abstention_rate=abst["rate"],
        n_with_citations=len(cited), n_citations_valid=sum(bool(r.citation_valid) for r in cited),
        citation_validity=_mean([float(bool(r.citation_valid)) for r in cited]),
        n_answer_not_in_quote=sum(r.answer_in_quote is False for r in rows),
        n_answered_without_citation=sum(r.predicted is not None and r.quote is None for r in rows),
        k=k, n_with_evidence=len(ev),
        hit_at_1=_mean([hits_at_k(ranked, gold, 1) for ranked, gold in ev]),
        hit_at_k=_mean([hits_at_k(ranked, gold, k) for ranked, gold in ev]),
        mrr=_mean([reciprocal_rank(ranked, gold, k) for ranked, gold in ev]),
        latency_p50_ms=_pct(latencies, 50), latency_p95_ms=_pct(latencies, 95),
        latency_max_ms=max(latencies) if latencies else None,
        em=_mean([r.em or 0.0 for r in answerable]), f1=_mean([r.f1 or 0.0 for r in answerable]),
    )


def run_eval(questions: Sequence[EvalQuestion], ask: Callable[[str], Answer],
             document_text: DocumentText, k: int = 5, progress: bool = True) -> EvalReport:
    """Ask every question (timing each ``ask``), score the answers and summarise.

    An exception from ``ask`` does not stop the run: its row has outcome "error" and the message.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cache: dict[str, str | None] = {}

    def doc_text(doc_id: str) -> str | None:
        if doc_id not in cache:
            cache[doc_id] = document_text(doc_id)
        return cache[doc_id]

    rows: list[EvalRow] = []
    for q in tqdm(questions, desc="eval", unit="q", file=sys.stderr, disable=not progress):
        t0 = time.perf_counter()
        try:
            ans = ask(q.question)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, the run goes on
            rows.append(EvalRow(
                id=q.id, question=q.question, answerable=q.answerable, gold_answers=q.answers,
                answer_type=q.answer_type, has_evidence=bool(q.evidence),
                latency_ms=(time.perf_counter() - t0) * 1000, outcome="error",
                correct=False if q.answerable else None, em=0.0 if q.answerable else None,
                f1=0.0 if q.answerable else None, error=f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(_score_row(q, ans, (time.perf_counter() - t0) * 1000, doc_text))
    return EvalReport(summary=summarize(rows, k), rows=rows)


def write_report(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``eval_report.json`` (summary + rows) and ``eval_rows.jsonl``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path, rows_path = out_dir / "eval_report.json", out_dir / "eval_rows.jsonl"
    report_path.write_text(json.dumps(report.model_dump(mode="json"), indent=2,
                                      ensure_ascii=False) + "\n", encoding="utf-8")
    rows_path.write_text("".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n"
                                 for r in report.rows), encoding="utf-8")
    return report_path, rows_path


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_summary(report: EvalReport) -> str:
    """A readable multi-line summary for a terminal."""
    s = report.summary
    errors = f", {s.n_errors} ERRORS" if s.n_errors else ""
    by_type = ", ".join(f"{t} {_f(v, 2)}" for t, v in s.accuracy_by_type.items()) or "n/a"
    return "\n".join([
        f"questions         {s.n} ({s.n_answerable} answerable, "
        f"{s.n_unanswerable} unanswerable{errors})",
        f"answer accuracy   {_f(s.answer_accuracy)} ({s.n_correct}/{s.n_answerable}); "
        f"by type: {by_type}",
        f"unanswerable      {s.n_wrong_on_unanswerable}/{s.n_unanswerable} answered (wrong)",
        f"abstention        precision {_f(s.abstention_precision)}  "
        f"recall {_f(s.abstention_recall)}  rate {_f(s.abstention_rate)}",
        f"citations         {_f(s.citation_validity)} valid ({s.n_citations_valid}/"
        f"{s.n_with_citations}); answer not in quote {s.n_answer_not_in_quote}; "
        f"answered without citation {s.n_answered_without_citation}",
        f"evidence          hit@1 {_f(s.hit_at_1)}  hit@{s.k} {_f(s.hit_at_k)}  "
        f"MRR@{s.k} {_f(s.mrr)} ({s.n_with_evidence} questions with evidence)",
        f"latency ms        p50 {_f(s.latency_p50_ms, 1)}  p95 {_f(s.latency_p95_ms, 1)}  "
        f"max {_f(s.latency_max_ms, 1)}",
        f"upstream EM / F1  {_f(s.em)} / {_f(s.f1)} (RealTime QA style, answerable only)",
    ])
