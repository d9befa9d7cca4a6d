"""The span model: a small transformer fine-tuned to point at the answer inside one sentence.

It reads the question and one evidence sentence together and gives every word piece a score
for starting and for ending the answer; a candidate's score is its first piece's start score
plus its last piece's end score, against the score of "no answer here" (the [CLS] piece). The
ranker weighs that score with the other features: a second opinion, not the decision.

Fine-tuned from all-MiniLM-L6-v2 by ``python -m eval.train_span_reader`` and shipped as an int8
ONNX file (``models/span_reader.onnx``, described by ``span_reader.json`` with its sha256); run
by onnxruntime, no torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import ModelLoadError
from service.reader.models import MODELS_DIR, sha256

NAME = "span_reader"
MAX_PIECES = 160  # question and sentence together; a longer sentence is cut


@dataclass(frozen=True)
class SentenceScores:
    """Start and end scores of one sentence's word pieces, with their character offsets."""

    start: np.ndarray  # (n,) for the sentence's pieces
    end: np.ndarray
    offsets: np.ndarray  # (n, 2) character offsets in the sentence
    none: float  # the "no answer in this sentence" score (start + end at [CLS])

    def span(self, start: int, end: int) -> float:
        """The best score of a piece range inside characters ``[start, end)``, minus ``none``:
        > 0 means the model prefers this span to no answer."""
        inside = (self.offsets[:, 0] >= start) & (self.offsets[:, 1] <= end) & (
            self.offsets[:, 1] > self.offsets[:, 0])
        idx = np.flatnonzero(inside)
        if not len(idx):
            return -20.0
        return float(self.start[idx[0]] + self.end[idx[-1]] - self.none)


def encode_pairs(tokenizer, question: str, sentences: Sequence[str], max_pieces: int = MAX_PIECES):
    """Token ids, type ids, masks and (for each pair) the sentence pieces' positions and
    offsets: the input both training and serving feed the model."""
    q = tokenizer.encode(question, add_special_tokens=False)
    q_ids = q.ids[: max_pieces // 3]
    rows = []
    for text in sentences:
        s = tokenizer.encode(text, add_special_tokens=False)
        room = max_pieces - len(q_ids) - 3
        s_ids, s_off = s.ids[:room], s.offsets[:room]
        ids = [101, *q_ids, 102, *s_ids, 102]  # [CLS] question [SEP] sentence [SEP]
        types = [0] * (len(q_ids) + 2) + [1] * (len(s_ids) + 1)
        first = len(q_ids) + 2
        rows.append((ids, types, first, np.asarray(s_off, dtype=np.int64).reshape(-1, 2)))
    width = max(len(r[0]) for r in rows)
    ids = np.zeros((len(rows), width), np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, (a, t, _, _) in enumerate(rows):
        ids[i, : len(a)], types[i, : len(t)], mask[i, : len(a)] = a, t, 1
    return ids, types, mask, [(r[2], r[3]) for r in rows]


class SpanModel:
    """Usage::

        model = SpanModel.load()
        scores = model.score("How many US troops are in Iraq?", [sentence_text])
        scores[0].span(15, 20)
    """

    def __init__(self, model_path: Path, tokenizer_path: str, meta: dict, threads: int = 1) -> None:
        self.meta = meta
        self.threads = threads  # for one question: changes its speed, never its scores
        self._paths = (model_path, tokenizer_path)
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path = MODELS_DIR, threads: int = 1) -> SpanModel:
        from index.onnx_embedder import default_paths

        meta_path, model_path = directory / f"{NAME}.json", directory / f"{NAME}.onnx"
        if not meta_path.is_file() or not model_path.is_file():
            raise ModelLoadError(f"The span model is missing from {directory}: python -m eval.train_span_reader")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return cls(model_path, default_paths()[1], meta, threads)

    def warm_up(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path, tok_path = self._paths
            digest = sha256(model_path)
            if digest != self.meta.get("sha256"):
                raise ModelLoadError(
                    f"{model_path} does not match its description (sha256 {digest[:12]}...): "
                    "python -m eval.train_span_reader")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            tokenizer = Tokenizer.from_file(tok_path)
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._session = ort.InferenceSession(str(model_path), options,
                                                 providers=["CPUExecutionProvider"])

    def score(self, question: str, sentences: Sequence[str]) -> list[SentenceScores]:
        if not sentences:
            return []
        self.warm_up()
        ids, types, mask, places = encode_pairs(self._tokenizer, question, sentences)
        start, end = self._session.run(None, {"input_ids": ids, "token_type_ids": types,
                                              "attention_mask": mask})
        out = []
        for i, (first, offsets) in enumerate(places):
            n = len(offsets)
            out.append(SentenceScores(start[i, first : first + n], end[i, first : first + n],
                                      offsets, float(start[i, 0] + end[i, 0])))
        return out
