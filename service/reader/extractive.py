"""The default reader: every candidate span of the evidence scored by fitted models.

The answer-type model says which kinds of span the question wants, the sentence-order model
which sentences to read first, the span model reads the first of them with the question, the
ranker weighs those opinions with the evidence's other features, and the calibrator says how
likely the best candidate is to be right. Nothing here is hand-set: the weights are the
shipped, hash-checked files ``python -m eval.train_reader`` fitted (``models.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.conflicts import value_tokens
from service.reader.base import Found, Reading, answer_type
from service.reader.evidence import Question, Sentence
from service.reader.features import coverage, featurize
from service.reader.order import SentenceOrder
from service.reader.ranker import Calibrator, Ranker, answer_groups, standing
from service.reader.span_model import SpanModel
from service.reader.spans import KINDS, candidates
from service.reader.types import TypeModel


class ExtractiveReader:
    """Usage::

        reader = ExtractiveReader.load()
        reading = reader.read(question, sentences)
        reading.best.text, reading.confidence
    """

    name = "extractive"

    def __init__(self, types: TypeModel, span: SpanModel | None, ranker: Ranker,
                 calibrator: Calibrator, order: SentenceOrder | None = None) -> None:
        self.types = types
        self.order = order  # None: retrieval's order
        self.span = span
        self.ranker = ranker
        self.calibrator = calibrator
        # How many of the best sentences the span model reads: what the ranker was fitted with.
        self.span_sentences = int(ranker.meta.get("span_sentences", 0)) if span is not None else 0

    @classmethod
    def load(cls, threads: int = 1) -> ExtractiveReader:
        """The shipped models; ``threads``: the span model's, for one question."""
        return cls(TypeModel.load(), SpanModel.load(threads=threads), Ranker.load(),
                   Calibrator.load(), SentenceOrder.load())

    def warm_up(self) -> None:
        if self.span is not None:
            self.span.warm_up()

    def read(self, question: Question, sentences: Sequence[Sentence]) -> Reading:
        probs = self.types.probs(question)
        expected = answer_type(KINDS[int(np.argmax(probs))])
        spans = [candidates(s.tokens, s.text) for s in sentences]
        covered = [coverage(s.tokens, question) for s in sentences]
        # ``sentences`` from here on in the order they are read; ``place`` maps back to the caller's
        place = (self.order.order(question, probs, sentences, spans, covered)
                 if self.order is not None else list(range(len(sentences))))
        sentences = [sentences[i] for i in place]
        spans, covered = [spans[i] for i in place], [covered[i] for i in place]
        scores = None
        if self.span_sentences:
            read = [s.text for s in sentences[: self.span_sentences]]
            scores = self.span.score(question.text, read) + [None] * (len(sentences) - len(read))
        x, which = featurize(question, probs, sentences, scores, spans, covered)
        if not which:
            return Reading(expected_type=expected, abstain_below=self.calibrator.abstain_below,
                           reason=f"No {expected} answer found in the closest sentences."
                           if expected != "other" else "No answer found in the closest sentences.")
        logits = self.ranker.logits(x)
        texts = [sentences[si].text[span.start : span.end] for si, span in which]
        groups = answer_groups(texts)
        order = np.argsort(-logits, kind="stable")
        top = int(order[0])
        n, q_words = len(sentences), len(question.words)
        confidence = self.calibrator.confidence(standing(logits, groups, top, x, n, q_words))
        found: list[Found] = []
        seen: set[tuple[str, ...]] = set()
        for r in order:
            key = value_tokens(texts[r]) or (texts[r].lower(),)
            if key in seen:
                continue  # the same answer from another span or sentence: its best is listed
            seen.add(key)
            si, span = which[r]
            conf = confidence if r == top else (
                self.calibrator.confidence(standing(logits, groups, int(r), x, n, q_words))
                if len(found) < RIVALS else 0.0)
            found.append(Found(place[si], span.start, span.end, texts[r], KINDS[span.kind],
                               float(logits[r]), conf))
        return Reading(found, confidence, expected, abstain_below=self.calibrator.abstain_below)


RIVALS = 10  # candidates after the best whose own confidence is worked out (conflicts and
# computed answers weigh them)
