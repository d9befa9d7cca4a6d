"""The answer-type model: from a question, how likely each kind of candidate is to answer it.

A multinomial logistic regression over the question's sentence vector (already computed for
retrieval) and light lexical features: the question word wherever it stands ("new buses council
approved how many"), the words right after it, every word and word pair, lower-cased. Fitted by
``python -m eval.train_reader`` on SQuAD questions whose answers were typed by their candidate
kind, and on our own news questions.
"""

from __future__ import annotations

import numpy as np

from service.reader.evidence import Question
from service.reader.models import ModelFile, load
from service.reader.spans import KINDS

NAME = "answer_types"


def lexical_features(question: Question) -> list[str]:
    """The question's lexical features, by name (the model's vocabulary keeps the frequent)."""
    words = question.words
    out = [f"wh={question.wh or '-'}"]
    out += [f"w={w}" for w in words]
    out += [f"b={a}_{b}" for a, b in zip(words, words[1:])]
    if words:
        out += [f"first={words[0]}", f"last={words[-1]}"]
    if question.wh:
        first = question.wh.split()[0]
        at = next((i for i, w in enumerate(words) if w == first), None)
        if at is not None:
            after = words[at + len(question.wh.split()) :]
            out += [f"wh+1={question.wh}_{'_'.join(after[:1])}",
                    f"wh+2={question.wh}_{'_'.join(after[:2])}"]
    return out


class TypeModel:
    """Usage::

        model = TypeModel.load()
        probs = model.probs(question)      # one probability per ``spans.KINDS``
    """

    def __init__(self, file: ModelFile) -> None:
        kinds = tuple(file.meta["kinds"])
        if kinds != KINDS:
            raise ValueError(f"the type model was fitted on kinds {kinds}, the reader has {KINDS}")
        self.meta = file.meta
        self.vocab = {f: i for i, f in enumerate(file.meta["vocabulary"])}
        self.dense = file.arrays["dense"]  # (K, dim)
        self.sparse = file.arrays["sparse"]  # (K, V)
        self.bias = file.arrays["bias"]  # (K,)

    @classmethod
    def load(cls) -> TypeModel:
        return cls(load(NAME))

    def logits(self, question: Question) -> np.ndarray:
        cols = [self.vocab[f] for f in set(lexical_features(question)) if f in self.vocab]
        z = self.bias + self.sparse[:, cols].sum(axis=1)
        if question.vector.shape == self.dense.shape[1:]:  # not the test fake's 64-d vectors
            z = z + self.dense @ question.vector
        return z

    def probs(self, question: Question) -> np.ndarray:
        z = self.logits(question)
        e = np.exp(z - z.max())
        return e / e.sum()
