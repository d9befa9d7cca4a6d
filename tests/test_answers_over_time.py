"""News changes: when dated articles give different values for the same claim, the newest one
(as of the question's date window) answers, and the earlier values are listed with their dates."""

from __future__ import annotations

import pytest

from index.records import Document
from service.citations import verify
from service.config import Settings
from service.engine import Engine
from service.filters import Filters

CLAIM = "The Riverton city council has approved {n} new electric buses for the downtown routes."


@pytest.fixture
def engine(tmp_path, nlp):
    eng = Engine(Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake"), nlp=nlp)
    eng.index_documents([
        Document("jan", CLAIM.format(n=25), "Council backs buses", published="2022-01-10"),
        Document("mar", CLAIM.format(n=40), "Council expands bus order", published="2022-03-02"),
        Document("may", CLAIM.format(n=55), "Bus order grows again", published="2022-05-20"),
    ])
    eng.start(progress=False)
    yield eng
    eng.close()


def test_the_newest_value_answers_and_the_earlier_ones_are_its_history(engine):
    answer = engine.ask("How many electric buses has the Riverton council approved?")
    assert answer.answer == "55"
    assert answer.citations[0].doc_id == "may" and answer.citations[0].published == "2022-05-20"
    assert [(h.answer, h.published) for h in answer.history] == [("40", "2022-03-02"), ("25", "2022-01-10")]
    assert not answer.conflict, "a story moving on is not a disagreement"
    for h in answer.history:
        assert verify(h, engine.document(h.doc_id), h.answer)


def test_a_date_window_answers_as_of_its_end(engine):
    window = Filters.parse("2022-01-01", "2022-03-31", [])
    answer = engine.ask("How many electric buses has the Riverton council approved?", filters=window)
    assert answer.answer == "40"
    assert [h.answer for h in answer.history] == ["25"]


def test_same_day_articles_that_disagree_are_a_conflict_not_history(tmp_path, nlp):
    eng = Engine(Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake"), nlp=nlp)
    eng.index_documents([
        Document("a", CLAIM.format(n=25), "One paper", published="2022-01-10"),
        Document("b", CLAIM.format(n=40), "Another paper", published="2022-01-10"),
    ])
    eng.start(progress=False)
    try:
        answer = eng.ask("How many electric buses has the Riverton council approved?")
        assert answer.conflict and answer.history == []
        assert {answer.answer, answer.alternatives[0].answer} == {"25", "40"}
    finally:
        eng.close()
