"""The query side's view of the index: arrays read from the store in one transaction.

After a write only the documents that changed are read again: the rest of the arrays are copied
from the previous snapshot. On 27k chunks a full read takes seconds, which a single-document
write used to pay; ``tests/test_indexer.py`` checks the two reads give equal snapshots.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from index.records import Document

_BATCH = 8192  # rows per fetch: vectors go straight into the arrays, never all as bytes at once
_DOC_COLUMNS = "doc_id, text, title, url, published, source, origin"


@dataclass
class Snapshot:
    """Everything the query side needs, read in one transaction (a consistent view).

    Row ``i`` of ``chunk_vectors`` belongs to chunk ``i``; chunk ``i`` covers sentences
    ``chunk_sent[i, 0] .. chunk_sent[i, 1]`` of the ``sent_*`` arrays. Rows are ordered by
    document id, then position in the document.
    """

    documents: dict[str, Document]
    chunk_doc: list[str]
    chunk_span: np.ndarray  # (n, 2) char_start, char_end
    chunk_sent: np.ndarray  # (n, 2) global sentence row range [start, end)
    chunk_vectors: np.ndarray  # (n, dim) float32
    sent_doc: list[str]
    sent_span: np.ndarray  # (m, 2)
    sent_vectors: np.ndarray  # (m, dim)
    generation: int
    # doc_id -> content hash: tells the next snapshot which documents it may reuse (empty: none)
    hashes: dict[str, str] = field(default_factory=dict)

    def chunk_text(self, i: int) -> str:
        s, e = self.chunk_span[i]
        return self.documents[self.chunk_doc[i]].text[s:e]

    def sentence_text(self, j: int) -> str:
        s, e = self.sent_span[j]
        return self.documents[self.sent_doc[j]].text[s:e]

    @cached_property
    def doc_rows(self) -> dict[str, tuple[int, int, int, int]]:
        """doc_id -> its chunk rows ``[c0, c1)`` and sentence rows ``[s0, s1)``."""
        rows: dict[str, list[int]] = {d: [0, 0, 0, 0] for d in self.documents}
        for col, ids in ((0, self.chunk_doc), (2, self.sent_doc)):
            for i, d in enumerate(ids):
                r = rows[d]
                if r[col] == r[col + 1]:  # the first row of this document
                    r[col] = i
                r[col + 1] = i + 1
        return {d: (r[0], r[1], r[2], r[3]) for d, r in rows.items()}


def read_snapshot(
    conn: sqlite3.Connection, dim: int, generation: int, base: Snapshot | None = None
) -> Snapshot:
    """Read a snapshot inside the caller's read transaction.

    With ``base`` (an earlier snapshot of the same database), documents whose content hash is
    unchanged are taken from it; the others are read. The result equals a full read.
    """
    hashes = dict(conn.execute("SELECT doc_id, content_hash FROM documents ORDER BY doc_id"))
    reuse = set()
    if base is not None and base.hashes and base.chunk_vectors.shape[1] == dim:
        reuse = {d for d, h in hashes.items() if base.hashes.get(d) == h}
    if base is None or not reuse or len(reuse) < len(hashes) / 2:
        return _read_all(conn, dim, generation, hashes)  # most changed: one sequential read
    return _read_changed(conn, dim, generation, hashes, base, reuse)


def _read_all(conn: sqlite3.Connection, dim: int, generation: int, hashes: dict[str, str]) -> Snapshot:
    documents = {r[0]: Document(*r) for r in conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents")}
    n_chunks, n_sents = conn.execute(
        "SELECT (SELECT COUNT(*) FROM chunks), (SELECT COUNT(*) FROM sentences)"
    ).fetchone()
    sent = _Rows(n_sents, dim, 2)
    sent.read(conn.execute(
        "SELECT doc_id, char_start, char_end, vector FROM sentences ORDER BY doc_id, ordinal"
    ))
    chunk = _Rows(n_chunks, dim, 4)
    chunk.read(conn.execute(
        "SELECT doc_id, char_start, char_end, sent_start, sent_end, vector FROM chunks"
        " ORDER BY doc_id, ordinal"
    ))
    # Chunks store sentence ordinals within their document; the arrays need global rows.
    first_sent: dict[str, int] = {}
    for j, d in enumerate(sent.doc):
        first_sent.setdefault(d, j)
    offsets = np.fromiter((first_sent.get(d, 0) for d in chunk.doc), np.int64, len(chunk.doc))
    return Snapshot(
        documents=documents, chunk_doc=chunk.doc, chunk_span=chunk.ints[:, :2].copy(),
        chunk_sent=chunk.ints[:, 2:] + offsets[:, None], chunk_vectors=chunk.vectors,
        sent_doc=sent.doc, sent_span=sent.ints, sent_vectors=sent.vectors,
        generation=generation, hashes=hashes,
    )


def _read_changed(
    conn: sqlite3.Connection, dim: int, generation: int, hashes: dict[str, str],
    base: Snapshot, reuse: set[str],
) -> Snapshot:
    documents: dict[str, Document] = {}
    out = _Pieces()
    run: list[int] | None = None  # a run of reused documents adjacent in base: [c0, c1, s0, s1]
    for doc_id in hashes:  # in doc_id order, as a full read orders rows
        if doc_id in reuse:
            documents[doc_id] = base.documents[doc_id]
            c0, c1, s0, s1 = base.doc_rows[doc_id]
            if run is not None and run[1] == c0 and run[3] == s0:
                run[1], run[3] = c1, s1
                continue
            if run is not None:
                out.add_base(base, *run)
            run = [c0, c1, s0, s1]
            continue
        if run is not None:
            out.add_base(base, *run)
            run = None
        row = conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        documents[doc_id] = Document(*row)
        sents = conn.execute(
            "SELECT char_start, char_end, vector FROM sentences WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
        chunks = conn.execute(
            "SELECT char_start, char_end, sent_start, sent_end, vector FROM chunks"
            " WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
        out.add_rows(doc_id, chunks, sents, dim)
    if run is not None:
        out.add_base(base, *run)
    return out.snapshot(documents, dim, generation, hashes)


class _Rows:
    """Rows of ``(doc_id, int columns..., vector)`` read in batches into preallocated arrays."""

    def __init__(self, n: int, dim: int, n_ints: int) -> None:
        self.doc: list[str] = []
        self.ints = np.empty((n, n_ints), dtype=np.int64)
        self.vectors = np.empty((n, dim), dtype=np.float32)
        self.dim = dim

    def read(self, cursor: sqlite3.Cursor) -> None:
        i = 0
        while batch := cursor.fetchmany(_BATCH):
            m = len(batch)
            self.doc.extend(r[0] for r in batch)
            self.ints[i : i + m] = [r[1:-1] for r in batch]
            self.vectors[i : i + m] = _vectors([r[-1] for r in batch], self.dim)
            i += m
        if i != len(self.vectors):  # a writer cannot cause this: we are in one read transaction
            raise ValueError(f"expected {len(self.vectors)} rows, read {i}")


class _Pieces:
    """Array pieces in row order, concatenated once at the end."""

    def __init__(self) -> None:
        self.chunk_doc: list[str] = []
        self.sent_doc: list[str] = []
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("chunk_span", "chunk_sent", "chunk_vectors", "sent_span", "sent_vectors")
        }

    def add_base(self, base: Snapshot, c0: int, c1: int, s0: int, s1: int) -> None:
        shift = len(self.sent_doc) - s0  # where these sentences land now
        self.chunk_doc += base.chunk_doc[c0:c1]
        self.sent_doc += base.sent_doc[s0:s1]
        self.parts["chunk_span"].append(base.chunk_span[c0:c1])
        self.parts["chunk_sent"].append(base.chunk_sent[c0:c1] + shift)
        self.parts["chunk_vectors"].append(base.chunk_vectors[c0:c1])
        self.parts["sent_span"].append(base.sent_span[s0:s1])
        self.parts["sent_vectors"].append(base.sent_vectors[s0:s1])

    def add_rows(self, doc_id: str, chunks: list[tuple], sents: list[tuple], dim: int) -> None:
        first = len(self.sent_doc)
        self.chunk_doc += [doc_id] * len(chunks)
        self.sent_doc += [doc_id] * len(sents)
        self.parts["chunk_span"].append(np.array([r[:2] for r in chunks], np.int64).reshape(-1, 2))
        self.parts["chunk_sent"].append(np.array([r[2:4] for r in chunks], np.int64).reshape(-1, 2) + first)
        self.parts["chunk_vectors"].append(_vectors([r[4] for r in chunks], dim))
        self.parts["sent_span"].append(np.array([r[:2] for r in sents], np.int64).reshape(-1, 2))
        self.parts["sent_vectors"].append(_vectors([r[2] for r in sents], dim))

    def snapshot(self, documents: dict[str, Document], dim: int, generation: int, hashes: dict[str, str]) -> Snapshot:
        def cat(key: str, width: int, dtype: type) -> np.ndarray:
            parts = self.parts[key]
            return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)

        return Snapshot(
            documents=documents, chunk_doc=self.chunk_doc, chunk_span=cat("chunk_span", 2, np.int64),
            chunk_sent=cat("chunk_sent", 2, np.int64), chunk_vectors=cat("chunk_vectors", dim, np.float32),
            sent_doc=self.sent_doc, sent_span=cat("sent_span", 2, np.int64),
            sent_vectors=cat("sent_vectors", dim, np.float32), generation=generation, hashes=hashes,
        )


def _vectors(blobs: list[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
