"""From documents to what the index stores: sentences and chunks, the reader's token rows, and
vectors. One ``Processor`` does it for the local indexer and for distributed workers alike, so
both build the same index.

Vectors come from one forward pass per chunk where the embedder can pool spans
(``OnnxEmbedder.embed_spans``): the chunk's vector, and each sentence's vector as the mean of its
token vectors inside that pass (a sentence in two chunks takes its first). Other embedders (the
reference sentence-transformers model, the test fake) embed chunks and sentences separately.
The manifest records which (``sentence_vectors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.annotations import annotate, load_nlp
from index.chunking import ChunkSettings, TokenChunker
from index.embedding import Embedder
from index.records import Document, SplitDocument


@dataclass
class ProcessedDocument:
    """A document ready to store: ``tokens[i]`` are sentence ``i``'s rows (index/annotations)."""

    split: SplitDocument
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    tokens: list[np.ndarray]

    @property
    def document(self) -> Document:
        return self.split.document


def pooled(embedder: Embedder) -> bool:
    """Whether this embedder gives sentence vectors from the chunk's own pass."""
    return callable(getattr(embedder, "embed_spans", None))


class Processor:
    """Usage::

        processor = Processor(OnnxEmbedder(), ChunkSettings())
        done = processor.process(documents)     # list[ProcessedDocument], same order

    The spaCy pipeline loads on first use; ``nlp`` may be passed to share one.
    """

    def __init__(self, embedder: Embedder, chunk_settings: ChunkSettings | None = None, nlp=None) -> None:
        self.embedder = embedder
        self.chunker = TokenChunker(chunk_settings)
        self._nlp = nlp
        self.embed_seconds = 0.0

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = load_nlp()
        return self._nlp

    def split(self, documents: Sequence[Document]) -> list[SplitDocument]:
        return [self.chunker.split(d) for d in documents]

    def annotate(self, splits: Sequence[SplitDocument]) -> list[list[np.ndarray]]:
        texts = [s.text for split in splits for s in split.sentences]
        rows = iter(annotate(self.nlp, texts))
        return [[next(rows) for _ in split.sentences] for split in splits]

    def embed(self, splits: Sequence[SplitDocument]) -> list[tuple[np.ndarray, np.ndarray]]:
        import time

        t = time.perf_counter()
        try:
            if pooled(self.embedder):
                return self._embed_pooled(splits)
            return self._embed_separately(splits)
        finally:
            self.embed_seconds += time.perf_counter() - t

    def process(self, documents: Sequence[Document]) -> list[ProcessedDocument]:
        splits = self.split(documents)
        return self.assemble(splits, self.annotate(splits), self.embed(splits))

    @staticmethod
    def assemble(splits, tokens, vectors) -> list[ProcessedDocument]:
        return [ProcessedDocument(s, cv, sv, t)
                for s, t, (cv, sv) in zip(splits, tokens, vectors, strict=True)]

    def _embed_separately(self, splits: Sequence[SplitDocument]) -> list[tuple[np.ndarray, np.ndarray]]:
        chunk_texts = [c.text for s in splits for c in s.chunks]
        sent_texts = [x.text for s in splits for x in s.sentences]
        # One call: the model sorts by length and pads less.
        vectors = self.embedder.embed(chunk_texts + sent_texts)
        chunks, sents = vectors[: len(chunk_texts)], vectors[len(chunk_texts) :]
        out, ci, si = [], 0, 0
        for s in splits:
            nc, ns = len(s.chunks), len(s.sentences)
            out.append((chunks[ci : ci + nc], sents[si : si + ns]))
            ci, si = ci + nc, si + ns
        return out

    def _embed_pooled(self, splits: Sequence[SplitDocument]) -> list[tuple[np.ndarray, np.ndarray]]:
        texts, spans = [], []
        for s in splits:
            for c in s.chunks:
                texts.append(c.text)
                spans.append([(x.char_start - c.char_start, x.char_end - c.char_start)
                              for x in s.sentences[c.sent_start : c.sent_end]])
        chunk_vecs, span_vecs = self.embedder.embed_spans(texts, spans)
        out, k = [], 0
        for s in splits:
            sents = np.zeros((len(s.sentences), self.embedder.dim), np.float32)
            done = np.zeros(len(s.sentences), bool)
            for c in s.chunks:
                vecs = span_vecs[k]
                for j, row in enumerate(range(c.sent_start, c.sent_end)):
                    if not done[row]:
                        sents[row], done[row] = vecs[j], True
                k += 1
            out.append((chunk_vecs[k - len(s.chunks) : k], sents))
        return out
