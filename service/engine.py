"""The engine: the heavy things (models, index) loaded once, behind one small interface.

The CLI and the HTTP app both hold one ``Engine``. Reads use an immutable ``Snapshot`` of the
index; a write commits to the store and then swaps in a fresh snapshot, so a query sees either
the old state or the new one, never a mix.

Threads: any number of readers, writes serialised by ``_write_lock`` (which also guards every
snapshot swap). A reader takes the answerer once and uses only it, so a swap mid-query is
harmless. ``tests/test_concurrency.py`` checks this under load.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedding import DEFAULT_MODEL, Embedder, HashEmbedder, SentenceTransformerEmbedder
from index.errors import DocumentNotFoundError, IndexNotFoundError
from index.indexer import Indexer, IndexReport, Process
from index.loaders import load_paths
from index.records import Document
from index.store import IndexStore
from service.answerer import Answerer
from service.config import Settings
from service.filters import Filters
from service.reader import Reader, make_reader
from service.retrieval import HybridRetriever
from service.schemas import Answer, Passage, Timings

log = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "hash":
        return HashEmbedder()
    if settings.embedder == "onnx" and settings.model.endswith(DEFAULT_MODEL):
        from index.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder()
    return SentenceTransformerEmbedder(settings.model)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs we may run on, not all the machine has
    except AttributeError:  # not on Linux
        return os.cpu_count() or 2


class Engine:
    """Usage::

        engine = Engine(Settings())
        engine.start(build_if_missing=True)
        print(engine.ask("How many US troops are in Iraq?").answer)
    """

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, reader: Reader | None = None,
        max_concurrent_queries: int | None = None, nlp=None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self._reader = reader
        self._nlp = nlp  # spaCy, for indexing only (a question is never parsed)
        self._indexer: Indexer | None = None
        self._build = None
        self._write_lock = threading.Lock()
        # A query is CPU work that mostly holds the GIL: running more at once than there are
        # cores only adds thread switching. When this limit was added, 16 threads asking at once
        # on 2 cores answered fewer questions a second than two at a time (25 against 48 with the
        # hash embedder); eval/bench_load.py measures today's figures. The other threads wait
        # here for a slot, off the GIL.
        self._query_slots = threading.BoundedSemaphore(max_concurrent_queries or _cores())
        self._answerer: Answerer | None = None
        self._store: IndexStore | None = None

    @property
    def indexer(self) -> Indexer:
        """One indexer for the engine's life: its spaCy pipeline loads once, on the first write."""
        if self._indexer is None:
            self._indexer = Indexer(self.settings.index_dir, self.embedder, self.settings.chunk_settings,
                                    batch_docs=self.settings.batch_docs, nlp=self._nlp)
        return self._indexer

    def start(self, build_if_missing: bool = False, progress: bool = True) -> IndexReport | None:
        """Load models and the index; optionally build the index from the corpus first."""
        report = None
        if not IndexStore.exists(self.settings.index_dir):
            if not build_if_missing:
                raise IndexNotFoundError(
                    f"No index at {self.settings.index_dir}. Build one with: sourced index "
                    f"(indexes {self.settings.corpus_dir} by default)."
                )
            report = self.index_paths([self.settings.corpus_dir], progress=progress)
        self.embedder.warm_up()
        if self._reader is None:
            self._reader = make_reader(self.settings, self.embedder)
        store = self.indexer.open_store()  # checks the manifest against our model and settings
        self._store = store
        self._refresh()
        return report

    def close(self) -> None:
        with self._write_lock:
            self._answerer = None
            store, self._store = self._store, None
            if store is not None:
                store.close()

    def _refresh(self) -> None:
        assert self._store is not None and self._reader is not None
        # The current state lends what a write left unchanged: it costs what it wrote.
        base = self._answerer.retriever if self._answerer is not None else None
        if self._store.replaced:  # `sourced index --rebuild` swapped in a new database
            # Not closed here: a reader may still be probing it. CPython closes it once unused.
            self._store = self.indexer.open_store()
            base = None
        snapshot = self._store.snapshot(base=base.snapshot if base else None)
        self._build = self._store.build
        retriever = HybridRetriever(snapshot, base=base)
        self._answerer = Answerer(
            retriever, self.embedder, self._reader, self.settings.top_k, self.settings.max_question_chars
        )

    @property
    def answerer(self) -> Answerer:
        answerer = self._answerer
        if answerer is None:
            raise IndexNotFoundError("The engine is not started: the index is not loaded yet.")
        # Another process (`sourced index`, a second server) may have committed: one small
        # query tells, and the new state is loaded before answering from it.
        if self._stale(answerer):
            with self._write_lock:
                current = self._answerer
                if current is not None and self._stale(current):
                    self._refresh()
            answerer = self._answerer or answerer
        return answerer

    def _stale(self, answerer: Answerer) -> bool:
        store = self._store  # read once: close() may set it to None meanwhile
        if store is None:
            return False
        return store.replaced or store.generation != answerer.retriever.snapshot.generation

    @property
    def build(self):
        """Whether the index is complete (index.store.BuildState), read at each refresh."""
        return self._build

    @property
    def ready(self) -> bool:
        return self._answerer is not None

    # -- reads -----------------------------------------------------------------------------
    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer ``question``, from the articles that pass ``filters`` only (all when None)."""
        t0 = time.perf_counter()
        with self._query_slots:
            answerer = self.answerer
            allowed = _allowed(answerer, filters)
            if allowed is not None and not allowed.any():
                answerer.check_question(question)  # a bad question is still refused as such
                assert filters is not None
                return no_match(question, filters, t0)
            return answerer.ask(question, top_k, allowed=allowed)

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        """Ranked chunks for ``query`` (hybrid retrieval, no answer extraction)."""
        with self._query_slots:
            answerer = self.answerer
            q = answerer.check_question(query)
            allowed = _allowed(answerer, filters)
            if allowed is not None and not allowed.any():
                return []
            qvec = self.embedder.embed([q])[0]
            hits = answerer.retriever.search(qvec, q, k or self.settings.top_k, allowed)
            return [answerer.passage(h.row, h.score) for h in hits]

    def list_documents(self, offset: int = 0, limit: int = 50) -> tuple[list[dict], int]:
        """A page of document metadata (no text) and the total count."""
        docs = self.answerer.retriever.snapshot.documents
        ids = sorted(docs)
        page = [docs[i] for i in ids[offset : offset + limit]]
        return [summary(d) for d in page], len(ids)

    def document(self, doc_id: str) -> Document:
        doc = self.answerer.retriever.snapshot.documents.get(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"No document with id {doc_id!r}.")
        return doc

    def counts(self) -> dict[str, int]:
        snap = self.answerer.retriever.snapshot
        return {"documents": len(snap.documents), "chunks": len(snap.chunk_doc), "sentences": len(snap.sent_doc)}

    # -- writes ----------------------------------------------------------------------------
    def index_paths(self, paths: Sequence[Path], *, prune: bool = False, progress: bool = True) -> IndexReport:
        loaded = load_paths(list(paths))
        for problem in loaded.problems:
            log.warning("skipped %s: %s", problem.where, problem.reason)
        report = self.index_documents(loaded.documents, prune=prune, progress=progress, save_arrays=True)
        report.problems = loaded.problems
        return report

    def index_documents(self, docs: Sequence[Document], *, prune: bool = False, progress: bool = False,
                        save_arrays: bool = False, process: Process | None = None) -> IndexReport:
        """``process``: where the documents are processed (``Indexer.run``), here by default."""
        with self._write_lock:
            report = self.indexer.run(docs, prune=prune, progress=progress, save_arrays=save_arrays,
                                      process=process)
            if self._store is not None and report.changed + len(report.removed):
                self._refresh()
        return report

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove documents; returns the ids that were unknown."""
        with self._write_lock:
            unknown = self.indexer.remove(doc_ids)
            if self._store is not None and len(unknown) < len(doc_ids):
                self._refresh()
        return unknown


def summary(doc: Document) -> dict:
    """A document's metadata, as ``GET /documents`` lists it (no text)."""
    return {"doc_id": doc.doc_id, "title": doc.title, "url": doc.url, "published": doc.published,
            "source": doc.source, "chars": len(doc.text)}


def no_match(question: str, filters: Filters, t0: float) -> Answer:
    """The answer when no article passes ``filters`` (asked at ``t0``)."""
    return Answer(
        question=question, answer=None, answer_type="other", confidence=0.0,
        reason=f"No articles match the filters: {filters.describe()}.",
        timings=Timings(total_ms=round((time.perf_counter() - t0) * 1000, 2)),
    )


def _allowed(answerer: Answerer, filters: Filters | None) -> np.ndarray | None:
    """The chunk mask for ``filters`` over the answerer's snapshot; None when nothing is filtered
    (retrieval then takes its faster, unmasked path)."""
    if filters is None or not filters.active:
        return None
    return filters.mask(answerer.retriever.snapshot)
