"""FAISS over normalised vectors: inner product is cosine similarity.

Exact search (``IndexFlatIP``) up to ``FLAT_MAX_ROWS`` vectors; above, an inverted file
(``IndexIVFFlat``) whose ``nprobe`` is the smallest that reaches ``TARGET_RECALL`` recall@10
against exact search, measured on a sample when the index is trained. ``eval/bench.py`` reports
both indexes' latency and the recall on real questions.

Searching with an ``allowed`` mask (date or source filters) is always exact, whatever the index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import faiss
import numpy as np

# Exact search of one question costs ~0.055 ms per 1,000 chunk vectors (384-d, one core): 1.3 ms
# on RealTime QA's 25.6k chunks, 6 ms at 100k, 15 ms at 256k, against ~100 ms for a whole
# answer. Below 100k rows the inverted file would save under 5 ms for ~1% lost recall and a
# k-means training (1-3 s) at start-up; above, exact search grows linearly and IVF stays < 1 ms.
FLAT_MAX_ROWS = 100_000
TARGET_RECALL = 0.99  # recall@10 on the calibration queries; real questions ~0.98-0.995
RECALL_K = 10
_SAMPLE = 256  # calibration queries
_TRAIN_PER_LIST = 64  # k-means training points per list (faiss wants 39..256)

Kind = Literal["auto", "flat", "ivf"]


class VectorIndex:
    """Top-k inner-product search over a matrix of normalised vectors.

    Usage::

        index = VectorIndex(vectors)              # row i of vectors -> id i
        scores, ids = index.search(query_vecs, k=5)
        index = VectorIndex(more_vectors, base=index)   # keeps the trained lists, if any

    ``kind="auto"`` picks exact search up to ``FLAT_MAX_ROWS`` rows and IVF above; ``base``, an
    index of an earlier version of the same corpus, lends its k-means centroids and ``nprobe``
    while the corpus stays within a factor of two of the size they were trained on.
    """

    def __init__(
        self, vectors: np.ndarray, kind: Kind = "auto", *, base: VectorIndex | None = None,
        target_recall: float = TARGET_RECALL,
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-d matrix. Currently, its shape is {vectors.shape}.")
        if not 0 < target_recall <= 1:
            raise ValueError(f"target_recall must be in (0, 1]. Currently, it is {target_recall}.")
        n, self.dim = vectors.shape
        if kind == "auto":
            kind = "ivf" if n > FLAT_MAX_ROWS else "flat"
        self.kind: Literal["flat", "ivf"] = "ivf" if kind == "ivf" and n >= 2 else "flat"
        self.nprobe = 0
        self.trained_rows = 0
        self.calibrated_recall = 1.0  # measured recall@10 against exact search on stored vectors
        if self.kind == "flat":
            self._index: faiss.Index = faiss.IndexFlatIP(self.dim)
            if n:
                self._index.add(vectors)
            return
        if base is not None and base.kind == "ivf" and base.dim == self.dim and 0.5 <= n / base.trained_rows <= 2:
            self._index = _ivf_from_centroids(base._index, self.dim)
            self.nprobe, self.trained_rows = base.nprobe, base.trained_rows
            self.calibrated_recall = base.calibrated_recall
            self._index.add(vectors)
            self._index.nprobe = self.nprobe
            return
        self._index = _train_ivf(vectors)
        self._index.add(vectors)
        self.trained_rows = n
        self.nprobe, self.calibrated_recall = self._calibrate(vectors, target_recall)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self._index.nlist) if self.kind == "ivf" else 0

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row, best first; ``k`` is capped at the index size.

        ``allowed``, a boolean mask over rows, restricts the search to those rows, exactly
        (every list is scanned); rows that do not fill ``k`` come back as id -1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1. Currently, k is {k}.")
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self))
        if k == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        with _threads(1 if len(queries) <= 4 else None):
            if allowed is None:
                return self._index.search(queries, k)
            if allowed.shape != (len(self),):
                raise ValueError(f"allowed must have one flag per row ({len(self)}), not {allowed.shape}.")
            bits = np.packbits(allowed.astype(bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bits))
            params = (
                faiss.SearchParametersIVF(sel=selector, nprobe=self.nlist) if self.kind == "ivf"
                else faiss.SearchParameters(sel=selector)
            )
            return self._index.search(queries, k, params=params)

    def _calibrate(self, vectors: np.ndarray, target: float) -> tuple[int, float]:
        """The smallest power-of-two ``nprobe`` reaching ``target`` recall@10 against exact search.

        The test queries are midpoints of random pairs of stored vectors: like questions, they
        sit between topics. Stored vectors themselves would flatter the index (their nearest
        neighbours, near-duplicate articles, share their list). On RealTime QA's chunks, the
        recall on midpoints tracks the recall on real questions within 0.01 (eval/bench.py).
        """
        rng = np.random.default_rng(0)
        pairs = rng.choice(len(vectors), size=(_SAMPLE, 2))
        queries = vectors[pairs[:, 0]] + vectors[pairs[:, 1]]
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        queries = queries / np.where(norms > 0, norms, 1)
        k = min(RECALL_K, len(vectors))
        _, exact = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        nprobe = 1
        while True:
            self._index.nprobe = nprobe
            _, found = self._index.search(queries, k)
            recall = recall_at_k(found, exact)
            if recall >= target or nprobe >= self.nlist:
                return nprobe, recall
            nprobe = min(nprobe * 2, self.nlist)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of ``exact`` ids that ``found`` also holds (-1 ids ignored)."""
    hits = total = 0
    for f, e in zip(found, exact, strict=True):
        want = {int(i) for i in e if i >= 0}
        hits += len(want & {int(i) for i in f})
        total += len(want)
    return hits / total if total else 1.0


def _train_ivf(vectors: np.ndarray) -> faiss.IndexIVFFlat:
    n, dim = vectors.shape
    nlist = max(1, min(int(np.sqrt(n)), n // 39))  # ~sqrt(n) lists; faiss wants >= 39 points each
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # centroids on the unit sphere, like the vectors
    sample = vectors
    if n > nlist * _TRAIN_PER_LIST:
        rows = np.random.default_rng(0).choice(n, size=nlist * _TRAIN_PER_LIST, replace=False)
        sample = vectors[np.sort(rows)]
    index.train(sample)
    return index


def _ivf_from_centroids(trained: faiss.IndexIVFFlat, dim: int) -> faiss.IndexIVFFlat:
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(trained.quantizer.reconstruct_n(0, trained.nlist))
    index = faiss.IndexIVFFlat(quantizer, dim, trained.nlist, faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True  # faiss's Python layer keeps ``quantizer`` alive with the index
    return index


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """OpenMP threads for this thread's FAISS calls. One query on one core: on 2 busy cores a
    two-thread exact search of 27k vectors took 22 ms, a one-thread search 2.7 ms (the service
    already runs one query per core). The setting is per calling thread."""
    if n is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
