"""Ingest on a Ray cluster: documents processed by a pool of Ray Data actors, committed here.

Each actor builds one ``Processor`` (index/pipeline.py, the very code a local run uses), so it
loads the embedding model and spaCy once, then processes batch after batch. The processed
documents stream back to the driver in input order, where ``Indexer.run`` commits them through
the index's single writer, ``batch_docs`` per transaction, exactly as a local build commits: a
killed driver or worker loses no committed document, and running the command again skips what
was committed and finishes (a killed actor is restarted by Ray and its batch retried).

Usage::

    connect("auto")                                   # index/ray_env.py
    process = RayProcess(partial(make_embedder, settings), settings.chunk_settings)
    indexer.run(documents, process=process)
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from index.chunking import ChunkSettings
from index.embedding import Embedder
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

        context = ray.data.DataContext.get_current()
        saved = context.execution_options.preserve_order, context.enable_progress_bars
        # In input order, as a local run commits: the same rows get the same database ids.
        context.execution_options.preserve_order = True
        context.enable_progress_bars = self.progress
        quiet = logging.getLogger("ray.data")
        level = quiet.level
        if not self.progress:
            quiet.setLevel(logging.WARNING)
        try:
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
        finally:
            context.execution_options.preserve_order, context.enable_progress_bars = saved
            quiet.setLevel(level)
