"""RGB en_fact: reading records, the passages of each condition, and how answers are counted
(synthetic records in the upstream layout: the data's licence keeps its text out of the repo)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from eval import rgb
from index.embedding import HashEmbedder
from index.errors import SourcedError
from index.records import Document
from service.config import Settings
from service.schemas import Alternative, Answer, Citation

TRUE = "The city council approved 40 new electric buses on Monday, the mayor said."
FALSE = "The city council approved 25 new electric buses on Monday, the mayor said."
NOISE = "Electric buses are cheaper to run than diesel ones, a study found."
RECORDS = [
    {"id": 7, "query": "How many electric buses did the city council approve?", "answer": "40",
     "fakeanswer": "25", "positive": [TRUE], "positive_wrong": [FALSE], "negative": [NOISE]},
    {"id": 8, "query": "When did the bridge open?",
     "answer": [["May 15 2012", "May 15, 2012"]], "fakeanswer": "May 1, 2002",
     "positive": ["The bridge opened on May 15, 2012.", "It opened in 2012."],
     "positive_wrong": ["The bridge opened on May 1, 2002.", "It opened in 2002."],
     "negative": []},
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "rgb_en_fact"
    folder.mkdir()
    (folder / "en_fact.dev.json").write_text("".join(json.dumps(r) + "\n" for r in RECORDS),
                                             encoding="utf-8")
    return folder


def test_records_are_read_with_every_accepted_answer(data: Path) -> None:
    first, second = rgb.load_questions(data)
    assert (first.id, first.answers, first.fake_answer) == ("7", ["40"], "25")
    assert second.answers == ["May 15 2012", "May 15, 2012"]
    assert second.passages["noise"] == []
    assert len(rgb.load_questions(data, limit=1)) == 1


def test_bad_or_missing_data_is_a_clear_error(data: Path, tmp_path: Path) -> None:
    with pytest.raises(SourcedError, match="--rgb-data"):
        rgb.load_questions(tmp_path / "nowhere")
    (data / "en_fact.dev.json").write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(SourcedError, match=r"en_fact\.dev\.json:1"):
        rgb.load_questions(data)


def test_each_condition_indexes_its_passage_kinds_only(data: Path) -> None:
    q = rgb.load_questions(data)[1]
    kinds = {c: sorted(rgb.kind_of(d.doc_id) for d in rgb.documents(q, c))
             for c in rgb.CONDITIONS}
    assert kinds == {"true": ["true", "true"], "false": ["false", "false"],
                     "mixed": ["false", "false", "true", "true"]}
    # The kind shows in the id only: titles are the same for every passage.
    assert len({d.title for d in rgb.documents(q, "mixed")}) == 1
    assert rgb.documents(q, "mixed") == rgb.documents(q, "mixed")  # the shuffle is seeded


def _cite(doc: Document, value: str) -> dict:
    a = doc.text.index(value)
    return dict(doc_id=doc.doc_id, title=doc.title, url=None, quote=doc.text, char_start=0,
                char_end=len(doc.text), answer_start=a, answer_end=a + len(value))


class Canned:
    """Answers from the first passage of a chosen kind that holds the value, like a reader would."""

    def __init__(self, plan: dict[str, tuple[str | None, str | None, str | None]]) -> None:
        self.plan = plan  # condition -> (answer, kind of the cited passage, alternative)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, question: str, docs: Sequence[Document]) -> tuple[Answer, float]:
        kinds = {rgb.kind_of(d.doc_id) for d in docs}
        condition = "mixed" if {"true", "false"} <= kinds else ("true" if "true" in kinds else "false")
        self.calls.append((condition, len(docs)))
        value, kind, alt = self.plan[condition]
        if value is None:
            return Answer(question=question, answer=None, answer_type="number", confidence=0.2), 5.0
        doc = next(d for d in docs if rgb.kind_of(d.doc_id) == kind and value in d.text)
        alts = []
        if alt is not None:
            other = next(d for d in docs if alt in d.text)
            alts = [Alternative(**_cite(other, alt), answer=alt)]
        return Answer(question=question, answer=value, answer_type="number", confidence=0.9,
                      citations=[Citation(**_cite(doc, value))], conflict=bool(alts),
                      alternatives=alts), 5.0


def test_answers_are_counted_by_whose_answer_they_give(data: Path) -> None:
    questions = rgb.load_questions(data)[:1]
    asker = Canned({"true": ("40", "true", None), "false": ("25", "false", None),
                    "mixed": ("25", "false", "40")})
    report = rgb.run_rgb(questions, asker, progress=False)
    assert asker.calls == [("true", 2), ("false", 2), ("mixed", 3)]
    by = {s.condition: s for s in report.summaries}
    assert (by["true"].n_true, by["true"].n_false, by["true"].n_cited_false) == (1, 0, 0)
    assert (by["false"].n_false, by["false"].n_cited_false) == (1, 1)
    assert (by["mixed"].n_false, by["mixed"].n_conflict, by["mixed"].n_both_shown) == (1, 1, 1)
    row = next(r for r in report.rows if r.condition == "mixed")
    assert row.says == "false" and row.cited_kind == "false" and row.alternatives == ["40"]
    assert row.quote[slice(*row.quote_answer)] == "25"
    assert "mixed" in rgb.format_summary(report)


def test_abstentions_and_errors_are_counted_and_the_run_goes_on(data: Path) -> None:
    questions = rgb.load_questions(data)

    def ask_over(question: str, docs: Sequence[Document]) -> tuple[Answer, float]:
        if question.startswith("When"):
            raise RuntimeError("boom")
        return Answer(question=question, answer=None, answer_type="number", confidence=0.1), 1.0

    report = rgb.run_rgb(questions, ask_over, conditions=("mixed",), progress=False)
    [s] = report.summaries
    assert (s.n, s.n_abstained, s.n_errors) == (2, 1, 1)
    assert "boom" in next(r.error for r in report.rows if r.error)


def test_the_real_pipeline_flags_the_disagreement_in_the_mixed_condition(data: Path, nlp) -> None:
    asker = rgb.TinyIndexAsker(Settings(embedder="hash", reader="fake"), HashEmbedder(dim=64), nlp)
    report = rgb.run_rgb(rgb.load_questions(data)[:1], asker, progress=False)
    rows = {r.condition: r for r in report.rows}
    assert rows["true"].says == "true" and rows["true"].cited_kind == "true"
    assert rows["false"].says == "false" and rows["false"].cited_kind == "false"
    assert rows["mixed"].conflict and rows["mixed"].both_shown
    assert not rows["true"].conflict and not rows["false"].conflict
