"""Incremental indexing: add new documents, replace changed ones, skip unchanged ones."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.annotations import ANNOTATION_VERSION, SPACY_MODEL
from index.chunking import ChunkSettings
from index.embedding import Embedder
from index.manifest import Manifest
from index.pipeline import ProcessedDocument, Processor, pooled
from index.records import Document
from index.store import DB_NAME, IndexStore, swap_in, write_lock

# Documents to index -> the same documents processed, in batches, in any order: where the work
# runs (index/distributed.py: a Ray cluster). The indexer still commits every batch itself.
Process = Callable[[list[Document]], Iterable[list[ProcessedDocument]]]


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

        indexer = Indexer(index_dir, OnnxEmbedder(), ChunkSettings())
        report = indexer.run(load_paths([Path("corpus")]).documents)

    A run records itself in the index before its first batch and marks itself complete after
    its last (``IndexStore.build``): a run that dies half way leaves an index that says so, and
    running it again skips what was committed and finishes.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        chunk_settings: ChunkSettings | None = None,
        batch_docs: int = 32,
        nlp=None,
    ) -> None:
        if batch_docs < 1:
            raise ValueError(f"batch_docs must be at least 1. Currently, batch_docs is {batch_docs}.")
        self.index_dir = index_dir
        self.embedder = embedder
        self.processor = Processor(embedder, chunk_settings, nlp)
        self.batch_docs = batch_docs

    @property
    def chunker(self):
        return self.processor.chunker

    def wanted_manifest(self) -> Manifest:
        s = self.chunker.settings
        return Manifest(
            model=self.embedder.model_id, dim=self.embedder.dim, encoding=s.encoding,
            chunk_tokens=s.max_tokens, chunk_overlap=s.overlap_tokens,
            annotation_version=ANNOTATION_VERSION, spacy_model=SPACY_MODEL,
            sentence_vectors="pooled" if pooled(self.embedder) else "separate",
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
        self, documents: Iterable[Document], *, prune: bool = False, progress: bool = True,
        save_arrays: bool = False, process: Process | None = None,
    ) -> IndexReport:
        """Index ``documents``; ``save_arrays`` also writes the serving arrays beside the index
        (index/arrays.py), so the next start maps them instead of reading the database.

        ``process``, when given, processes the documents that need indexing elsewhere (a Ray
        cluster: ``index.distributed.RayProcess``) with this indexer's ``Processor``; what it
        yields is committed here, batch by batch, exactly as a local run commits its own."""
        report, started = IndexReport(), time.perf_counter()
        say = _status(progress)
        store = self.open_store()
        try:
            with store.writer():
                known = store.content_hashes()
                docs = list(documents)
                todo = [d for d in docs if known.get(d.doc_id) != d.content_hash]
                report.unchanged = len(docs) - len(todo)
                if todo:
                    store.begin_build(len(docs))
                if todo and process is None:
                    say(f"loading the embedding model and spaCy to index {len(todo):,} documents...")
                    self.embedder.warm_up()
                    _ = self.processor.nlp
                batches = self._processed(todo) if process is None else process(todo)
                self._write(store, batches, len(todo), known, report, progress)
                if prune:
                    seen = {d.doc_id for d in docs}
                    stale = [d for d in known if d not in seen]
                    store.remove(stale)
                    report.removed = stale
                if todo or prune:
                    store.end_build()
            if save_arrays and (todo or prune):
                say("writing the serving arrays...")
                store.save_arrays()
        finally:
            store.close()
        report.embed_seconds = self.processor.embed_seconds
        report.seconds = time.perf_counter() - started
        return report

    def _write(self, store: IndexStore, batches: Iterable[list[ProcessedDocument]], total: int,
               known: dict[str, str], report: IndexReport, progress: bool) -> None:
        """Commit each batch of processed documents on its own: a killed run keeps them all."""
        bar = tqdm(total=total, unit="doc", desc="indexing", disable=not progress,
                   dynamic_ncols=True)
        t0 = time.perf_counter()
        for done in batches:
            store.put(done)
            for item in done:
                doc_id = item.document.doc_id
                (report.replaced if doc_id in known else report.added).append(doc_id)
                report.chunks += len(item.split.chunks)
                report.sentences += len(item.split.sentences)
            bar.set_postfix_str(f"{report.chunks / (time.perf_counter() - t0):.1f} chunks/s")
            bar.update(len(done))
        bar.close()

    def _processed(self, todo: list[Document]) -> Iterable[list[ProcessedDocument]]:
        """``todo`` processed here, ``batch_docs`` at a time. spaCy reads batch i+1 on a second
        thread while the model embeds batch i (onnxruntime leaves the interpreter lock): the
        two largest costs of indexing overlap on two cores."""
        batches = [todo[i : i + self.batch_docs] for i in range(0, len(todo), self.batch_docs)]
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self._prepare, batches[0]) if batches else None
            for i in range(len(batches)):
                splits, tokens = pending.result()
                if i + 1 < len(batches):
                    pending = pool.submit(self._prepare, batches[i + 1])
                yield Processor.assemble(splits, tokens, self.processor.embed(splits))

    def _prepare(self, batch: list[Document]):
        splits = self.processor.split(batch)
        return splits, self.processor.annotate(splits)

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


def rebuild(indexer: Indexer, documents: Iterable[Document], *, progress: bool = True,
            process: Process | None = None) -> IndexReport:
    """Build a fresh index beside the old one and swap it in only when complete.

    The old index's write lock is held throughout: a write meanwhile is refused as busy rather
    than acknowledged into the old database and lost at the swap.
    """
    target = indexer.index_dir
    with write_lock(target) if (target / DB_NAME).is_file() else nullcontext():
        staging = target.with_name(target.name + ".rebuild")
        shutil.rmtree(staging, ignore_errors=True)
        fresh = Indexer(staging, indexer.embedder, indexer.chunker.settings, indexer.batch_docs,
                        indexer.processor._nlp)
        report = fresh.run(documents, progress=progress, save_arrays=True, process=process)
        swap_in(staging, target)
    return report


def _status(progress: bool):
    """A one-line status on stderr before the bar exists (models take seconds to load)."""
    def say(message: str) -> None:
        if progress:
            tqdm.write(message, file=sys.stderr)
    return say
