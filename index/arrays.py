"""The serving snapshot's arrays on disk, memory-mapped at start-up.

SQLite stays the index's record (crash-safe, incremental); reading 190k vectors and token rows
out of it takes seconds, so after a build the snapshot's arrays are also written here as ``.npy``
files, and the next start maps them instead (the page cache shares them between worker
processes). They are a cache: keyed by the index's generation and the documents' content
hashes, rewritten when stale, never trusted when they do not match, and skipped silently on a
read-only index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from index.records import Document
from index.snapshot import Snapshot

CACHE_DIR = "arrays"
FORMAT = 1
_ARRAYS = ("chunk_span", "chunk_sent", "chunk_vectors", "sent_span", "sent_vectors", "sent_tokens",
           "sent_tok")
log = logging.getLogger(__name__)


def key(generation: int, hashes: dict[str, str]) -> str:
    """What a cache must have been written for: this generation and these documents."""
    h = hashlib.sha256(str(generation).encode())
    for doc_id, content in sorted(hashes.items()):
        h.update(f"{doc_id}\x00{content}\x00".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def load(index_dir: Path, documents: dict[str, Document], hashes: dict[str, str],
         generation: int) -> Snapshot | None:
    """The cached snapshot for exactly this state, or None."""
    where = index_dir / CACHE_DIR
    try:
        meta = json.loads((where / "cache.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("key") != key(generation, hashes):
        return None
    try:
        # Plain ndarray views of the maps, the same pages: np.memmap wraps every indexing in
        # Python code, which made most of the reader's per-token work (spans.py) on the seed.
        arrays = {n: np.asarray(np.load(where / f"{n}.npy", mmap_mode="r")) for n in _ARRAYS}
        doc_ids = meta["doc_ids"]
        chunk_doc = [doc_ids[i] for i in np.load(where / "chunk_doc.npy").tolist()]
        sent_doc = [doc_ids[i] for i in np.load(where / "sent_doc.npy").tolist()]
    except (OSError, ValueError, IndexError, KeyError) as exc:
        log.warning("ignoring the array cache at %s: %s", where, exc)
        return None
    snap = Snapshot(documents=documents, chunk_doc=chunk_doc, sent_doc=sent_doc,
                    generation=generation, hashes=hashes, **arrays)
    snap.cache_dir = where
    return snap


def save(index_dir: Path, snapshot: Snapshot) -> Path | None:
    """Write the snapshot's arrays beside the index; None where the directory is read-only."""
    target = index_dir / CACHE_DIR
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".arrays-", dir=index_dir))
        tmp.chmod(0o755)  # readable like the database beside it (mkdtemp makes it private)
    except OSError:
        return None  # a read-only index: serve from SQLite
    try:
        doc_ids = sorted(snapshot.documents)
        position = {d: i for i, d in enumerate(doc_ids)}
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(snapshot, name)))
        np.save(tmp / "chunk_doc.npy", np.array([position[d] for d in snapshot.chunk_doc], np.int32))
        np.save(tmp / "sent_doc.npy", np.array([position[d] for d in snapshot.sent_doc], np.int32))
        meta = {"format": FORMAT, "key": key(snapshot.generation, snapshot.hashes),
                "generation": snapshot.generation, "doc_ids": doc_ids}
        (tmp / "cache.json").write_text(json.dumps(meta), encoding="utf-8")
        old = index_dir / f".arrays-old-{os.getpid()}"
        if target.exists():
            target.rename(old)  # readers of the old files keep their mappings
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        snapshot.cache_dir = target
        return target
    except OSError as exc:
        log.warning("could not write the array cache in %s: %s", index_dir, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return None
