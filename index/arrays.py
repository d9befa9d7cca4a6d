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
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np

from index.annotations import TOKEN_DTYPE
from index.records import Document
from index.snapshot import (
    CHUNK_ROWS,
    SENTENCE_ROWS,
    Snapshot,
    batches,
    chunk_sentences,
    row_counts,
    token_rows,
)

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
    doc_ids = sorted(snapshot.documents)

    def fill(tmp: Path) -> None:
        position = {d: i for i, d in enumerate(doc_ids)}
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(snapshot, name)))
        np.save(tmp / "chunk_doc.npy", np.array([position[d] for d in snapshot.chunk_doc], np.int32))
        np.save(tmp / "sent_doc.npy", np.array([position[d] for d in snapshot.sent_doc], np.int32))

    target = _staged(index_dir, fill, snapshot.generation, snapshot.hashes, doc_ids)
    if target is not None:
        snapshot.cache_dir = target
    return target


def write(index_dir: Path, conn: sqlite3.Connection, dim: int, generation: int,
          hashes: dict[str, str]) -> Path | None:
    """Write the arrays of a full read straight from the database, inside the caller's read
    transaction, a fetch of rows at a time: the files ``save`` would write for that snapshot,
    without holding it. After a large build the snapshot in memory (every vector, the token
    rows twice) would double the build's peak memory."""
    if not conn.in_transaction:  # counts and rows must come from one view of the database
        raise RuntimeError("arrays.write reads inside the caller's read transaction")
    doc_ids = sorted(hashes)

    def fill(tmp: Path) -> None:
        position = {d: i for i, d in enumerate(doc_ids)}
        n_chunks, n_sents = row_counts(conn)
        first_sent: dict[str, int] = {}  # each document's first global sentence row
        with (_Npy(tmp / "sent_span.npy", (n_sents, 2), np.int64) as span,
              _Npy(tmp / "sent_vectors.npy", (n_sents, dim), np.float32) as vectors,
              _Npy(tmp / "sent_tokens.npy", (token_rows(conn),), TOKEN_DTYPE) as tokens,
              _Npy(tmp / "sent_tok.npy", (n_sents + 1,), np.int64) as tok,
              _Npy(tmp / "sent_doc.npy", (n_sents,), np.int32) as doc):
            j, end = 0, 0
            tok.add(np.zeros(1, np.int64))
            for b in batches(conn, SENTENCE_ROWS, dim, with_tokens=True):
                for k, d in enumerate(b.doc):
                    first_sent.setdefault(d, j + k)
                span.add(b.ints)
                vectors.add(b.vectors)
                tokens.add_bytes(b"".join(b.tokens))
                ends = end + np.cumsum([len(t) // TOKEN_DTYPE.itemsize for t in b.tokens], dtype=np.int64)
                tok.add(ends)
                end = int(ends[-1])
                doc.add(np.array([position[d] for d in b.doc], np.int32))
                j += len(b.doc)
        with (_Npy(tmp / "chunk_span.npy", (n_chunks, 2), np.int64) as span,
              _Npy(tmp / "chunk_sent.npy", (n_chunks, 2), np.int64) as sent,
              _Npy(tmp / "chunk_vectors.npy", (n_chunks, dim), np.float32) as vectors,
              _Npy(tmp / "chunk_doc.npy", (n_chunks,), np.int32) as doc):
            for b in batches(conn, CHUNK_ROWS, dim):
                span.add(b.ints[:, :2])
                sent.add(chunk_sentences(b.ints, b.doc, first_sent))
                vectors.add(b.vectors)
                doc.add(np.array([position[d] for d in b.doc], np.int32))

    return _staged(index_dir, fill, generation, hashes, doc_ids)


def _staged(index_dir: Path, fill: Callable[[Path], None], generation: int,
            hashes: dict[str, str], doc_ids: list[str]) -> Path | None:
    """``fill`` writes the arrays into a fresh directory, swapped in whole once complete."""
    target = index_dir / CACHE_DIR
    try:
        _remove_abandoned(index_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".arrays-{os.getpid()}-", dir=index_dir))
        tmp.chmod(0o755)  # readable like the database beside it (mkdtemp makes it private)
    except OSError:
        return None  # a read-only index: serve from SQLite
    try:
        fill(tmp)
        meta = {"format": FORMAT, "key": key(generation, hashes), "generation": generation,
                "doc_ids": doc_ids}
        (tmp / "cache.json").write_text(json.dumps(meta), encoding="utf-8")
        old = None
        if target.exists():
            # A fresh name: one left by a killed run (a container's pid repeats) would block it.
            old = Path(tempfile.mkdtemp(prefix=f".arrays-old-{os.getpid()}-", dir=index_dir))
            target.rename(old)  # readers of the old files keep their mappings
        try:
            tmp.rename(target)
        except OSError:
            if old is not None:
                old.rename(target)  # the old cache stays where readers look for it
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target
    except OSError as exc:
        log.warning("could not write the array cache in %s: %s", index_dir, exc)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; left over after a failure


def _remove_abandoned(index_dir: Path) -> None:
    """Delete the folders of saves whose process is gone: one killed while writing leaves
    full-size arrays that nobody will finish. A live process's folder is never touched (worker
    processes may be saving side by side)."""
    for path in index_dir.glob(".arrays-*"):
        found = _OWNER.match(path.name)
        if found is None:
            continue
        try:
            os.kill(int(found[1]), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (PermissionError, OverflowError):
            pass  # another user's process, or not a pid: leave it


_OWNER = re.compile(r"\.arrays-(?:old-)?(\d+)-")


class _Npy:
    """One ``.npy`` file written a batch at a time, its shape declared up front. Plain writes,
    not a memory map: a map's dirty pages count in the writer's resident memory."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.dtype = np.dtype(dtype)
        self.expected = int(np.prod(shape)) * self.dtype.itemsize
        self.written = 0
        self.file = path.open("wb")
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                        "shape": shape})

    def add(self, rows: np.ndarray) -> None:
        self.add_bytes(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())

    def add_bytes(self, data: bytes) -> None:
        self.file.write(data)
        self.written += len(data)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        if exc[0] is None and self.written != self.expected:  # the rows did not match their count
            raise ValueError(f"{self.file.name}: wrote {self.written} bytes, expected {self.expected}")
