"""BM25 over chunks, scored exactly as ``bm25s`` scores them, and cheap to rebuild after a write.

``bm25s`` re-tokenises every chunk on each index build: on 27k chunks that is seconds, paid on
every write the service takes. Here each document's chunks are tokenised once and kept as term
counts; a rebuild after a write tokenises only the documents that changed and recomputes the
scores (which depend on corpus-wide statistics) in a few vectorised numpy passes.

Scores match ``bm25s.BM25()`` (method "lucene", k1=1.5, b=0.75, float32), bit for bit:
``tests/test_lexical.py`` checks them against it.

A shard of a larger index (index/shards.py) scores with the whole corpus's statistics
(``CorpusStats``: document frequencies, chunk count, total length), so each of its chunks gets
the score it would get in the single index, and merged rankings equal the single index's.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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


def bm25_idf(f: int, n: int) -> float:
    """BM25's (Lucene's) idf of a term in ``f`` of ``n`` documents, as bm25s computes it."""
    return math.log(1 + (n - f + 0.5) / (f + 0.5))


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs of the whole corpus: chunks, their total length (tokens, stopwords
    excluded), and each stem's document (chunk) frequency.

    Usage::

        stats = CorpusStats.merge([shard.stats() for shard in shards])
        shard = LexicalIndex.build(keys, texts, stats=stats)   # scores as the single index
    """

    n_chunks: int
    total_length: int
    df: dict[str, int]

    @classmethod
    def merge(cls, parts: Sequence[CorpusStats]) -> CorpusStats:
        df: Counter[str] = Counter()
        for part in parts:
            df.update(part.df)
        return cls(sum(p.n_chunks for p in parts), sum(p.total_length for p in parts), dict(df))

    def idf(self, stem: str) -> float:
        """BM25's idf of a stem over the whole corpus (the most for one never seen)."""
        return bm25_idf(self.df.get(stem, 0), self.n_chunks)

    @property
    def digest(self) -> str:
        """Names these statistics: a saved index scored with others is not reused."""
        blob = json.dumps([self.n_chunks, self.total_length, sorted(self.df.items())])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"n_chunks": self.n_chunks, "total_length": self.total_length,
                                    "df": self.df}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CorpusStats:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(raw["n_chunks"]), int(raw["total_length"]), {k: int(v) for k, v in raw["df"].items()})


class LexicalIndex:
    """BM25 scores of every chunk for a query.

    Usage::

        index = LexicalIndex.build(keys, texts)    # texts[i]: the chunk texts of document i
        scores = index.scores("How many US troops are in Iraq?")   # one float32 per chunk
        later = LexicalIndex.build(new_keys, new_texts, base=index)  # reuses unchanged documents

    ``keys`` name each document's content (doc id and content hash): a key ``base`` has seen
    reuses its tokens. Chunk rows follow the order of ``keys``. ``stats``: score with these
    corpus-wide statistics instead of this index's own (a shard, see ``CorpusStats``).
    """

    def __init__(self, vocab: dict[str, int], docs: dict[str, DocTerms], order: list[str],
                 stats: CorpusStats | None = None) -> None:
        self.vocab = vocab
        self.corpus = stats
        self._docs = docs
        self._order = list(order)
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
        self._df = df
        self._lengths = lengths
        n_corpus, corpus_df = n, df
        if stats is not None:
            n_corpus = stats.n_chunks
            corpus_df = np.zeros(n_vocab, np.int64)
            for term, i in vocab.items():
                corpus_df[i] = stats.df.get(term, 0)
        # The same float32/float64 steps as bm25s, so the scores are identical, not just close.
        # Few distinct frequencies: math.log on each, as bm25s computes it, then float32.
        freqs, which = np.unique(corpus_df, return_inverse=True)
        logs = [bm25_idf(f, n_corpus) if f else 0.0 for f in freqs.tolist()]
        idf = np.asarray(logs, dtype=np.float32)[which]
        if stats is not None:  # the sum of integers is exact: the very mean the whole corpus has
            avg = np.float64(stats.total_length) / stats.n_chunks if stats.n_chunks else np.float64(1.0)
        else:
            avg = np.float64(lengths.mean()) if n else np.float64(1.0)
        norm = K1 * ((1 - B) + B * lengths[rows] / avg)
        data = (idf[all_terms] * (counts / (norm + counts))).astype(np.float32)
        # Column-major (one term's chunks together), as a query reads it; scipy's conversion is
        # a counting sort, several times faster than argsort on ~3M entries.
        matrix = sparse.csc_matrix((data, (rows, all_terms)), shape=(n, n_vocab))
        self._data, self._rows, self._indptr = matrix.data, matrix.indices, matrix.indptr

    @classmethod
    def build(
        cls, keys: Sequence[str], texts: Sequence[Sequence[str]], base: LexicalIndex | None = None,
        stats: CorpusStats | None = None,
    ) -> LexicalIndex:
        """``keys[i]`` names document ``i`` (in chunk order) whose chunk texts are ``texts[i]``."""
        vocab = dict(base.vocab) if base is not None else {}
        known = base._docs if base is not None else {}
        docs: dict[str, DocTerms] = {}
        for key, chunk_texts in zip(keys, texts, strict=True):
            docs[key] = known.get(key) or _doc_terms(chunk_texts, vocab)
        return cls(vocab, docs, list(keys), stats)

    def __len__(self) -> int:
        return self.n_chunks

    def stats(self) -> CorpusStats:
        """This index's own statistics (``CorpusStats.merge`` adds those of several)."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        df = {terms[i]: int(f) for i, f in enumerate(self._df[: len(terms)]) if f}
        return CorpusStats(self.n_chunks, int(np.sum(self._lengths)), df)

    # -- persistence: start-up reads the scores instead of tokenising every chunk again -------
    def save(self, directory: Path) -> None:
        """Write the scores and the per-document term counts (for later incremental builds)."""
        directory.mkdir(parents=True, exist_ok=True)
        docs = [self._docs[k] for k in self._order]
        cat = np.concatenate
        arrays = {
            "data": self._data, "rows": self._rows, "indptr": self._indptr, "df": self._df,
            "terms": cat([d.terms for d in docs]) if docs else np.zeros(0, np.int32),
            "counts": cat([d.counts for d in docs]) if docs else np.zeros(0, np.float32),
            "lengths": cat([d.lengths for d in docs]) if docs else np.zeros(0, np.int64),
            "entries": np.array([len(d.terms) for d in docs], np.int64),
            "chunks": np.array([len(d.lengths) for d in docs], np.int64),
            "per_chunk": cat([np.diff(d.starts) for d in docs]) if docs else np.zeros(0, np.int64),
        }
        for name, value in arrays.items():
            np.save(directory / f"lexical.{name}.npy", np.ascontiguousarray(value))
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        (directory / "lexical.json").write_text(json.dumps({
            "n_chunks": self.n_chunks, "order": self._order, "vocab": vocab,
            "corpus": self.corpus.digest if self.corpus else None}), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, stats: CorpusStats | None = None) -> LexicalIndex:
        """The index ``save`` wrote, its arrays memory-mapped; ``ValueError`` when it was scored
        with other corpus statistics than ``stats``."""
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        if meta.get("corpus") != (stats.digest if stats else None):
            raise ValueError("scored with other corpus statistics")
        a = {n: np.load(directory / f"lexical.{n}.npy", mmap_mode="r") for n in (
            "data", "rows", "indptr", "df", "terms", "counts", "lengths", "entries", "chunks", "per_chunk")}
        self = cls.__new__(cls)
        self.vocab = {t: i for i, t in enumerate(meta["vocab"])}
        self._order = meta["order"]
        self.n_chunks = int(meta["n_chunks"])
        self.corpus = stats
        self._data, self._rows, self._indptr, self._df = a["data"], a["rows"], a["indptr"], a["df"]
        self._lengths = a["lengths"]
        e_end, c_end = np.cumsum(a["entries"]), np.cumsum(a["chunks"])
        self._docs = {}
        for i, key in enumerate(self._order):
            e0, e1 = int(e_end[i] - a["entries"][i]), int(e_end[i])
            c0, c1 = int(c_end[i] - a["chunks"][i]), int(c_end[i])
            starts = np.concatenate([[0], np.cumsum(a["per_chunk"][c0:c1])]).astype(np.int64)
            self._docs[key] = DocTerms(a["terms"][e0:e1], a["counts"][e0:e1], starts, a["lengths"][c0:c1])
        return self

    @property
    def order(self) -> list[str]:
        """The document keys, in chunk-row order."""
        return self._order

    def idf(self, stem: str) -> float:
        """BM25's idf of a stem (as ``tokenize`` gives them); an unseen one gets the most."""
        if self.corpus is not None:
            return self.corpus.idf(stem)
        term = self.vocab.get(stem)
        f = int(self._df[term]) if term is not None and term < len(self._df) else 0
        return bm25_idf(f, self.n_chunks)

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

