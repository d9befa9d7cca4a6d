"""The answerer around its reader, on the real seed article with the fake embedder and reader
(fast): verified citations, refusals, abstentions. What the real models answer is in
test_integration.py."""

from __future__ import annotations

import pytest

from index.errors import InvalidQueryError
from service.citations import verify
from service.engine import Engine
from tests.conftest import SEED_ID


@pytest.fixture(scope="module")
def engine(tmp_path_factory, nlp):
    from service.config import Settings
    from tests.conftest import CORPUS

    settings = Settings(index_dir=tmp_path_factory.mktemp("idx"), embedder="hash", reader="fake", corpus_dir=CORPUS)
    eng = Engine(settings, nlp=nlp)
    eng.start(build_if_missing=True, progress=False)
    yield eng
    eng.close()


def _check_answer(engine, answer):
    """Every returned citation verifies and the answer is a verbatim span of its quote."""
    for c in answer.citations:
        doc = engine.document(c.doc_id)
        assert doc.text[c.char_start : c.char_end] == c.quote
        assert doc.text[c.answer_start : c.answer_end] == answer.answer
        assert answer.answer in c.quote
        assert verify(c, doc, answer.answer)
    assert 0.0 <= answer.confidence <= 1.0


def test_every_answer_is_a_verified_span_of_its_quote(engine):
    for question in ("How many US troops are in Iraq?", "Who is the military spokesman?",
                     "When did the first round of talks open?"):
        answer = engine.ask(question)
        assert answer.answer is not None
        _check_answer(engine, answer)
        assert answer.citations[0].doc_id == SEED_ID and answer.passages


@pytest.mark.parametrize(
    "question", ["Which of these countries has troops in Iraq?", "The US has troops in all these countries except:"])
def test_a_question_that_picks_from_unlisted_choices_abstains(engine, question):
    answer = engine.ask(question)
    assert answer.answer is None and answer.citations == []
    assert "choices" in answer.reason and answer.passages


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_question_is_refused(engine, bad):
    with pytest.raises(InvalidQueryError, match="empty"):
        engine.ask(bad)


def test_overlong_question_is_refused(engine):
    with pytest.raises(InvalidQueryError, match="limit is 1,000"):
        engine.ask("why " * 400)


@pytest.mark.parametrize(
    "question",
    [
        "Where in Iraq did the supreme military commission meet coalition forces?",
        "How many US troops are in Iraq?",
        "Who is the spokesman of the Iraqi prime minister?",
    ],
)
def test_answers_never_echo_the_question(engine, question):
    answer = engine.ask(question)
    assert answer.answer is None or answer.answer.lower() not in question.lower()


def test_an_index_of_stopwords_only_still_answers(tmp_path, nlp):
    # bm25s refuses to index an empty vocabulary; dense retrieval must carry on alone.
    from index.embedding import HashEmbedder
    from index.indexer import Indexer
    from index.records import Document
    from service.config import Settings

    settings = Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake", corpus_dir=tmp_path)
    Indexer(settings.index_dir, HashEmbedder(), settings.chunk_settings).run(
        [Document("stop", "Of the and the. It is.", "Stop")], progress=False
    )
    eng = Engine(settings, nlp=nlp)
    eng.start(build_if_missing=False, progress=False)
    answer = eng.ask("How many zebras are there?")
    assert answer.answer is None and answer.passages[0].doc_id == "stop"
    eng.close()


def test_engine_sees_writes_from_another_process(tmp_path, nlp):
    from index.embedding import HashEmbedder
    from index.indexer import Indexer
    from index.records import Document
    from service.config import Settings
    from tests.conftest import CORPUS

    settings = Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake", corpus_dir=CORPUS)
    eng = Engine(settings, nlp=nlp)
    eng.start(build_if_missing=True, progress=False)
    # A second writer, as `sourced index` in another process would be.
    other = Indexer(settings.index_dir, HashEmbedder(), settings.chunk_settings)
    other.run([Document("late-news", "The zebra count in Kenya reached 4,321 this year.", "Zebras")], progress=False)
    answer = eng.ask("What was the zebra count in Kenya?")
    assert answer.passages[0].doc_id == "late-news"
    eng.close()
    assert not eng.ready


def test_the_threshold_fitted_with_the_calibrator_decides_what_is_declined(engine, monkeypatch):
    """The same reading at confidence 0.4 is answered where the reader's fitted threshold is 0.3
    and declined, its confidence kept under the threshold, where it is 0.5."""
    from dataclasses import replace

    reader = engine.answerer.reader

    class Fitted:
        name = "fitted"

        def __init__(self, below: float) -> None:
            self.below = below

        def read(self, question, sentences):
            return replace(reader.read(question, sentences), confidence=0.4, abstain_below=self.below)

    monkeypatch.setattr(engine.answerer, "reader", Fitted(0.3))
    answered = engine.ask("How many US troops are in Iraq?")
    assert answered.answer is not None and answered.confidence == 0.4
    _check_answer(engine, answered)
    monkeypatch.setattr(engine.answerer, "reader", Fitted(0.5))
    declined = engine.ask("How many US troops are in Iraq?")
    assert declined.answer is None and declined.citations == []
    assert "too weak" in declined.reason and declined.confidence == 0.4
