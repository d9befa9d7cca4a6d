"""An index split by document into shards, each a complete index directory of its own, with
the whole corpus's BM25 statistics beside them (``CorpusStats``): a shard scores each of its
chunks exactly as the single index does, so scatter-gather search (service/sharded.py) ranks
as the single index ranks.

Layout, beside the index (``<index_dir>.shards/``)::

    shards.json          how many shards, and the version (generation) of the index they hold
    corpus_stats.json    document frequencies, chunk count and total length of the whole corpus
    shard-0/ ...         one index each (database, manifest, serving arrays)

A document's shard is fixed by its id (``shard_of``). The shards are built from one version
of the index, under its write lock, and swapped in whole; ``split`` reuses them while the index
is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from index.lexical import CorpusStats, LexicalIndex
from index.store import IndexStore, swap_in, write_lock

SHARDS_FILE = "shards.json"
STATS_FILE = "corpus_stats.json"


def shard_of(doc_id: str, shards: int) -> int:
    """The shard that holds ``doc_id``: stable across runs and machines."""
    return int.from_bytes(hashlib.sha256(doc_id.encode()).digest()[:8], "big") % shards


def default_root(index_dir: Path) -> Path:
    return index_dir.with_name(index_dir.name + ".shards")


@dataclass(frozen=True)
class ShardSet:
    """Shards of one version of an index, ready to serve.

    Usage::

        shards = split(Path(".sourced"), 4)
        shards.dirs[0], shards.stats            # an index directory; the corpus's statistics
    """

    root: Path
    dirs: list[Path]
    stats: CorpusStats
    generation: int  # of the index they were split from

    @classmethod
    def open(cls, root: Path) -> ShardSet | None:
        """The shards at ``root``, or None when there are none (or only half-written ones)."""
        try:
            meta = json.loads((root / SHARDS_FILE).read_text(encoding="utf-8"))
            stats = CorpusStats.load(root / STATS_FILE)
        except (OSError, ValueError, KeyError):
            return None
        dirs = [root / f"shard-{i}" for i in range(int(meta["shards"]))]
        return cls(root, dirs, stats, int(meta["generation"]))


def split(index_dir: Path, shards: int, root: Path | None = None) -> ShardSet:
    """Split the index at ``index_dir`` into ``shards`` shards at ``root`` (default
    ``<index_dir>.shards``); the shards already there when they hold this version of it."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1. Currently, shards is {shards}.")
    root = root or default_root(index_dir)
    with write_lock(index_dir):  # no write lands between reading the index and copying it
        source = IndexStore.open(index_dir)
        try:
            generation, manifest = source.generation, source.manifest
            doc_ids = sorted(source.content_hashes())
        finally:
            source.close()
        found = ShardSet.open(root)
        if found is not None and found.generation == generation and len(found.dirs) == shards:
            return found
        staging = root.with_name(root.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        parts = []
        for i in range(shards):
            store = IndexStore.create(staging / f"shard-{i}", manifest)
            try:
                store.copy_documents(index_dir, [d for d in doc_ids if shard_of(d, shards) == i])
                snapshot = store.snapshot()  # and its serving arrays, mapped by the shard server
            finally:
                store.close()
            parts.append(LexicalIndex.build(*snapshot.chunks_by_document()).stats())
        CorpusStats.merge(parts).save(staging / STATS_FILE)
        (staging / SHARDS_FILE).write_text(
            json.dumps({"shards": shards, "generation": generation}), encoding="utf-8")
        swap_in(staging, root)
    found = ShardSet.open(root)
    assert found is not None
    return found
