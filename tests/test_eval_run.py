"""eval.run: question loading, scoring of canned answers, summary figures, report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eval.run as run_mod
from eval.run import (EvalQuestion, format_summary, load_questions, run_eval, write_report)
from service.schemas import Answer, Citation, Passage

ROOT = Path(__file__).resolve().parents[1]
S1 = "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria."
S2 = "A drone attack killed three US military personnel in Jordan."
S3 = "The coalition was formed in 2014."
DOC = f"{S1}\n\n{S2}\n\n{S3}\n"
DOC_ID = "toy-doc"


def _cite(sentence: str, answer: str | None, shift: int = 0) -> Citation:
    start = DOC.index(sentence)
    a_start = None if answer is None else DOC.index(answer, start)
    return Citation(
        doc_id=DOC_ID, title="Toy", url=None, quote=sentence, char_start=start + shift,
        char_end=start + len(sentence) + shift, answer_start=a_start,
        answer_end=None if a_start is None or answer is None else a_start + len(answer))


def _passage(sentence: str) -> Passage:
    start = DOC.index(sentence)
    return Passage(doc_id=DOC_ID, title="Toy", url=None, text=sentence, char_start=start,
                   char_end=start + len(sentence), score=0.5)


def _answer(q: str, answer: str | None, citations: list[Citation],
            passages: list[Passage]) -> Answer:
    return Answer(question=q, answer=answer, answer_type="number", confidence=0.5,
                  reason=None if answer else "no supported answer", citations=citations,
                  passages=passages)


def _q(qid: str, question: str, answers: list[str], atype: str = "number",
       evidence: str | None = None) -> EvalQuestion:
    return EvalQuestion(id=qid, question=question, answers=answers, answerable=bool(answers),
                        answer_type=atype, evidence=evidence)


QUESTIONS = [
    _q("q1", "US troops in Iraq?", ["2,500"], evidence=S1),
    _q("q2", "US troops in Syria?", ["900"], evidence=S1),
    _q("q3", "How many died?", ["three"], evidence=S2),
    _q("q4", "When was it formed?", ["2014"], atype="date", evidence=S3),
    _q("q5", "British troops in Iraq?", []),
    _q("q6", "Name of the base?", [], atype="place"),
]
CANNED = {
    # correct, valid citation, evidence at rank 1
    "q1": _answer("q1", "2,500", [_cite(S1, "2,500")], [_passage(S1), _passage(S2)]),
    # correct through the qualifier rule, valid, evidence at rank 2
    "q2": _answer("q2", "some 900", [_cite(S1, "some 900")], [_passage(S3), _passage(S1)]),
    # correct answer but the citation offsets are tampered (shifted by one): invalid; no passages
    "q3": _answer("q3", "three", [_cite(S2, "three", shift=1)], []),
    # abstains on an answerable question; evidence retrieved at rank 1
    "q4": _answer("q4", None, [], [_passage(S3)]),
    # answers an unanswerable question, citing a quote that does not hold the answer: invalid
    "q5": _answer("q5", "2,500 soldiers", [_cite(S2, None).model_copy(
        update={"answer_start": 0, "answer_end": 14})], [_passage(S1)]),
    # abstains on an unanswerable question
    "q6": _answer("q6", None, [], [_passage(S2)]),
}
LATENCY_MS = {"q1": 10.0, "q2": 20.0, "q3": 30.0, "q4": 40.0, "q5": 50.0, "q6": 60.0}


@pytest.fixture()
def report(monkeypatch: pytest.MonkeyPatch) -> run_mod.EvalReport:
    clock = [0.0]
    monkeypatch.setattr(run_mod.time, "perf_counter", lambda: clock[0])
    def ask(q: EvalQuestion) -> Answer:
        clock[0] += LATENCY_MS[q.id] / 1000
        return CANNED[q.id]

    docs = {DOC_ID: DOC}
    return run_eval(QUESTIONS, ask, docs.get, k=5, progress=False)


def test_rows(report: run_mod.EvalReport) -> None:
    rows = {r.id: r for r in report.rows}
    assert [r.id for r in report.rows] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert [rows[i].outcome for i in rows] == [
        "correct", "correct", "correct", "missed", "answered_unanswerable", "abstained_ok"]
    assert [rows[i].correct for i in rows] == [True, True, True, False, None, None]
    assert [rows[i].abstained for i in rows] == [False, False, False, True, False, True]
    assert [rows[i].citation_valid for i in rows] == [True, True, False, None, False, None]
    assert [rows[i].answer_in_quote for i in rows] == [True, True, True, None, False, None]
    assert [rows[i].evidence_rank for i in rows] == [1, 2, None, 1, None, None]
    assert [rows[i].latency_ms for i in rows] == pytest.approx([10, 20, 30, 40, 50, 60])
    assert rows["q1"].quote == S1 and rows["q4"].quote is None
    assert rows["q2"].em == 0.0 and rows["q2"].f1 == pytest.approx(2 / 3)
    assert rows["q1"].predicted_type == "number" and rows["q4"].answer_type == "date"


def test_summary_figures(report: run_mod.EvalReport) -> None:
    s = report.summary
    assert (s.n, s.n_answerable, s.n_unanswerable, s.n_errors) == (6, 4, 2, 0)
    assert s.n_correct == 3 and s.answer_accuracy == pytest.approx(0.75)
    assert s.accuracy_by_type == {"date": 0.0, "number": 1.0}
    assert s.n_wrong_on_unanswerable == 1
    # abstained on q4 (answerable) and q6 (unanswerable)
    assert s.abstention_precision == pytest.approx(0.5)
    assert s.abstention_recall == pytest.approx(0.5)
    assert s.abstention_rate == pytest.approx(2 / 6)
    # citations on q1, q2 (valid), q3 (tampered), q5 (answer not in quote)
    assert (s.n_with_citations, s.n_citations_valid) == (4, 2)
    assert s.citation_validity == pytest.approx(0.5)
    assert s.n_answer_not_in_quote == 1 and s.n_answered_without_citation == 0
    # evidence ranks 1, 2, None, 1
    assert s.n_with_evidence == 4 and s.k == 5
    assert s.hit_at_1 == pytest.approx(0.5)
    assert s.hit_at_k == pytest.approx(0.75)
    assert s.mrr == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert s.latency_p50_ms == pytest.approx(35.0)
    assert s.latency_p95_ms == pytest.approx(57.5)
    assert s.latency_max_ms == pytest.approx(60.0)
    # upstream EM: q1, q3 exact; F1: 1 + 2/3 + 1 + 0
    assert s.em == pytest.approx(0.5)
    assert s.f1 == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)


def test_tampered_answer_offsets_are_invalid() -> None:
    good = _cite(S1, "2,500")
    bad = good.model_copy(update={"answer_start": good.answer_start + 1})
    q = [_q("x", "q?", ["2,500"])]
    ok = run_eval(q, lambda x: _answer(x.question, "2,500", [good], []), {DOC_ID: DOC}.get, progress=False)
    ko = run_eval(q, lambda x: _answer(x.question, "2,500", [bad], []), {DOC_ID: DOC}.get, progress=False)
    unknown = run_eval(q, lambda x: _answer(x.question, "2,500", [good], []), lambda d: None,
                       progress=False)
    assert ok.rows[0].citation_valid is True
    assert ko.rows[0].citation_valid is False
    assert unknown.rows[0].citation_valid is False


def test_evidence_found_by_span_cover() -> None:
    # passage text stripped of the evidence, but its span covers the evidence in the document
    p = Passage(doc_id=DOC_ID, title="T", url=None, text="(elided)", char_start=0,
                char_end=len(DOC), score=0.1)
    q = [_q("x", "q?", ["2014"], evidence=S3)]
    rep = run_eval(q, lambda x: _answer(x.question, None, [], [_passage(S1), p]), {DOC_ID: DOC}.get,
                   progress=False)
    assert rep.rows[0].evidence_rank == 2


def test_errors_are_recorded_and_the_run_goes_on() -> None:
    def ask(q: EvalQuestion) -> Answer:
        if q.question == "boom?":
            raise RuntimeError("index is gone")
        return _answer(q.question, None, [], [])

    qs = [_q("a", "boom?", ["1"]), _q("b", "fine?", [])]
    rep = run_eval(qs, ask, {DOC_ID: DOC}.get, progress=False)
    assert rep.rows[0].outcome == "error" and "index is gone" in (rep.rows[0].error or "")
    assert rep.rows[1].outcome == "abstained_ok"
    s = rep.summary
    assert s.n_errors == 1 and s.answer_accuracy == 0.0
    assert s.abstention_precision == 1.0 and s.abstention_recall == 1.0 and s.abstention_rate == 1.0
    assert "1 ERRORS" in format_summary(rep)


def test_empty_run_has_no_ratios() -> None:
    rep = run_eval([], lambda x: _answer(x.question, None, [], []), lambda d: None, progress=False)
    s = rep.summary
    assert s.n == 0 and s.answer_accuracy is None and s.latency_p50_ms is None and s.mrr is None
    assert "n/a" in format_summary(rep)


def test_write_report(report: run_mod.EvalReport, tmp_path: Path) -> None:
    report_path, rows_path = write_report(report, tmp_path / "out")
    assert report_path == tmp_path / "out" / "eval_report.json"
    data = json.loads(report_path.read_text(encoding="utf-8"))
    assert data["summary"]["answer_accuracy"] == pytest.approx(0.75)
    assert [r["id"] for r in data["rows"]] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    lines = rows_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and json.loads(lines[2])["citation_valid"] is False


def test_format_summary(report: run_mod.EvalReport) -> None:
    text = format_summary(report)
    assert "answer accuracy   0.750 (3/4)" in text
    assert "hit@1 0.500  hit@5 0.750  MRR@5 0.625" in text
    assert "p50 35.0  p95 57.5  max 60.0" in text
    assert len(text.splitlines()) >= 6


def test_load_questions_reports_file_and_line(tmp_path: Path) -> None:
    good = {"id": "a", "question": "q?", "answers": ["1"], "answerable": True,
            "answer_type": "number", "evidence": "x"}
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(good) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:3"):
        load_questions(path)
    bad = dict(good, id="b", answerable=False)  # unanswerable with gold answers
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:2"):
        load_questions(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        load_questions(path)
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert load_questions(path)[0].answers == ["1"]


def test_seed_dev_set_is_consistent_with_the_article() -> None:
    questions = load_questions(ROOT / "eval" / "seed_dev.jsonl")
    article = (ROOT / "corpus" / "iraq-us-coalition-talks.md").read_text(encoding="utf-8")
    unanswerable = [q for q in questions if not q.answerable]
    assert len(questions) >= 34 and len(unanswerable) * 5 >= len(questions)
    for q in questions:
        if q.answerable:
            assert q.evidence and q.evidence in article, q.id
            assert any(a in q.evidence for a in q.answers), q.id


def test_calibration_is_measured_over_the_answers_given(report: run_mod.EvalReport) -> None:
    s = report.summary
    # answers: q1, q2, q3 right and q5 (an unanswerable question) wrong, each at confidence 0.5
    assert s.answered_accuracy == pytest.approx(0.75)
    assert s.answered_mean_confidence == pytest.approx(0.5)
    assert s.calibration_ece == pytest.approx(0.25)
    assert [(b.low, b.n) for b in s.calibration_bins] == [(0.5, 4)]
    assert "calibration error (ECE) 0.250" in format_summary(report)


def test_calibration_bands_in_the_summary() -> None:
    rows = [run_mod.EvalRow(id=f"r{i}", question="q?", answerable=True, gold_answers=["x"],
                            answer_type="other", has_evidence=False, latency_ms=1.0,
                            outcome="correct" if ok else "wrong", predicted="x" if ok else "y",
                            correct=ok, confidence=conf)
            for i, (conf, ok) in enumerate([(0.95, True), (0.92, False), (0.62, True), (0.31, False)])]
    s = run_mod.summarize(rows, k=5)
    assert [(b.low, b.n, b.accuracy) for b in s.calibration_bins] == [(0.3, 1, 0.0), (0.6, 1, 1.0), (0.9, 2, 0.5)]
    assert s.answered_accuracy == pytest.approx(0.5)
    assert s.calibration_ece == pytest.approx((0.31 + 0.38 + 2 * abs(0.935 - 0.5)) / 4)
