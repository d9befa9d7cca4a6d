"""Incremental indexing: add new documents, replace changed ones, skip unchanged ones."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.chunking import ChunkSettings, TokenChunker
from index.embedding import Embedder
from index.manifest import Manifest
from index.records import Document, SplitDocument
from index.store import DB_NAME, IndexStore, write_lock


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    sentences: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # time inside the model's encode: the rest is our overhead
    problems: list = field(default_factory=list)  # LoadProblem: inputs skipped, with why

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.replaced)


class Indexer:
    """Write documents into the index at ``index_dir``.

    Usage::

        indexer = Indexer(index_dir, SentenceTransformerEmbedder(), ChunkSettings())
        report = indexer.run(load_paths([Path("corpus")]).documents)
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        chunk_settings: ChunkSettings | None = None,
        batch_docs: int = 32,
    ) -> None:
        if batch_docs < 1:
            raise ValueError(f"batch_docs must be at least 1. Currently, batch_docs is {batch_docs}.")
        self.index_dir = index_dir
        self.embedder = embedder
        self.chunker = TokenChunker(chunk_settings)
        self.batch_docs = batch_docs

    def wanted_manifest(self) -> Manifest:
        s = self.chunker.settings
        return Manifest(
            model=self.embedder.model_id, dim=self.embedder.dim, encoding=s.encoding,
            chunk_tokens=s.max_tokens, chunk_overlap=s.overlap_tokens,
        )

    def open_store(self) -> IndexStore:
        """Open the index, checking it was built like this indexer would; create it if absent."""
        if IndexStore.exists(self.index_dir):
            store = IndexStore.open(self.index_dir)
            store.manifest.check_compatible(self.wanted_manifest(), str(self.index_dir))
            return store
        self.embedder.warm_up()  # the manifest needs the model's real dimension
        return IndexStore.create(self.index_dir, self.wanted_manifest())

    def run(
        self, documents: Iterable[Document], *, prune: bool = False, progress: bool = True
    ) -> IndexReport:
        report, started = IndexReport(), time.perf_counter()
        store = self.open_store()
        try:
            with store.writer():
                known = store.content_hashes()
                docs = list(documents)
                todo = [d for d in docs if known.get(d.doc_id) != d.content_hash]
                report.unchanged = len(docs) - len(todo)
                if todo:
                    self.embedder.warm_up()
                bar = tqdm(total=len(todo), unit="doc", desc="indexing", disable=not progress)
                for i in range(0, len(todo), self.batch_docs):
                    batch = [self.chunker.split(d) for d in todo[i : i + self.batch_docs]]
                    store.put(self._embed(batch, report))
                    for split in batch:
                        doc_id = split.document.doc_id
                        (report.replaced if doc_id in known else report.added).append(doc_id)
                        report.chunks += len(split.chunks)
                        report.sentences += len(split.sentences)
                    bar.update(len(batch))
                bar.close()
                if prune:
                    seen = {d.doc_id for d in docs}
                    stale = [d for d in known if d not in seen]
                    store.remove(stale)
                    report.removed = stale
        finally:
            store.close()
        report.seconds = time.perf_counter() - started
        return report

    def _embed(
        self, batch: list[SplitDocument], report: IndexReport
    ) -> list[tuple[SplitDocument, np.ndarray, np.ndarray]]:
        chunk_texts = [c.text for s in batch for c in s.chunks]
        sent_texts = [x.text for s in batch for x in s.sentences]
        t = time.perf_counter()
        # One encode call per batch: the model sorts by length and pads less.
        vectors = self.embedder.embed(chunk_texts + sent_texts)
        report.embed_seconds += time.perf_counter() - t
        chunk_vecs, sent_vecs = vectors[: len(chunk_texts)], vectors[len(chunk_texts) :]
        out, ci, si = [], 0, 0
        for s in batch:
            nc, ns = len(s.chunks), len(s.sentences)
            out.append((s, chunk_vecs[ci : ci + nc], sent_vecs[si : si + ns]))
            ci, si = ci + nc, si + ns
        return out

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove documents; returns the ids that were not in the index."""
        store = IndexStore.open(self.index_dir)
        try:
            with store.writer():
                known = store.content_hashes()
                store.remove([d for d in doc_ids if d in known])
        finally:
            store.close()
        return [d for d in doc_ids if d not in known]


def rebuild(indexer: Indexer, documents: Iterable[Document], *, progress: bool = True) -> IndexReport:
    """Build a fresh index beside the old one and swap it in only when complete.

    The old index's write lock is held throughout: a write meanwhile is refused as busy rather
    than acknowledged into the old database and lost at the swap.
    """
    target = indexer.index_dir
    with write_lock(target) if (target / DB_NAME).is_file() else nullcontext():
        staging = target.with_name(target.name + ".rebuild")
        shutil.rmtree(staging, ignore_errors=True)
        fresh = Indexer(staging, indexer.embedder, indexer.chunker.settings, indexer.batch_docs)
        report = fresh.run(documents, progress=progress)
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return report
