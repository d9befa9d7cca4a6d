"""The real packaged MiniLM model over the real seed article (offline, a few seconds)."""

from __future__ import annotations

import pytest

from index.embedding import SentenceTransformerEmbedder
from index.store import IndexStore
from tests.conftest import CORPUS, SEED_ID, US_TROOPS_QUOTE, started_engine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(tmp_path_factory, nlp):
    eng = started_engine(tmp_path_factory.mktemp("real-idx"), CORPUS, nlp)
    yield eng
    eng.close()


def test_real_model_vectors_are_normalised_and_384_d():
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed(["Washington has 2,500 soldiers in Iraq.", "Troops in Syria."])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors**2).sum(axis=1).max()) - 1.0) < 1e-4


def test_index_of_seed_article_satisfies_offsets_and_fits_model_window(engine):
    store = IndexStore.open(engine.settings.index_dir)
    snap = store.snapshot()
    doc = snap.documents[SEED_ID]
    chunks = [snap.chunk_text(i) for i in range(len(snap.chunk_doc))]
    for i, text in enumerate(chunks):
        s, e = snap.chunk_span[i]
        assert doc.text[s:e] == text
    assert US_TROOPS_QUOTE in [snap.sentence_text(j) for j in range(len(snap.sent_doc))]
    # MiniLM reads at most 256 word pieces and silently drops the rest.
    window = engine.embedder.max_seq_length
    assert max(engine.embedder.count_wordpieces(chunks)) <= window - 2
    assert store.manifest.model == "all-MiniLM-L6-v2" and store.manifest.dim == 384


def test_us_troops_answer_and_citation(engine):
    answer = engine.ask("How many US troops are in Iraq?")
    assert answer.answer == "2,500"
    c = answer.citations[0]
    assert c.quote == US_TROOPS_QUOTE
    assert engine.document(c.doc_id).text[c.char_start : c.char_end] == c.quote
    assert answer.confidence >= 0.5


@pytest.mark.xfail(strict=True, reason="the learned reader answers '2,500': the "
                   "absent 'British' weighs on its confidence, not enough to decline")
def test_british_troops_abstain(engine):
    answer = engine.ask("How many British troops are in Iraq?")
    assert answer.answer is None and answer.reason


@pytest.mark.parametrize(
    "question,expected",
    [
        # The title is part of the name as the article gives it; both are right (seed_dev.jsonl).
        ("Who is the military spokesman for Iraq's prime minister?", ("Yehia Rasool", "General Yehia Rasool")),
        ("When did the first round of talks open?", "January 27"),
        pytest.param("How many troops does Washington have in Syria?", "some 900", marks=pytest.mark.xfail(
            strict=True, reason="the learned reader gives '2,500', the figure for Iraq in the same sentence")),
        pytest.param("Which group claimed most of the attacks?", "the Islamic Resistance in Iraq",
                     marks=pytest.mark.xfail(strict=True, reason="the learned reader gives 'the "
                                             "Islamic Resistance', the name cut before 'in Iraq'")),
        # Qualifiers change a number's meaning and stay in the answer (with its unit or without).
        ("How many times have US and allied troops been targeted since mid-October?",
         ("more than 165", "more than 165 times")),
    ],
)
def test_more_seed_questions(engine, question, expected):
    got = engine.ask(question).answer
    assert got in expected if isinstance(expected, tuple) else got == expected
