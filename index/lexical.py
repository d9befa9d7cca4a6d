"""BM25 over chunks, scored exactly as ``bm25s`` scores them, and cheap to rebuild after a write.

``bm25s`` re-tokenises every chunk on each index build: on 27k chunks that is seconds, paid on
every write the service takes. Here each document's chunks are tokenised once and kept as term
counts; a rebuild after a write tokenises only the documents that changed and recomputes the
scores (which depend on corpus-wide statistics) in a few vectorised numpy passes.

Scores match ``bm25s.BM25()`` (method "lucene", k1=1.5, b=0.75, float32), bit for bit:
``tests/test_lexical.py`` checks them against it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from scipy import sparse

K1, B = 1.5, 0.75


@lru_cache(maxsize=1)
def stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default pattern
_STOPWORDS = frozenset(STOPWORDS_EN)
_stems: dict[str, str] = {}  # word -> stem: news reuses its words, stemming each once pays
_MAX_STEMS = 500_000


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stopword-free, stemmed tokens, as ``bm25s.tokenize(texts, stopwords="en",
    stemmer=...)`` gives them (it rebuilds its stopword set for every text: 3x slower)."""
    words = [[w for w in _TOKEN.findall(t.lower()) if w not in _STOPWORDS] for t in texts]
    local: dict[str, str] = {}  # read once from the shared cache: another thread may clear it
    missing = []
    for w in {w for ws in words for w in ws}:
        stem = _stems.get(w)
        if stem is None:
            missing.append(w)
        else:
            local[w] = stem
    if missing:
        found = dict(zip(missing, stemmer().stemWords(missing), strict=True))
        local.update(found)
        if len(_stems) > _MAX_STEMS:
            _stems.clear()
        _stems.update(found)
    return [[local[w] for w in ws] for ws in words]


@dataclass(frozen=True)
class DocTerms:
    """One document's chunks as term counts: chunk ``c`` owns entries ``starts[c]:starts[c+1]``."""

    terms: np.ndarray  # int32 term ids, unique within a chunk
    counts: np.ndarray  # float32 term frequencies
    starts: np.ndarray  # int64 (n_chunks + 1,)
    lengths: np.ndarray  # int64 tokens per chunk (stopwords excluded), BM25's document length


class LexicalIndex:
    """BM25 scores of every chunk for a query.

    Usage::

        index = LexicalIndex.build(keys, texts)    # texts[i]: the chunk texts of document i
        scores = index.scores("How many US troops are in Iraq?")   # one float32 per chunk
        later = LexicalIndex.build(new_keys, new_texts, base=index)  # reuses unchanged documents

    ``keys`` name each document's content (doc id and content hash): a key ``base`` has seen
    reuses its tokens. Chunk rows follow the order of ``keys``.
    """

    def __init__(self, vocab: dict[str, int], docs: dict[str, DocTerms], order: list[str]) -> None:
        self.vocab = vocab
        self._docs = docs
        terms = [docs[k] for k in order]
        n = sum(len(d.lengths) for d in terms)
        self.n_chunks = n
        cat = np.concatenate
        all_terms = cat([d.terms for d in terms]) if terms else np.zeros(0, np.int32)
        counts = cat([d.counts for d in terms]) if terms else np.zeros(0, np.float32)
        lengths = cat([d.lengths for d in terms]) if terms else np.zeros(0, np.int64)
        per_chunk = cat([np.diff(d.starts) for d in terms]) if terms else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int32), per_chunk)
        n_vocab = len(vocab)
        df = np.bincount(all_terms, minlength=n_vocab)
        # The same float32/float64 steps as bm25s, so the scores are identical, not just close.
        # Few distinct frequencies: math.log on each, as bm25s computes it, then float32.
        freqs, which = np.unique(df, return_inverse=True)
        logs = [math.log(1 + (n - f + 0.5) / (f + 0.5)) if f else 0.0 for f in freqs.tolist()]
        idf = np.asarray(logs, dtype=np.float32)[which]
        avg = np.float64(lengths.mean()) if n else np.float64(1.0)
        norm = K1 * ((1 - B) + B * lengths[rows] / avg)
        data = (idf[all_terms] * (counts / (norm + counts))).astype(np.float32)
        # Column-major (one term's chunks together), as a query reads it; scipy's conversion is
        # a counting sort, several times faster than argsort on ~3M entries.
        matrix = sparse.csc_matrix((data, (rows, all_terms)), shape=(n, n_vocab))
        self._data, self._rows, self._indptr = matrix.data, matrix.indices, matrix.indptr

    @classmethod
    def build(
        cls, keys: Sequence[str], texts: Sequence[Sequence[str]], base: LexicalIndex | None = None
    ) -> LexicalIndex:
        """``keys[i]`` names document ``i`` (in chunk order) whose chunk texts are ``texts[i]``."""
        vocab = dict(base.vocab) if base is not None else {}
        known = base._docs if base is not None else {}
        docs: dict[str, DocTerms] = {}
        for key, chunk_texts in zip(keys, texts, strict=True):
            docs[key] = known.get(key) or _doc_terms(chunk_texts, vocab)
        return cls(vocab, docs, list(keys))

    def __len__(self) -> int:
        return self.n_chunks

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each chunk for ``query`` (zeros when it shares no word with any)."""
        out = np.zeros(self.n_chunks, dtype=np.float32)
        ids = [self.vocab[t] for t in tokenize([query])[0] if t in self.vocab]
        for t in ids:  # in query order, repeats included, as bm25s adds them
            s, e = self._indptr[t], self._indptr[t + 1]
            out[self._rows[s:e]] += self._data[s:e]  # a chunk occurs once per term: no clash
        return out


def _doc_terms(chunk_texts: Sequence[str], vocab: dict[str, int]) -> DocTerms:
    terms: list[int] = []
    counts: list[int] = []
    starts, lengths = [0], []
    for tokens in tokenize(chunk_texts) if chunk_texts else []:
        for term, count in Counter(tokens).items():
            terms.append(vocab.setdefault(term, len(vocab)))
            counts.append(count)
        starts.append(len(terms))
        lengths.append(len(tokens))
    return DocTerms(
        np.asarray(terms, dtype=np.int32), np.asarray(counts, dtype=np.float32),
        np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64),
    )

