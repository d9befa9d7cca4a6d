"""Hybrid retrieval: dense (FAISS) and lexical (BM25) over chunks, fused by reciprocal rank.

Rank fusion, not score fusion: BM25's unbounded scores would otherwise swamp cosine scores.
Then sentences inside the retrieved chunks are scored with their stored vectors and lexical
overlap with the question: answers are picked at sentence level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer

from index.lexical import LexicalIndex
from index.store import Snapshot
from index.vectors import VectorIndex

RRF_K = 60  # the constant from Cormack et al.; damps the head of each list
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,'’-][A-Za-z0-9]+)*")
STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does
    did has have had how many much what which who whom whose when where why will would can could
    this that these those it its as about into than then there their they he she his her i you we
    our us if not no so such up out over under all any some more most other same own just also""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords ("US" is kept: it is a name)."""
    # "Iraq's" and "Iraq’s" are the word "Iraq".
    words = [w.removesuffix("'s") for w in _WORD.findall(text.replace("’", "'"))]
    words = [w for w in words if w.lower() not in STOPWORDS or w == "US"]
    return _stemmer().stemWords([w.lower() for w in words])


@dataclass(frozen=True)
class ChunkHit:
    row: int  # chunk row in the snapshot
    score: float  # fused reciprocal-rank score
    dense: float  # cosine similarity to the question


@dataclass(frozen=True)
class SentenceHit:
    row: int  # sentence row in the snapshot
    chunk: ChunkHit
    score: float
    dense: float
    overlap: float  # share of the question's content words found in the sentence


class HybridRetriever:
    """Search one snapshot of the index.

    Usage::

        retriever = HybridRetriever(snapshot)
        hits = retriever.search(question_vector, question, k=5)
        sentences = retriever.sentences(question_vector, question, hits)
    """

    def __init__(
        self, snapshot: Snapshot, candidates: int = 50, base: HybridRetriever | None = None
    ) -> None:
        """``base``, the retriever of an earlier snapshot of the same index, lends what did not
        change (tokenised documents, trained vector lists): a write then costs what it wrote."""
        self.snapshot = snapshot
        self.candidates = candidates
        self.dense = VectorIndex(snapshot.chunk_vectors, base=base.dense if base else None)
        keys, texts = _documents(snapshot)
        self.lexical = LexicalIndex.build(keys, texts, base=base.lexical if base else None)

    def __len__(self) -> int:
        return len(self.dense)

    def search(
        self, qvec: np.ndarray, question: str, k: int, allowed: np.ndarray | None = None
    ) -> list[ChunkHit]:
        """Top ``k`` chunks by reciprocal rank fusion of dense and BM25 rankings.

        ``allowed`` is an optional boolean mask over chunks (date or source filters).
        """
        n = len(self)
        if n == 0:
            return []
        depth = min(n, max(self.candidates, k))
        _, ids = self.dense.search(qvec, depth, allowed)  # exact over ``allowed`` when given
        dense_rank = [int(i) for i in ids[0] if i >= 0]
        lexical = self.lexical.scores(question)
        if allowed is not None:
            lexical = np.where(allowed, lexical, 0.0)
        lex_rank = [int(i) for i in np.argsort(-lexical, kind="stable")[:depth] if lexical[i] > 0]
        fused: dict[int, float] = {}
        for ranking in (dense_rank, lex_rank):
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        cos = self.snapshot.chunk_vectors[[r for r, _ in best]] @ qvec if best else []
        return [ChunkHit(r, s, float(c)) for (r, s), c in zip(best, cos, strict=True)]

    def sentences(self, qvec: np.ndarray, question: str, hits: list[ChunkHit]) -> list[SentenceHit]:
        """Sentences of the retrieved chunks, best first (each sentence once, via its best chunk)."""
        qwords = set(content_words(question))
        best: dict[int, SentenceHit] = {}
        top = hits[0].score if hits else 1.0
        for hit in hits:
            start, end = self.snapshot.chunk_sent[hit.row]
            rows = np.arange(start, end)
            dense = self.snapshot.sent_vectors[rows] @ qvec
            for row, d in zip(rows, dense, strict=True):
                row = int(row)
                words = set(content_words(self.snapshot.sentence_text(row)))
                overlap = len(qwords & words) / len(qwords) if qwords else 0.0
                # Sentence similarity leads; lexical overlap and the chunk's rank break ties.
                score = 0.6 * float(d) + 0.3 * overlap + 0.1 * (hit.score / top)
                if row not in best or score > best[row].score:
                    best[row] = SentenceHit(row, hit, score, float(d), overlap)
        return sorted(best.values(), key=lambda s: -s.score)


def _documents(snapshot: Snapshot) -> tuple[list[str], list[list[str]]]:
    """Per document, in row order: a key naming its content, and its chunks' texts."""
    keys: list[str] = []
    texts: list[list[str]] = []
    for i, doc_id in enumerate(snapshot.chunk_doc):
        if not keys or snapshot.chunk_doc[i - 1] != doc_id:
            doc = snapshot.documents[doc_id]
            keys.append(f"{doc_id}\x00{snapshot.hashes.get(doc_id) or doc.content_hash}")
            texts.append([])
        texts[-1].append(snapshot.chunk_text(i))
    return keys, texts
