"""Which evidence sentences the reader reads first: a fitted model of how likely each sentence
is to hold the answer.

Retrieval hands the reader its sentences by vector similarity to the question. This model
weighs that similarity with the question's words the sentence holds, its chunk's retrieval
score, retrieval's own order and how well the sentence's candidates fit the answer type the
question expects. The span model reads the first sentences of this order, and the ranker's
position features count in it. Fitted by ``python -m eval.train_reader`` (a logistic
regression: does the sentence hold a candidate that is a right answer?) and shipped as
``models/sentence_order.{npz,json}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.reader.evidence import Question, Sentence
from service.reader.features import coverage
from service.reader.models import load
from service.reader.ranker import Linear
from service.reader.spans import Span

NAME = "sentence_order"
ORDER_FEATURES = ("dense", "dense_gap", "cov", "cov_gap", "chunk", "retrieval_rank",
                  "type_best", "type_top3", "candidates")


def sentence_features(question: Question, kind_probs: np.ndarray, sentences: Sequence[Sentence],
                      spans: Sequence[Sequence[Span]],
                      covered: Sequence[float] | None = None) -> np.ndarray:
    """A row of ``ORDER_FEATURES`` per sentence, in retrieval's order; ``spans``: each
    sentence's candidates (``spans.candidates``); ``covered``: each sentence's
    ``features.coverage``, when the caller has it."""
    x = np.zeros((len(sentences), len(ORDER_FEATURES)))
    if not len(sentences):
        return x
    dense = np.array([s.dense for s in sentences])
    cov = np.array(covered if covered is not None else [coverage(s.tokens, question) for s in sentences])
    x[:, 0], x[:, 1] = dense, dense.max() - dense
    x[:, 2], x[:, 3] = cov, cov.max() - cov
    x[:, 4] = [s.chunk_score for s in sentences]
    x[:, 5] = 1.0 / (1.0 + np.arange(len(sentences)))
    for i, found in enumerate(spans):
        if found:
            fit = np.sort(kind_probs[[c.kind for c in found]])
            x[i, 6], x[i, 7], x[i, 8] = fit[-1], fit[-3:].sum(), np.log1p(len(found))
    return x


class SentenceOrder(Linear):
    """Usage::

        order = SentenceOrder.load()
        first = order.order(question, kind_probs, sentences, spans)  # indices, best first
    """

    def __init__(self, file) -> None:
        super().__init__(file, ORDER_FEATURES)

    @classmethod
    def load(cls) -> SentenceOrder:
        return cls(load(NAME))

    def order(self, question: Question, kind_probs: np.ndarray, sentences: Sequence[Sentence],
              spans: Sequence[Sequence[Span]], covered: Sequence[float] | None = None) -> list[int]:
        """Indices into ``sentences``, most likely to answer first; a sentence without a
        candidate cannot answer, so it comes last (retrieval's order breaks ties)."""
        if not len(sentences):
            return []
        x = sentence_features(question, kind_probs, sentences, spans, covered)
        return read_order(self.logits(x), spans)


def read_order(scores: np.ndarray, spans: Sequence[Sequence[Span]]) -> list[int]:
    """Sentence indices by ``scores``, best first; a sentence without a candidate cannot
    answer, so it comes last; equal scores keep retrieval's order."""
    z = np.array(scores, dtype=np.float64)
    z[[not found for found in spans]] = -np.inf
    return np.argsort(-z, kind="stable").tolist()
