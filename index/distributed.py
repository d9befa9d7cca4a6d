"""Ingest on a Ray cluster: files read and cleaned by Ray Data tasks, documents processed by a
pool of Ray Data actors, committed here.

``RayRead`` decodes, parses and cleans the pieces that ``index.loaders.load_paths`` read (each
file's bytes, or each JSONL line) with ``read_piece``, the function a local run calls; the
driver merges the documents and problems back in input order, so duplicate ids, skipped files
and their order come out exactly as locally. The driver reads the bytes, so the workers need no
access to the files.

Each processing actor builds one ``Processor`` (index/pipeline.py, the very code a local run
uses), so it loads the embedding model and spaCy once, then processes batch after batch. The
processed documents stream back to the driver in input order, where ``Indexer.run`` commits them
through the index's single writer, ``batch_docs`` per transaction, exactly as a local build commits: a
killed driver or worker loses no committed document, and running the command again skips what
was committed and finishes (a killed actor is restarted by Ray and its batch retried).

Usage::

    connect("auto")                                   # index/ray_env.py
    documents = load_paths(paths, read=RayRead()).documents
    process = RayProcess(partial(make_embedder, settings), settings.chunk_settings)
    indexer.run(documents, process=process)
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from index.chunking import ChunkSettings
from index.embedding import Embedder
from index.loaders import FieldMap, Piece, Read, read_piece
from index.pipeline import ProcessedDocument, Processor
from index.records import Document

MakeEmbedder = Callable[[], Embedder]  # picklable: it is called on every actor


class ProcessBatch:
    """A Ray Data actor: one ``Processor`` for the actor's life, applied to each batch."""

    def __init__(self, make_embedder: MakeEmbedder, chunk_settings: ChunkSettings | None) -> None:
        embedder = make_embedder()
        embedder.warm_up()
        self.processor = Processor(embedder, chunk_settings)
        _ = self.processor.nlp

    def __call__(self, batch: dict) -> dict:
        documents = [pickle.loads(blob) for blob in batch["doc"]]
        done = self.processor.process(documents)
        return {"done": [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in done]}


@dataclass
class RayProcess:
    """``Indexer.run``'s ``process``: documents to processed batches, on the connected cluster.

    ``actors`` processes work at once, each taking ``ray_batch`` documents at a time; the
    driver regroups what comes back into commits of ``commit_docs`` documents.
    """

    make_embedder: MakeEmbedder
    chunk_settings: ChunkSettings | None = None
    actors: int = 2
    ray_batch: int = 8
    commit_docs: int = 32
    cpus_per_actor: float = 1.0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("actors", "ray_batch", "commit_docs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1. Currently, it is {getattr(self, name)}.")

    def __call__(self, documents: list[Document]) -> Iterator[list[ProcessedDocument]]:
        if not documents:
            return
        batch: list[ProcessedDocument] = []
        for item in self._stream(documents):
            batch.append(item)
            if len(batch) == self.commit_docs:
                yield batch
                batch = []
        if batch:
            yield batch

    def _stream(self, documents: list[Document]) -> Iterable[ProcessedDocument]:
        import ray.data

        with _in_order(self.progress):
            rows = [{"doc": pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)} for d in documents]
            dataset = ray.data.from_items(rows).map_batches(
                ProcessBatch, batch_size=self.ray_batch, batch_format="numpy",
                fn_constructor_kwargs={"make_embedder": self.make_embedder,
                                       "chunk_settings": self.chunk_settings},
                compute=ray.data.ActorPoolStrategy(size=self.actors),
                num_cpus=self.cpus_per_actor,
            )
            for row in dataset.iter_rows():
                yield pickle.loads(row["done"])


def read_batch(batch: dict, field_map: FieldMap, undated_ok: bool) -> dict:
    """A Ray Data task: pieces in, what ``read_piece`` makes of each out (pickled both ways)."""
    read = [read_piece(pickle.loads(blob), field_map, undated_ok) for blob in batch["piece"]]
    return {"read": [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in read]}


@dataclass
class RayRead:
    """``load_paths``'s ``read``: pieces decoded, parsed and cleaned by Ray Data tasks on the
    connected cluster, ``batch`` pieces per task, returned in input order."""

    batch: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1. Currently, it is {self.batch}.")

    def __call__(self, pieces: list[Piece], field_map: FieldMap, undated_ok: bool) -> Iterator[Read]:
        if not pieces:
            return
        import ray.data

        with _in_order(self.progress):
            rows = [{"piece": pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL)} for p in pieces]
            dataset = ray.data.from_items(rows).map_batches(
                read_batch, batch_size=self.batch, batch_format="numpy",
                fn_kwargs={"field_map": field_map, "undated_ok": undated_ok},
            )
            for row in dataset.iter_rows():
                yield pickle.loads(row["read"])


@contextmanager
def _in_order(progress: bool) -> Iterator[None]:
    """Ray Data returning rows in input order (as a local run reads and commits them: the same
    rows get the same database ids), with its progress bars and logs only when ``progress``."""
    import ray.data

    quiet = logging.getLogger("ray.data")
    level = quiet.level
    if not progress:  # before the context: turning the bars off logs a warning
        quiet.setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    saved = context.execution_options.preserve_order, context.enable_progress_bars
    context.execution_options.preserve_order = True
    context.enable_progress_bars = progress
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved
        quiet.setLevel(level)
