"""Run questions against an ``ask`` function and report accuracy, abstention, citations.

Model-free: it takes ``ask(question) -> Answer`` and ``document_text(doc_id) -> str | None`` as
callables (and, for article-level retrieval, an :class:`ArticleRetrieval`), so the CLI wires in
the real service and tests pass fakes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm import tqdm

from eval.metrics import (abstention_scores, answers_match, calibration, contains_gold, exact_match,
                          hits_at_k, percentile, reciprocal_rank, token_f1)
from service.schemas import Answer, Citation, Passage

AnswerType = Literal["number", "date", "person", "org", "place", "other"]
Outcome = Literal["correct", "wrong", "missed", "abstained_ok", "answered_unanswerable", "error"]
DocumentText = Callable[[str], "str | None"]
ARTICLE_DEPTH = 10  # article-level Hits@1/5/10 and MRR@10


class EvalQuestion(BaseModel):
    """One line of a question file (fields described in eval/README.md)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    answerable: bool
    answer_type: AnswerType
    evidence: str | None = None
    # Dataset adapters (eval/realtimeqa.py) also fill these:
    gold_urls: list[str] = Field(default_factory=list)  # normalised urls of the gold articles
    question_date: dt.date | None = None  # when the question was asked
    upstream_skip: bool = False  # left out of upstream EM/F1 (RealTime QA's "... except:" rule)

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.answerable and not self.answers:
            raise ValueError("an answerable question needs at least one gold answer")
        if not self.answerable and (self.answers or self.evidence):
            raise ValueError("an unanswerable question must have answers [] and no evidence")
        return self


@dataclass(frozen=True)
class ArticleRetrieval:
    """Article-level retrieval, scored against ``EvalQuestion.gold_urls``.

    ``rank(question)`` gives normalised article urls, best first, each once; ``indexed`` holds
    the normalised urls of every indexed article: a question counts only if one of its gold
    articles is indexed (otherwise no retriever could find it).
    """

    rank: Callable[[EvalQuestion], list[str]]
    indexed: Collection[str]


class EvalRow(BaseModel):
    """One scored question. ``correct`` is None on unanswerable questions; ``citation_valid`` is
    None without citations; ``answer_in_quote`` (answer is a substring of some cited quote) is
    None without an answer or citations; ``evidence_rank`` is 1-based over ``answer.passages``;
    ``article_rank`` is the 1-based rank of the first gold article (None if not in the top 10),
    set when ``gold_in_index``. ``quote_answer`` is the answer's [start, end) within ``quote``."""

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
    quote_answer: tuple[int, int] | None = None
    source_title: str | None = None  # the cited article; the nearest passage's when abstained
    source_url: str | None = None
    published: str | None = None
    em: float | None = None  # upstream RealTime QA style, answerable questions only
    f1: float | None = None
    contains_gold: bool | None = None  # answerable only
    upstream_skip: bool = False
    question_date: dt.date | None = None
    gold_in_index: bool | None = None  # None: the question names no gold article
    article_rank: int | None = None
    conflict: bool = False
    alternatives: list[str] = Field(default_factory=list)  # the competing answers, if conflict
    reason: str | None = None
    error: str | None = None


class CalibrationBin(BaseModel):
    """One confidence band of the answers given: ``[low, high)`` and how its answers fared."""

    low: float
    high: float
    n: int
    mean_confidence: float
    accuracy: float


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
    n_upstream_scored: int  # answerable questions the upstream EM/F1 counts
    em: float | None
    f1: float | None
    em_by_type: dict[str, float]
    f1_by_type: dict[str, float]
    n_by_type: dict[str, int]
    contains_gold_rate: float | None  # answerable questions whose answer contains a gold answer
    n_answered: int
    n_conflicts: int  # answers flagged as contradicted by another source
    # Article level, over the questions whose gold article is indexed (None without retrieval).
    n_with_gold_urls: int = 0
    n_gold_in_index: int = 0
    article_hit_at_1: float | None = None
    article_hit_at_5: float | None = None
    article_hit_at_10: float | None = None
    article_mrr_at_10: float | None = None
    article_rank_counts: list[int] = Field(default_factory=list)  # [questions at rank 1, ..., 10]
    # Calibration over the answers given (an answer to an unanswerable question is wrong): how
    # often they are right against the confidence they came with (``eval.metrics.calibration``).
    answered_accuracy: float | None = None
    answered_mean_confidence: float | None = None
    calibration_ece: float | None = None
    calibration_bins: list[CalibrationBin] = Field(default_factory=list)


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


def _base_row(q: EvalQuestion, latency_ms: float) -> dict:
    return dict(id=q.id, question=q.question, answerable=q.answerable, gold_answers=q.answers,
                answer_type=q.answer_type, has_evidence=bool(q.evidence), latency_ms=latency_ms,
                upstream_skip=q.upstream_skip, question_date=q.question_date)


def _score_row(q: EvalQuestion, ans: Answer, latency_ms: float, doc_text: DocumentText) -> EvalRow:
    pred, abstained = ans.answer, ans.answer is None
    correct = answers_match(pred, q.answers) if q.answerable else None
    if q.answerable:
        outcome = "missed" if abstained else ("correct" if correct else "wrong")
    else:
        outcome = "abstained_ok" if abstained else "answered_unanswerable"
    cites = ans.citations
    first = cites[0] if cites else None
    shown = first or (ans.passages[0] if ans.passages else None)
    in_quote = None
    if first is not None and first.answer_start is not None and first.answer_end is not None:
        in_quote = (first.answer_start - first.char_start, first.answer_end - first.char_start)
    return EvalRow(
        **_base_row(q, latency_ms),
        outcome=outcome, abstained=abstained, predicted=pred, predicted_type=ans.answer_type,
        correct=correct, confidence=ans.confidence,
        citation_valid=all(citation_valid(c, pred, doc_text(c.doc_id)) for c in cites)
        if cites else None,
        answer_in_quote=any(pred in c.quote for c in cites) if pred is not None and cites else None,
        evidence_rank=evidence_rank(ans.passages, q.evidence, doc_text) if q.evidence else None,
        quote=first.quote if first else None, quote_answer=in_quote,
        source_title=shown.title if shown else None, source_url=shown.url if shown else None,
        published=shown.published if shown else None,
        em=exact_match(pred, q.answers) if q.answerable else None,
        f1=token_f1(pred, q.answers) if q.answerable else None,
        contains_gold=contains_gold(pred, q.answers) if q.answerable else None,
        conflict=ans.conflict, alternatives=[a.answer for a in ans.alternatives], reason=ans.reason,
    )


def _article_fields(q: EvalQuestion, articles: ArticleRetrieval) -> dict:
    """``gold_in_index`` and ``article_rank`` of one question."""
    if not q.gold_urls:
        return {"gold_in_index": None, "article_rank": None}
    gold = set(q.gold_urls) & set(articles.indexed)
    if not gold:
        return {"gold_in_index": False, "article_rank": None}
    ranked = articles.rank(q)[:ARTICLE_DEPTH]
    rank = next((i for i, url in enumerate(ranked, start=1) if url in gold), None)
    return {"gold_in_index": True, "article_rank": rank}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(values: Sequence[float], p: float) -> float | None:
    v = percentile(values, p)
    return None if math.isnan(v) else v


def _by_type(rows: Sequence[EvalRow], value: Callable[[EvalRow], float]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r.answer_type, []).append(value(r))
    return {t: sum(v) / len(v) for t, v in sorted(groups.items())}


def summarize(rows: Sequence[EvalRow], k: int) -> EvalSummary:
    """Aggregate scored rows. Error rows count as wrong and are left out of abstention figures.

    Upstream EM/F1 average over the answerable questions the upstream scorer keeps, an
    abstention scoring 0 (upstream systems always answer). Article-level figures average over
    the questions whose gold article is indexed.
    """
    answerable = [r for r in rows if r.answerable]
    scored = [r for r in answerable if not r.upstream_skip]
    cited = [r for r in rows if r.citation_valid is not None]
    in_index = [r for r in rows if r.gold_in_index]
    article_ranks = [([str(i) for i in range(1, (r.article_rank or 0) + 1)], {str(r.article_rank)})
                     for r in in_index]
    # Evidence ranks as ranked lists of passage ranks, so hits/MRR come from eval.metrics.
    ev = [([str(i) for i in range(1, (r.evidence_rank or 0) + 1)], {str(r.evidence_rank)})
          for r in rows if r.has_evidence]
    abst = abstention_scores([r for r in rows if r.error is None])
    latencies = [r.latency_ms for r in rows]
    cal = calibration((r.confidence or 0.0, bool(r.correct)) for r in rows
                      if r.predicted is not None and r.error is None)
    return EvalSummary(
        n=len(rows), n_answerable=len(answerable), n_unanswerable=len(rows) - len(answerable),
        n_errors=sum(r.error is not None for r in rows),
        n_correct=sum(bool(r.correct) for r in answerable),
        answer_accuracy=_mean([float(bool(r.correct)) for r in answerable]),
        accuracy_by_type=_by_type(answerable, lambda r: float(bool(r.correct))),
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
        n_upstream_scored=len(scored),
        em=_mean([r.em or 0.0 for r in scored]), f1=_mean([r.f1 or 0.0 for r in scored]),
        em_by_type=_by_type(scored, lambda r: r.em or 0.0),
        f1_by_type=_by_type(scored, lambda r: r.f1 or 0.0),
        n_by_type={t: sum(r.answer_type == t for r in answerable)
                   for t in sorted({r.answer_type for r in answerable})},
        contains_gold_rate=_mean([float(bool(r.contains_gold)) for r in answerable]),
        n_answered=sum(r.predicted is not None for r in rows),
        n_conflicts=sum(r.conflict for r in rows),
        n_with_gold_urls=sum(r.gold_in_index is not None for r in rows),
        n_gold_in_index=len(in_index),
        article_hit_at_1=_mean([hits_at_k(rk, gold, 1) for rk, gold in article_ranks]),
        article_hit_at_5=_mean([hits_at_k(rk, gold, 5) for rk, gold in article_ranks]),
        article_hit_at_10=_mean([hits_at_k(rk, gold, 10) for rk, gold in article_ranks]),
        article_mrr_at_10=_mean([reciprocal_rank(rk, gold, 10) for rk, gold in article_ranks]),
        article_rank_counts=[sum(r.article_rank == i for r in in_index)
                             for i in range(1, ARTICLE_DEPTH + 1)] if in_index else [],
        answered_accuracy=cal["accuracy"], answered_mean_confidence=cal["mean_confidence"],
        calibration_ece=cal["ece"], calibration_bins=[CalibrationBin(**b) for b in cal["bins"]],
    )


def run_eval(questions: Sequence[EvalQuestion], ask: Callable[[EvalQuestion], Answer],
             document_text: DocumentText, k: int = 5, progress: bool = True,
             articles: ArticleRetrieval | None = None, desc: str = "eval") -> EvalReport:
    """Ask every question (timing each ``ask``), score the answers and summarise.

    ``ask`` gets the whole question record, so it can use its ``question_date``. With
    ``articles``, article-level retrieval is scored too (outside the timed ``ask``).
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
    for q in tqdm(questions, desc=desc, unit="q", file=sys.stderr, disable=not progress):
        t0 = time.perf_counter()
        try:
            ans = ask(q)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, the run goes on
            row = EvalRow(
                **_base_row(q, (time.perf_counter() - t0) * 1000), outcome="error",
                correct=False if q.answerable else None, em=0.0 if q.answerable else None,
                f1=0.0 if q.answerable else None, contains_gold=False if q.answerable else None,
                error=f"{type(exc).__name__}: {exc}")
        else:
            row = _score_row(q, ans, (time.perf_counter() - t0) * 1000, doc_text)
        if articles is not None:
            row = row.model_copy(update=_article_fields(q, articles))
        rows.append(row)
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
        *([f"unanswerable      {s.n_wrong_on_unanswerable}/{s.n_unanswerable} answered (wrong)"]
          if s.n_unanswerable else []),
        f"abstention        precision {_f(s.abstention_precision)}  "
        f"recall {_f(s.abstention_recall)}  rate {_f(s.abstention_rate)}",
        f"citations         {_f(s.citation_validity)} valid ({s.n_citations_valid}/"
        f"{s.n_with_citations}); answer not in quote {s.n_answer_not_in_quote}; "
        f"answered without citation {s.n_answered_without_citation}",
        *([f"evidence          hit@1 {_f(s.hit_at_1)}  hit@{s.k} {_f(s.hit_at_k)}  "
           f"MRR@{s.k} {_f(s.mrr)} ({s.n_with_evidence} questions with evidence)"]
          if s.n_with_evidence else []),
        f"latency ms        p50 {_f(s.latency_p50_ms, 1)}  p95 {_f(s.latency_p95_ms, 1)}  "
        f"max {_f(s.latency_max_ms, 1)}",
        f"upstream EM / F1  {_f(s.em)} / {_f(s.f1)} (RealTime QA style, {s.n_upstream_scored} "
        f"answerable questions); answer contains gold {_f(s.contains_gold_rate)}",
        f"conflicts         {s.n_conflicts}/{s.n_answered} answers flagged as contradicted",
        *([f"confidence        answers right {_f(s.answered_accuracy)} at mean confidence "
           f"{_f(s.answered_mean_confidence)}; calibration error (ECE) {_f(s.calibration_ece)}"]
          if s.calibration_bins else []),
        *([f"articles          hit@1 {_f(s.article_hit_at_1)}  hit@5 {_f(s.article_hit_at_5)}  "
           f"hit@10 {_f(s.article_hit_at_10)}  MRR@10 {_f(s.article_mrr_at_10)} "
           f"({s.n_gold_in_index} of {s.n_with_gold_urls} questions with a gold article have "
           f"it indexed)"] if s.n_with_gold_urls else []),
    ])
