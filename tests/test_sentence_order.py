"""The sentence order: the reader reads its evidence in the fitted order, and still cites the
sentences the caller gave it."""

from __future__ import annotations

import numpy as np
import pytest

from index.annotations import annotate
from service.reader import models
from service.reader.evidence import Question, Sentence
from service.reader.extractive import ExtractiveReader
from service.reader.order import NAME, ORDER_FEATURES, SentenceOrder, read_order
from service.reader.ranker import Calibrator, Ranker
from service.reader.span_model import SpanModel
from service.reader.spans import Span
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
