"""The RealTime QA adapter and the article-level retrieval figures, on a tiny synthetic dataset
in the upstream layout (the real data's licence keeps its text out of the repository)."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from pathlib import Path

import pytest

import eval.realtimeqa as rtqa
from eval.run import ArticleRetrieval, EvalQuestion, run_eval
from index.errors import SourcedError
from service.config import Settings
from service.engine import Engine
from service.schemas import Answer

NEW = "https://www.example-news.com/2019/01/05/council-buses/index.html"
OLD = "https://www.example-news.com/2018/11/02/council-buses-plan"
QUIZ = "https://www.example-news.com/quiz/this-week"


def _article(url: str, text: str, date: str | None, title: str | None = "Council buses") -> dict:
    return {"url": url, "title": title, "text": text, "authors": [], "publish_date": date}


def _question(qid: str, sentence: str, choices: list[str], answer: int, gold: list[str],
              date: str = "2019/01/07") -> dict:
    return {"question_id": qid, "question_date": date, "question_source": "CNN",
            "question_url": QUIZ, "question_sentence": sentence, "choices": choices,
            "answer": [str(answer)], "evidence": "", "week": "20190108",
            "answer_text": choices[answer], "gold_urls": gold}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "realtimeqa"
    (root / "corpus").mkdir(parents=True)
    new = "The city council approved 40 new electric buses on Monday, the mayor said."
    old = "The city council approved 25 new electric buses in a first vote, officials said."
    gcs = [
        {"question_id": "20190108_1", "search_result": [
            _article(NEW + "?utm=x", new, "2019/01/05"),
            _article(NEW + "/", new + " More to come.", None, title=None),  # longer, undated copy
            _article(OLD, old, "2018/11/02"),
            _article(QUIZ, "Quiz: which council approved 40 buses?", "2019/01/07"),
            _article("https://www.example-news.com/empty", "  ", "2019/01/01"),
        ]},
    ]
    (root / "corpus" / "20190108_gcs.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in gcs), encoding="utf-8")
    (root / "exclude_quiz_pages.txt").write_text(QUIZ + "\n", encoding="utf-8")
    questions = [
        _question("20190108_1", "How many electric buses did the city council approve this week?",
                  ["12", "40", "25", "60"], 1, [NEW + "/"]),
        _question("20190108_2", "The council's buses will run on all of these routes except:",
                  ["A", "B", "C", "D"], 2, []),
        _question("20190108_3", "Which city won the award?", ["Oslo", "Rome", "Lima", "Kyiv"], 0,
                  ["https://elsewhere.example.org/award"]),
    ]
    (root / "dev.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions),
                                    encoding="utf-8")
    return root


def test_questions_are_read_as_open_qa(dataset: Path) -> None:
    qs = rtqa.load_questions(dataset)
    assert [q.id for q in qs] == ["20190108_1", "20190108_2", "20190108_3"]
    first = qs[0]
    assert first.answers == ["40"] and first.answerable
    assert first.answer_type == "other"  # RealTime QA gives no answer types
    assert first.gold_urls == [NEW]  # normalised: the trailing slash is gone
    assert first.question_date == dt.date(2019, 1, 7)
    assert [q.upstream_skip for q in qs] == [False, True, False]  # "... except:" as upstream
    assert len(rtqa.load_questions(dataset, limit=2)) == 2


def test_a_bad_question_line_names_the_file_and_line(dataset: Path) -> None:
    with (dataset / "dev.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"question_id": "x"}\n')
    with pytest.raises(SourcedError, match=r"dev\.jsonl:4"):
        rtqa.load_questions(dataset)


def test_missing_data_says_where_to_point(tmp_path: Path) -> None:
    with pytest.raises(SourcedError, match="--data"):
        rtqa.load_questions(tmp_path / "nowhere")


def test_corpus_is_deduplicated_without_quiz_pages_or_empty_texts(dataset: Path) -> None:
    docs = rtqa.load_corpus(dataset)
    assert sorted(d.url for d in docs) == [OLD, NEW + "/"]  # the longest copy of NEW is kept
    assert all(d.source == "example-news.com" for d in docs)


def test_date_window_is_the_week_up_to_the_question_date() -> None:
    window = rtqa.date_window(dt.date(2019, 1, 7))
    assert (window.published_from, window.published_to) == (dt.date(2019, 1, 1),
                                                            dt.date(2019, 1, 7))
    assert rtqa.date_window(dt.date(2019, 1, 7), days=1).published_from == dt.date(2019, 1, 7)
    with pytest.raises(ValueError):
        rtqa.date_window(dt.date(2019, 1, 7), days=0)
    assert doctest.testmod(rtqa).failed == 0


def _q(qid: str, gold: list[str]) -> EvalQuestion:
    return EvalQuestion(id=qid, question=f"{qid}?", answers=["x"], answerable=True,
                        answer_type="other", gold_urls=gold)


def test_article_hits_and_mrr_count_only_questions_whose_gold_is_indexed() -> None:
    ranking = {
        "a": ["g1", "n1", "n2"],  # gold at rank 1
        "b": ["n1", "n2", "n3", "g2"],  # rank 4
        "c": [f"n{i}" for i in range(1, 10)] + ["g3"],  # rank 10
        "d": [f"n{i}" for i in range(1, 12)] + ["g4"],  # rank 12: outside the top 10
        "e": ["n1"],  # gold not indexed: left out
        "f": ["n1"],  # no gold article named: left out
    }
    questions = [_q("a", ["g1"]), _q("b", ["g2", "zz"]), _q("c", ["g3"]), _q("d", ["g4"]),
                 _q("e", ["missing"]), _q("f", [])]
    articles = ArticleRetrieval(rank=lambda q: ranking[q.id],
                                indexed={"g1", "g2", "g3", "g4"} | {f"n{i}" for i in range(12)})
    report = run_eval(questions, lambda q: Answer(question=q.question, answer=None,
                                                  answer_type="other", confidence=0.0),
                      lambda d: None, progress=False, articles=articles)
    rows = {r.id: r for r in report.rows}
    assert [rows[i].article_rank for i in "abcdef"] == [1, 4, 10, None, None, None]
    assert [rows[i].gold_in_index for i in "abcdef"] == [True, True, True, True, False, None]
    s = report.summary
    assert (s.n_with_gold_urls, s.n_gold_in_index) == (5, 4)
    assert s.article_hit_at_1 == pytest.approx(1 / 4)
    assert s.article_hit_at_5 == pytest.approx(2 / 4)
    assert s.article_hit_at_10 == pytest.approx(3 / 4)
    assert s.article_mrr_at_10 == pytest.approx((1 + 1 / 4 + 1 / 10 + 0) / 4)
    assert s.article_rank_counts == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_without_retrieval_there_are_no_article_figures() -> None:
    report = run_eval([_q("a", ["g1"])], lambda q: Answer(
        question=q.question, answer=None, answer_type="other", confidence=0.0),
        lambda d: None, progress=False)
    assert report.summary.n_gold_in_index == 0 and report.summary.article_hit_at_1 is None


def test_the_window_keeps_old_articles_out_of_answers_and_rankings(dataset: Path, tmp_path: Path,
                                                                   nlp) -> None:
    from eval.suite import realtimeqa_runs

    engine = Engine(Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake"), nlp=nlp)
    engine.index_documents(rtqa.load_corpus(dataset))
    engine.start()
    questions = rtqa.load_questions(dataset)[:1]
    plain, windowed = realtimeqa_runs(engine, questions, window_days=7, progress=False)
    row = windowed.report.rows[0]
    assert row.predicted == "40" and row.correct and row.em == 1.0
    assert row.published == "2019-01-05"  # the only article inside 2019-01-01..2019-01-07
    assert row.article_rank == 1 and windowed.report.summary.article_hit_at_1 == 1.0
    assert plain.report.rows[0].gold_in_index is True
    engine.close()
