"""Scatter-gather search over the shards of an index (index/shards.py): the question goes to
every shard, their candidates merge, the hit documents are read once from the shards that
hold them, and the reader runs once, here, on them.

Why the merged answer is the single index's: a shard ranks its chunks by the very scores the
single index gives them (dense: inner products of the same stored vectors; BM25: the whole
corpus's statistics, ``CorpusStats``), equal scores in the single index's row order (document
id, then position). The top ``depth`` of each merged ranking is then the single index's, and so
is their fusion; the hit documents, gathered in document order, give the reader the same
sentences in the same order.

``ShardedEngine`` answers for the HTTP app (service/api) as ``Engine`` does, reads only: the
shards are built from one version of the index; write with ``sourced index`` and serve again.
A shard is reached through a ``ShardClient``: ``LocalShard`` in this process, a Ray Serve
deployment in service/cluster.py.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.errors import DocumentNotFoundError, WritesDisabledError
from index.lexical import CorpusStats
from index.records import Document
from index.shards import ShardSet
from index.snapshot import Snapshot, gather
from index.store import BuildState, IndexStore
from service.answerer import Answerer
from service.config import Settings
from service.engine import make_embedder, no_match, summary
from service.filters import Filters
from service.reader import Reader, make_reader
from service.retrieval import ChunkHit, HybridRetriever, evidence, fuse, to_hits
from service.schemas import Answer, Passage

Key = tuple[str, int]  # (doc_id, chunk ordinal): sorts as the single index orders its rows


@dataclass
class Candidates:
    """One shard's best chunks for a question, by each ranking, best first."""

    dense: list[tuple[Key, float]]
    lexical: list[tuple[Key, float]]
    allowed: int  # its chunks that pass the filters (all of them when there are none)


class Shard:
    """One shard, loaded: its snapshot (arrays memory-mapped) and retriever, with BM25 over the
    whole corpus's statistics."""

    def __init__(self, index_dir: Path, stats: CorpusStats, candidates: int = 50) -> None:
        store = IndexStore.open(index_dir)
        try:
            snapshot = store.snapshot()
            self.build = store.build
        finally:
            store.close()
        self.retriever = HybridRetriever(snapshot, candidates, stats=stats)
        rows = snapshot.doc_rows
        self._keys = [(d, i - rows[d][0]) for i, d in enumerate(snapshot.chunk_doc)]

    @property
    def snapshot(self) -> Snapshot:
        return self.retriever.snapshot

    def info(self) -> dict[str, Any]:
        snap = self.snapshot
        return {"documents": len(snap.documents), "chunks": len(snap.chunk_doc),
                "sentences": len(snap.sent_doc), "complete": self.build.complete,
                "expected": self.build.expected, "pid": os.getpid()}

    def candidates(self, qvec: np.ndarray, question: str, depth: int,
                   filters: Filters | None) -> Candidates:
        allowed = filters.mask(self.snapshot) if filters is not None and filters.active else None
        dense, lexical = self.retriever.rankings(qvec, question, depth, allowed)
        key = self._keys.__getitem__
        return Candidates([(key(r), s) for r, s in dense], [(key(r), s) for r, s in lexical],
                          len(self._keys) if allowed is None else int(allowed.sum()))

    def read(self, doc_ids: Sequence[str]) -> Snapshot:
        """The rows of those of ``doc_ids`` this shard holds."""
        return gather([self.snapshot], [d for d in doc_ids if d in self.snapshot.documents])

    def document(self, doc_id: str) -> Document | None:
        return self.snapshot.documents.get(doc_id)

    def list_documents(self, first: int) -> list[dict]:
        """Its ``first`` documents by id (metadata, no text)."""
        docs = self.snapshot.documents
        return [summary(docs[d]) for d in sorted(docs)[:first]]


class Pending(Protocol):
    def result(self) -> Any: ...


class ShardClient(Protocol):
    """Calls a method of one shard; ``.result()`` waits for its answer."""

    def call(self, method: str, *args: Any) -> Pending: ...


@dataclass
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value


class LocalShard:
    """A shard in this process."""

    def __init__(self, shard: Shard) -> None:
        self.shard = shard

    def call(self, method: str, *args: Any) -> Pending:
        return _Done(getattr(self.shard, method)(*args))


def local_shards(shards: ShardSet, candidates: int = 50) -> list[LocalShard]:
    return [LocalShard(Shard(d, shards.stats, candidates)) for d in shards.dirs]


class _NothingAllowed(Exception):
    """No chunk of any shard passes the filters."""


class ShardedEngine:
    """``Engine``'s reads, over shards.

    Usage::

        engine = ShardedEngine(settings, local_shards(split(index_dir, 2)), stats)
        engine.start()
        engine.ask("How many US troops are in Iraq?")
    """

    def __init__(self, settings: Settings, shards: Sequence[ShardClient], stats: CorpusStats,
                 embedder=None, reader: Reader | None = None, candidates: int = 50) -> None:
        self.settings = settings
        self.shards = list(shards)
        self.stats = stats
        self.embedder = embedder or make_embedder(settings)
        self._reader = reader
        self.candidates = candidates
        self._info: list[dict[str, Any]] | None = None

    def start(self, build_if_missing: bool = False, progress: bool = True) -> None:
        self.embedder.warm_up()
        if self._reader is None:
            self._reader = make_reader(self.settings, self.embedder)
        self._info = self._all("info")

    def close(self) -> None:
        self._info = None

    @property
    def ready(self) -> bool:
        return self._info is not None

    @property
    def build(self) -> BuildState | None:
        if self._info is None:
            return None
        indexed = sum(i["documents"] for i in self._info)
        return BuildState(all(i["complete"] for i in self._info), indexed,
                          sum(i["expected"] for i in self._info))

    def counts(self) -> dict[str, int]:
        assert self._info is not None
        return {k: sum(i[k] for i in self._info) for k in ("documents", "chunks", "sentences")}

    # -- reads -----------------------------------------------------------------------------
    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> Answer:
        t0 = time.perf_counter()
        try:
            return self._answerer(filters).ask(question, top_k)
        except _NothingAllowed:
            assert filters is not None
            return no_match(question, filters, t0)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Passage]:
        answerer = self._answerer(filters)
        q = answerer.check_question(query)
        try:
            hits = answerer.retriever.search(self.embedder.embed([q])[0], q, k or self.settings.top_k)
        except _NothingAllowed:
            return []
        return [answerer.passage(h.row, h.score) for h in hits]

    def _answerer(self, filters: Filters | None) -> Answerer:
        assert self._reader is not None
        retriever = GatheredRetriever(self, filters)
        return Answerer(retriever, self.embedder, self._reader, self.settings.top_k,  # type: ignore[arg-type]
                        self.settings.max_question_chars)

    def list_documents(self, offset: int = 0, limit: int = 50) -> tuple[list[dict], int]:
        pages = self._all("list_documents", offset + limit)
        rows = list(heapq.merge(*pages, key=lambda r: r["doc_id"]))[offset : offset + limit]
        return rows, self.counts()["documents"]

    def document(self, doc_id: str) -> Document:
        for doc in self._all("document", doc_id):
            if doc is not None:
                return doc
        raise DocumentNotFoundError(f"No document with id {doc_id!r}.")

    # -- writes: not here --------------------------------------------------------------------
    def index_documents(self, *args: Any, **kwargs: Any):
        raise WritesDisabledError(
            "The sharded service serves one version of the index: index with `sourced index`, "
            "then serve again.")

    def remove(self, *args: Any, **kwargs: Any):
        return self.index_documents()

    def _all(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on every shard at once; their answers in shard order."""
        pending = [s.call(method, *args) for s in self.shards]
        return [p.result() for p in pending]


class GatheredRetriever:
    """One question's retriever for ``Answerer``: ``search`` scatters to the shards and gathers
    the hit documents into a snapshot of their own, which the evidence and citations read."""

    def __init__(self, engine: ShardedEngine, filters: Filters | None) -> None:
        self.engine = engine
        self.filters = filters
        self.snapshot = gather([], [])

    def search(self, qvec: np.ndarray, question: str, k: int,
               allowed: np.ndarray | None = None) -> list[ChunkHit]:
        engine = self.engine
        n = engine.counts()["chunks"]
        if n == 0:
            return []
        depth = min(n, max(engine.candidates, k))  # as HybridRetriever.depth
        found = engine._all("candidates", qvec, question, depth, self.filters)
        if self.filters is not None and self.filters.active and not sum(c.allowed for c in found):
            raise _NothingAllowed
        owner = {key: i for i, c in enumerate(found) for key, _ in c.dense + c.lexical}
        dense = _merged([c.dense for c in found], depth)
        lexical = _merged([c.lexical for c in found], depth)
        best = fuse(dense, lexical, k)
        wanted: dict[int, set[str]] = {}
        for key, _score in best:
            wanted.setdefault(owner[key], set()).add(key[0])
        reads = {i: engine.shards[i].call("read", sorted(ids)) for i, ids in wanted.items()}
        self.snapshot = gather([r.result() for r in reads.values()],
                               [d for ids in wanted.values() for d in ids])
        rows = self.snapshot.doc_rows
        return to_hits(self.snapshot, [(rows[d][0] + o, s) for (d, o), s in best], qvec)

    def idf(self, stem: str) -> float:
        return self.engine.stats.idf(stem)

    def evidence(self, question, hits: list[ChunkHit]):
        return evidence(self.snapshot, question, hits)


def _merged(rankings: list[list[tuple[Key, float]]], depth: int) -> list[Key]:
    """The top ``depth`` of several rankings, best first, equal scores in key order."""
    every = sorted((item for r in rankings for item in r), key=lambda ks: (-ks[1], ks[0]))
    return [key for key, _ in every[:depth]]

