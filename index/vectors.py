"""FAISS over normalised vectors: inner product is cosine similarity."""

from __future__ import annotations

import faiss
import numpy as np


class VectorIndex:
    """Exact inner-product search (``IndexFlatIP``) over a matrix of normalised vectors.

    Usage::

        index = VectorIndex(vectors)              # row i of vectors -> id i
        scores, ids = index.search(query_vecs, k=5)
    """

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-d matrix. Currently, its shape is {vectors.shape}.")
        self.dim = vectors.shape[1]
        self._index = faiss.IndexFlatIP(self.dim)
        if len(vectors):
            self._index.add(vectors)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row, best first; ``k`` is capped at the index size."""
        if k < 1:
            raise ValueError(f"k must be at least 1. Currently, k is {k}.")
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self))
        if k == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self._index.search(queries, k)
