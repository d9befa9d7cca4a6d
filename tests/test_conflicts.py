"""Sources that disagree are flagged: a second strongly supported answer of the same type from
another article comes back as a verified alternative. Fake embedder, real spaCy."""

from __future__ import annotations

import doctest

import pytest

import service.conflicts as conflicts
from index.records import Document
from service.citations import verify
from service.config import Settings
from service.engine import Engine

QUESTION = "How many electric buses did the city council approve?"
# The same claim in two articles: the fake embedder's vectors only see shared words, so the
# wording stays close (MiniLM also matches paraphrases).
MAYOR = "The city council approved {n} new electric buses on Monday, the mayor said."
OFFICIALS = "The city council approved {n} new electric buses on Monday, the mayor's office said."


def _engine(tmp_path, nlp, texts: list[str]) -> Engine:
    engine = Engine(Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake"), nlp=nlp)
    engine.index_documents([
        Document(doc_id=f"article-{i}", text=text, title=f"Article {i}")
        for i, text in enumerate(texts)
    ])
    engine.start()
    return engine


def test_two_articles_that_disagree_are_flagged_with_a_verified_alternative(tmp_path, nlp):
    engine = _engine(tmp_path, nlp, [
        MAYOR.format(n=40) + "\n\nThe buses will run from next year.",
        OFFICIALS.format(n=25) + "\n\nRiders welcomed the plan.",
    ])
    answer = engine.ask(QUESTION)
    assert answer.answer in ("40", "25")
    assert answer.conflict is True
    [alt] = answer.alternatives
    assert {answer.answer, alt.answer} == {"40", "25"}
    assert alt.doc_id != answer.citations[0].doc_id
    doc = engine.document(alt.doc_id)
    # Verified like the main citation: the quote and the answer are the text at their offsets.
    assert doc.text[alt.char_start : alt.char_end] == alt.quote
    assert doc.text[alt.answer_start : alt.answer_end] == alt.answer
    assert verify(alt, doc, alt.answer)
    assert answer.model_dump()["alternatives"][0]["answer"] == alt.answer  # in the JSON too
    engine.close()


def test_articles_that_agree_are_not_flagged(tmp_path, nlp):
    engine = _engine(tmp_path, nlp, [MAYOR.format(n=40), OFFICIALS.format(n="forty")])
    answer = engine.ask(QUESTION)
    assert answer.answer in ("40", "forty")
    assert answer.conflict is False and answer.alternatives == []
    engine.close()


def test_a_sentence_that_states_both_values_is_not_a_disagreement(tmp_path, nlp):
    engine = _engine(tmp_path, nlp, [
        MAYOR.format(n=40),
        "The city council approved 40 new electric buses on Monday, up from 25 last year.",
    ])
    answer = engine.ask(QUESTION)
    assert answer.answer == "40"
    assert answer.conflict is False
    engine.close()


def test_an_abstention_carries_no_conflict(tmp_path, nlp):
    engine = _engine(tmp_path, nlp, [MAYOR.format(n=40), OFFICIALS.format(n=25)])
    answer = engine.ask("How many British buses did the council approve?")
    assert answer.answer is None
    assert answer.conflict is False and answer.alternatives == []
    engine.close()


@pytest.mark.parametrize(("a", "b", "same"), [
    ("2,500", "2500", True),
    ("some 900", "900", True),
    ("U.S.", "the United States", True),
    ("Angelique Kerber", "Kerber", True),
    ("Angelique Kerber", "Ashleigh Barty", False),
    ("May 15, 2012", "May 1, 2002", False),
    ("60%", "6%", False),
])
def test_same_answer(a, b, same):
    assert conflicts.same_answer(a, b) is same
    assert conflicts.same_answer(b, a) is same


def test_doctests_pass():
    result = doctest.testmod(conflicts)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.integration
def test_real_model_flags_the_disagreement_and_not_the_agreement(tmp_path, nlp):
    from index.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    for n, (first, second, flagged) in enumerate([(40, 25, True), (40, "forty", False)]):
        engine = Engine(Settings(index_dir=tmp_path / f"idx{n}"), embedder=embedder, nlp=nlp)
        engine.index_documents([
            Document(doc_id="a", text=MAYOR.format(n=first), title="A"),
            Document(doc_id="b", text=OFFICIALS.format(n=second), title="B"),
        ])
        engine.start()
        answer = engine.ask(QUESTION)
        assert answer.answer is not None and answer.conflict is flagged, answer
        engine.close()
