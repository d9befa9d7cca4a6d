"""The sentence order: the reader reads its evidence in the fitted order, and still cites the
sentences the caller gave it."""

from __future__ import annotations

import numpy as np
import pytest

from index.annotations import annotate
from service.reader import models
from service.reader.evidence import Question, Sentence
from service.reader.extractive import ExtractiveReader
from service.reader.features import FEATURES, coverage
from service.reader.order import NAME, ORDER_FEATURES, SentenceOrder, read_order
from service.reader.ranker import CALIBRATION_FEATURES, Calibrator, Ranker
from service.reader.span_model import SpanModel
from service.reader.spans import Span, candidates
from service.reader.types import TypeModel

TROOPS = "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria."
OTHER = [
    "The talks resumed on Sunday in Baghdad after a pause of several weeks.",
    "Officials said the commission would meet on a regular basis.",
    "The coalition was formed in 2014 to fight the Islamic State group.",
]


def test_a_sentence_without_candidates_is_read_last_and_ties_keep_retrievals_order():
    some = [Span(0, 0, 0, 1, 0, 0)]
    assert read_order(np.array([0.0, 0.0, 5.0, 1.0]), [some, some, [], some]) == [3, 0, 1, 2]


def _order_that_reads_backwards(directory) -> SentenceOrder:
    """A sentence order that puts retrieval's last sentence first."""
    n = len(ORDER_FEATURES)
    coef = np.zeros(n)
    coef[ORDER_FEATURES.index("retrieval_rank")] = -10.0
    models.save(NAME, {"mean": np.zeros(n), "scale": np.ones(n), "coef": coef,
                       "intercept": np.asarray(0.0)}, {"features": list(ORDER_FEATURES)}, directory)
    try:
        return SentenceOrder(models.load(NAME, directory))
    finally:
        models.load.cache_clear()


@pytest.mark.integration
def test_the_reader_cites_the_callers_sentences_whatever_order_it_reads_them_in(nlp, tmp_path):
    texts = [TROOPS, *OTHER]
    sentences = [Sentence(i, t, rows, 0.6 - 0.1 * i)
                 for i, (t, rows) in enumerate(zip(texts, annotate(nlp, texts), strict=True))]
    question = Question.of("How many US troops are in Iraq?", np.zeros(384, np.float32), lambda s: 1.0)
    shipped = (TypeModel.load(), SpanModel.load(), Ranker.load(), Calibrator.load())
    as_given = ExtractiveReader(*shipped).read(question, sentences)
    backwards = ExtractiveReader(*shipped, _order_that_reads_backwards(tmp_path)).read(question, sentences)
    for reading in (as_given, backwards):
        assert reading.candidates
        for found in reading.candidates:  # each answer is where it says, in the caller's list
            assert sentences[found.sentence].text[found.start : found.end] == found.text
    # read last, the troops sentence is still the one "2,500" is cited from
    assert any(f.sentence == 0 and f.text == "2,500" for f in backwards.candidates)


@pytest.mark.integration
def test_each_candidate_is_weighed_with_its_own_sentences_coverage_whatever_the_order(nlp, tmp_path):
    texts = [TROOPS, *OTHER]
    sentences = [Sentence(i, t, rows, 0.6 - 0.1 * i)
                 for i, (t, rows) in enumerate(zip(texts, annotate(nlp, texts), strict=True))]
    question = Question.of("How many troops in Iraq, and did the talks in Baghdad resume on Sunday "
                           "after officials said the commission met?", np.zeros(384, np.float32),
                           lambda s: 1.0)
    own = [coverage(s.tokens, question) for s in sentences]
    assert len(set(own)) == len(own)  # else a mix-up could not show
    ranker, seen = Ranker.load(), []
    weigh = ranker.logits
    ranker.logits = lambda x: seen.append(x.copy()) or weigh(x)
    order = _order_that_reads_backwards(tmp_path)
    reading = ExtractiveReader(TypeModel.load(), SpanModel.load(), ranker, Calibrator.load(),
                               order).read(question, sentences)
    assert reading.candidates and len(seen) == 1
    x = seen[0]
    read_at = np.rint(1 / x[:, FEATURES.index("sent_rank_recip")] - 1).astype(int)
    assert read_at.max() > 0  # several sentences hold candidates
    place = order.order(question, TypeModel.load().probs(question), sentences,
                        [candidates(s.tokens, s.text) for s in sentences])
    assert place[0] != 0  # it does read them in another order than the caller's
    expected = np.array([own[place[r]] for r in read_at], np.float32)
    assert np.array_equal(x[:, FEATURES.index("cov")], expected)


@pytest.mark.integration
def test_the_calibrator_reads_the_length_of_the_question_it_was_asked(nlp):
    """Training gives the calibrator log(1 + the question's words) (eval/reader_fit.choose);
    serving must give it the same, for the best candidate and for its rivals."""
    texts = [TROOPS, *OTHER]
    sentences = [Sentence(i, t, rows, 0.6 - 0.1 * i)
                 for i, (t, rows) in enumerate(zip(texts, annotate(nlp, texts), strict=True))]
    calibrator, seen = Calibrator.load(), []
    confidence = calibrator.confidence
    calibrator.confidence = lambda row: seen.append(row) or confidence(row)
    reader = ExtractiveReader(TypeModel.load(), SpanModel.load(), Ranker.load(), calibrator)
    # the third: its words (the model's measure) are not its blank-separated pieces
    for text in ("How many US troops are in Iraq?", "so how many troops does washington keep in iraq",
                 "troops -- in iraq , how many ?"):
        seen.clear()
        question = Question.of(text, np.zeros(384, np.float32), lambda s: 1.0)
        assert reader.read(question, sentences).candidates and len(seen) > 1
        at = CALIBRATION_FEATURES.index("q_words")
        assert {float(row[at]) for row in seen} == {float(np.log1p(len(question.words)))}
