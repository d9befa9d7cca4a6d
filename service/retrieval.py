"""Hybrid retrieval: dense (FAISS) and lexical (BM25) over chunks, fused by reciprocal rank.

Rank fusion, not score fusion: BM25's unbounded scores would otherwise swamp cosine scores.
Then the sentences of the best chunks are chosen for the reader, by their stored vectors and by
the question's words their stored token rows hold (``evidence``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.lexical import CorpusStats, LexicalIndex
from index.store import Snapshot
from index.vectors import VectorIndex
from service.reader.evidence import Question, Sentence
from service.reader.features import coverage

RRF_K = 60  # the constant from Cormack et al.; damps the head of each list
# Evidence the reader reads, chosen for recall (measured on our written RealTime QA questions:
# the answer's sentence was among them for 214 of 264, against 199 with 5 chunks and 8 + 4
# sentences): the sentences of the best EVIDENCE_CHUNKS chunks, the BY_DENSE closest to the
# question by vector and the BY_COVERAGE that hold most of its words.
EVIDENCE_CHUNKS = 8
BY_DENSE = 12
BY_COVERAGE = 6


@dataclass(frozen=True)
class ChunkHit:
    row: int  # chunk row in the snapshot
    score: float  # fused reciprocal-rank score
    dense: float  # cosine similarity to the question


class HybridRetriever:
    """Search one snapshot of the index.

    Usage::

        retriever = HybridRetriever(snapshot)
        hits = retriever.search(question_vector, question, k=5)
        sentences = retriever.evidence(Question.of(text, vector, retriever.idf), hits)
    """

    def __init__(
        self, snapshot: Snapshot, candidates: int = 50, base: HybridRetriever | None = None,
        stats: CorpusStats | None = None,
    ) -> None:
        """``base``, the retriever of an earlier snapshot of the same index, lends what did not
        change (tokenised documents, trained vector lists): a write then costs what it wrote.
        ``stats``: BM25 over the whole corpus's statistics, for a shard (index/shards.py)."""
        self.snapshot = snapshot
        self.candidates = candidates
        self.dense = VectorIndex(snapshot.chunk_vectors, base=base.dense if base else None)
        self.lexical = _lexical(snapshot, base.lexical if base else None, stats)

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
        dense, lexical = self.rankings(qvec, question, self.depth(n, k), allowed)
        best = fuse([r for r, _ in dense], [r for r, _ in lexical], k)
        return to_hits(self.snapshot, best, qvec)

    def depth(self, n: int, k: int) -> int:
        """How deep each ranking goes for ``k`` hits out of ``n`` chunks."""
        return min(n, max(self.candidates, k))

    def rankings(
        self, qvec: np.ndarray, question: str, depth: int, allowed: np.ndarray | None = None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The top ``depth`` (row, score) by dense similarity and by BM25 (positive scores
        only), best first; equal scores in row order. ``allowed``: as ``search``."""
        depth = min(depth, len(self))
        if depth == 0:
            return [], []
        scores, ids = self.dense.search(qvec, depth, allowed)  # exact over ``allowed`` when given
        dense = sorted(((int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0),
                       key=lambda rs: (-rs[1], rs[0]))
        lexical = self.lexical.scores(question)
        if allowed is not None:
            lexical = np.where(allowed, lexical, 0.0)
        lex = [(int(i), float(lexical[i])) for i in np.argsort(-lexical, kind="stable")[:depth]
               if lexical[i] > 0]
        return dense, lex

    def idf(self, stem: str) -> float:
        """BM25's idf of a stemmed word over the chunks (the most for one never seen)."""
        return self.lexical.idf(stem)

    def evidence(self, question: Question, hits: list[ChunkHit]) -> list[Sentence]:
        """The sentences the reader reads for ``question``: see ``EVIDENCE_CHUNKS``."""
        return evidence(self.snapshot, question, hits)


def fuse(dense: list, lexical: list, k: int) -> list[tuple]:
    """The top ``k`` (chunk, score) by reciprocal rank fusion of two rankings of chunks (rows,
    or any ordered keys); equal scores in chunk order."""
    fused: dict = {}
    for ranking in (dense, lexical):
        for rank, row in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def to_hits(snapshot: Snapshot, best: list[tuple[int, float]], qvec: np.ndarray) -> list[ChunkHit]:
    """``fuse``'s (row, score) pairs of ``snapshot`` as hits, with their cosine similarity."""
    cos = snapshot.chunk_vectors[[r for r, _ in best]] @ qvec if best else []
    return [ChunkHit(r, s, float(c)) for (r, s), c in zip(best, cos, strict=True)]


def evidence(snap: Snapshot, question: Question, hits: list[ChunkHit]) -> list[Sentence]:
    """The sentences of ``snap`` the reader reads for ``question``: see ``EVIDENCE_CHUNKS``."""
    top = hits[0].score if hits else 1.0
    relative: dict[int, float] = {}
    for hit in hits[:EVIDENCE_CHUNKS]:
        start, end = snap.chunk_sent[hit.row]
        for row in range(int(start), int(end)):
            relative.setdefault(row, hit.score / top)
    if not relative:
        return []
    rows = np.fromiter(relative, dtype=np.int64, count=len(relative))
    dense = snap.sent_vectors[rows] @ question.vector
    covered = [coverage(snap.tokens(int(r)), question) for r in rows]
    by_dense = np.argsort(-dense, kind="stable")[:BY_DENSE]
    by_cover = sorted(range(len(rows)), key=lambda i: (-covered[i], -dense[i]))[:BY_COVERAGE]
    chosen = list(dict.fromkeys([*by_dense.tolist(), *by_cover]))
    out = []
    for i in chosen:
        row = int(rows[i])
        doc = snap.documents[snap.sent_doc[row]]
        out.append(Sentence(row, snap.sentence_text(row), snap.tokens(row), float(dense[i]),
                            relative[row], doc.published))
    return out


def _lexical(snapshot: Snapshot, base: LexicalIndex | None, stats: CorpusStats | None) -> LexicalIndex:
    """BM25 over the snapshot's chunks: mapped from the array cache when it holds this very
    corpus, else built (reusing ``base``'s unchanged documents) and saved to the cache."""
    keys, _ = snapshot.chunks_by_document(texts=False)
    where = snapshot.cache_dir
    if base is None and where is not None and (where / "lexical.json").is_file():
        try:
            found = LexicalIndex.load(where, stats)
            if found.order == keys:
                return found
        except (OSError, ValueError, KeyError):
            pass  # rebuilt below
    index = LexicalIndex.build(keys, snapshot.chunks_by_document()[1], base=base, stats=stats)
    if where is not None:
        try:
            index.save(where)
        except OSError:
            pass  # a read-only index: built again on the next start
    return index
