"""What a reader reads: the question, analysed once, and the retrieved sentences with the token
rows stored for them at ingest."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.lexical import bm25_idf
from index.words import content_words, stem_key

# Question words, in the order a wh-phrase is looked for ("how many" before "how").
WH_WORDS = ("how many", "how much", "how long", "how old", "how far", "how often", "what",
            "which", "who", "whom", "whose", "when", "where", "why", "how")
_WH = re.compile(r"\b(" + "|".join(w.replace(" ", r"\s+") for w in WH_WORDS) + r")\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’.-][a-z0-9]+)*|[$%£€]")


@dataclass(frozen=True)
class Sentence:
    """One retrieved sentence: its text, its stored token rows and how retrieval saw it."""

    row: int  # its row in the index snapshot (or any id the caller keeps)
    text: str
    tokens: np.ndarray  # index.annotations.TOKEN_DTYPE rows
    dense: float  # cosine of the question and sentence vectors
    chunk_score: float = 1.0  # the fused retrieval score of its best chunk, relative to the best
    published: str | None = None


@dataclass(frozen=True)
class Question:
    """A question as the reader uses it: its words, their weights, its vector."""

    text: str
    vector: np.ndarray
    words: tuple[str, ...]  # lower-cased tokens, punctuation dropped (for the type model)
    wh: str  # the first question word or phrase ("how many"), "" when there is none
    keys: dict[int, float] = field(default_factory=dict)  # content-word key -> idf weight

    @classmethod
    def of(cls, text: str, vector: np.ndarray, idf: Callable[[str], float]) -> Question:
        low = " ".join(text.lower().split())
        m = _WH.search(low)
        wh = " ".join(m.group(1).split()) if m else ""
        keys: dict[int, float] = {}
        for stem in content_words(text):
            key = stem_key(stem)
            keys[key] = max(keys.get(key, 0.0), idf(stem))
        return cls(text=text, vector=vector, words=tuple(_TOKEN.findall(low)), wh=wh, keys=keys)

    @property
    def weight(self) -> float:
        """The question's total word weight (idf): the denominator of every overlap share."""
        return sum(self.keys.values()) or 1.0


def idf_from_counts(df: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25's idf of a stem from document frequencies; an unseen stem weighs the most."""
    return lambda stem: bm25_idf(df.get(stem, 0), n_docs)


def rank_sentences(sentences: Sequence[Sentence], limit: int) -> list[Sentence]:
    """The sentences worth reading, best first: by dense similarity. (The ranker weighs the
    lexical evidence per candidate; here only recall matters.)"""
    return sorted(sentences, key=lambda s: -s.dense)[:limit]
