"""The query side's view of the index: arrays read from the store in one transaction.

After a write only the documents that changed are read again: the rest of the arrays are copied
from the previous snapshot. On 27k chunks a full read takes seconds, which a single-document
write used to pay; ``tests/test_indexer.py`` checks the two reads give equal snapshots.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from index.annotations import EMPTY, TOKEN_DTYPE
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
    # The reader's token rows (index/annotations.py): sentence ``j`` owns
    # ``sent_tokens[sent_tok[j] : sent_tok[j + 1]]``.
    sent_tokens: np.ndarray = field(default_factory=lambda: EMPTY.copy())
    sent_tok: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    # Where its arrays lie on disk, when it was mapped from (or saved to) index/arrays.py's cache.
    cache_dir: Path | None = field(default=None, compare=False)
    # doc_id -> content hash: tells the next snapshot which documents it may reuse (empty: none)
    hashes: dict[str, str] = field(default_factory=dict)

    def chunk_text(self, i: int) -> str:
        s, e = self.chunk_span[i]
        return self.documents[self.chunk_doc[i]].text[s:e]

    def sentence_text(self, j: int) -> str:
        s, e = self.sent_span[j]
        return self.documents[self.sent_doc[j]].text[s:e]

    def tokens(self, j: int) -> np.ndarray:
        """Sentence ``j``'s token rows (empty for an index built without them)."""
        if j + 1 >= len(self.sent_tok):
            return EMPTY
        return self.sent_tokens[self.sent_tok[j] : self.sent_tok[j + 1]]

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

    def chunks_by_document(self, texts: bool = True) -> tuple[list[str], list[list[str]]]:
        """Per document, in row order: a key naming its content, and (``texts``) its chunks'
        texts: what ``index.lexical.LexicalIndex.build`` takes."""
        keys: list[str] = []
        chunks: list[list[str]] = []
        for i, doc_id in enumerate(self.chunk_doc):
            if not keys or self.chunk_doc[i - 1] != doc_id:
                keys.append(f"{doc_id}\x00{self.hashes.get(doc_id) or self.documents[doc_id].content_hash}")
                chunks.append([])
            if texts:
                chunks[-1].append(self.chunk_text(i))
        return keys, chunks


def gather(parts: list[Snapshot], doc_ids: list[str]) -> Snapshot:
    """A snapshot of ``doc_ids`` only, each taken from the part that holds it: the rows of a
    scatter-gather search's hits (service/sharded.py). Rows are ordered by document id, as in
    the index, so they keep the order the single index gives them."""
    where = {d: part for part in parts for d in part.documents}
    dim = parts[0].chunk_vectors.shape[1] if parts else 0
    out = _Pieces()
    documents: dict[str, Document] = {}
    for doc_id in sorted(set(doc_ids)):
        part = where[doc_id]
        documents[doc_id] = part.documents[doc_id]
        out.add_base(part, *part.doc_rows[doc_id])
    hashes = {d: h for part in parts for d, h in part.hashes.items() if d in documents}
    return out.snapshot(documents, dim, max((p.generation for p in parts), default=0), hashes)


Cached = Callable[[dict[str, Document], dict[str, str]], "Snapshot | None"]


def read_snapshot(
    conn: sqlite3.Connection, dim: int, generation: int, base: Snapshot | None = None,
    cached: Cached | None = None,
) -> Snapshot:
    """Read a snapshot inside the caller's read transaction.

    With ``base`` (an earlier snapshot of the same database), documents whose content hash is
    unchanged are taken from it; the others are read. The result equals a full read.
    ``cached(documents, hashes)`` may supply the arrays of a full read from a cache.
    """
    hashes = dict(conn.execute("SELECT doc_id, content_hash FROM documents ORDER BY doc_id"))
    reuse = set()
    if base is not None and base.hashes and base.chunk_vectors.shape[1] == dim:
        reuse = {d for d, h in hashes.items() if base.hashes.get(d) == h}
    if base is None or not reuse or len(reuse) < len(hashes) / 2:
        return _read_all(conn, dim, generation, hashes, cached)  # most changed: one sequential read
    return _read_changed(conn, dim, generation, hashes, base, reuse)


def _read_all(conn: sqlite3.Connection, dim: int, generation: int, hashes: dict[str, str],
              cached: Cached | None = None) -> Snapshot:
    documents = {r[0]: Document(*r) for r in conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents")}
    if cached is not None and (found := cached(documents, hashes)) is not None:
        return found
    n_chunks, n_sents = row_counts(conn)
    sent = _Rows(n_sents, dim, 2)
    sent.read(batches(conn, SENTENCE_ROWS, dim, with_tokens=True))
    chunk = _Rows(n_chunks, dim, 4)
    chunk.read(batches(conn, CHUNK_ROWS, dim))
    first_sent: dict[str, int] = {}
    for j, d in enumerate(sent.doc):
        first_sent.setdefault(d, j)
    return Snapshot(
        documents=documents, chunk_doc=chunk.doc, chunk_span=chunk.ints[:, :2].copy(),
        chunk_sent=chunk_sentences(chunk.ints, chunk.doc, first_sent), chunk_vectors=chunk.vectors,
        sent_doc=sent.doc, sent_span=sent.ints, sent_vectors=sent.vectors,
        generation=generation, hashes=hashes, **_tokens(sent.tokens),
    )


def _tokens(per_sentence: list[bytes]) -> dict[str, np.ndarray]:
    """``sent_tokens`` and ``sent_tok`` from each sentence's stored rows."""
    rows = [np.frombuffer(b, dtype=TOKEN_DTYPE) for b in per_sentence]
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    return {"sent_tokens": np.concatenate(rows) if rows else EMPTY.copy(), "sent_tok": offsets}


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
            "SELECT char_start, char_end, vector, tokens FROM sentences WHERE doc_id = ?"
            " ORDER BY ordinal",
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


# A full read's rows, in snapshot order. index/arrays.py streams the same rows into its files.
SENTENCE_ROWS = "SELECT doc_id, char_start, char_end, vector, tokens FROM sentences ORDER BY doc_id, ordinal"
CHUNK_ROWS = ("SELECT doc_id, char_start, char_end, sent_start, sent_end, vector FROM chunks"
              " ORDER BY doc_id, ordinal")


@dataclass
class Batch:
    """Up to ``_BATCH`` consecutive rows of ``SENTENCE_ROWS`` or ``CHUNK_ROWS``."""

    doc: list[str]
    ints: np.ndarray  # (m, k) int64: the integer columns
    vectors: np.ndarray  # (m, dim) float32
    tokens: list[bytes]  # each sentence's token rows (sentences only)


def row_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """Chunks and sentences in the index: the arrays' lengths, known before reading."""
    return conn.execute(
        "SELECT (SELECT COUNT(*) FROM chunks), (SELECT COUNT(*) FROM sentences)"
    ).fetchone()


def chunk_sentences(ints: np.ndarray, docs: list[str], first_sent: dict[str, int]) -> np.ndarray:
    """Chunks' global sentence rows from ``CHUNK_ROWS``' integer columns: chunks store sentence
    ordinals within their document; ``first_sent`` gives each document's first global row."""
    offsets = np.fromiter((first_sent.get(d, 0) for d in docs), np.int64, len(docs))
    return ints[:, 2:] + offsets[:, None]


def token_rows(conn: sqlite3.Connection) -> int:
    """Token rows of all sentences: ``sent_tokens``'s length (another pass over the table)."""
    (size,) = conn.execute("SELECT COALESCE(SUM(length(tokens)), 0) FROM sentences").fetchone()
    return size // TOKEN_DTYPE.itemsize


def batches(conn: sqlite3.Connection, sql: str, dim: int, with_tokens: bool = False) -> Iterator[Batch]:
    """The rows of ``sql`` a fetch at a time: never all of them as Python objects at once."""
    cursor = conn.execute(sql)
    last = -2 if with_tokens else -1  # the vector's column; token rows after it
    while rows := cursor.fetchmany(_BATCH):
        tokens = [r[-1] for r in rows] if with_tokens else []
        if any(len(t) % TOKEN_DTYPE.itemsize for t in tokens):
            raise ValueError("a sentence's token rows are not whole rows")
        yield Batch([r[0] for r in rows], np.array([r[1:last] for r in rows], np.int64),
                    _vectors([r[last] for r in rows], dim), tokens)


class _Rows:
    """Rows of ``(doc_id, int columns..., vector)`` read in batches into preallocated arrays."""

    def __init__(self, n: int, dim: int, n_ints: int) -> None:
        self.doc: list[str] = []
        self.ints = np.empty((n, n_ints), dtype=np.int64)
        self.vectors = np.empty((n, dim), dtype=np.float32)
        self.tokens: list[bytes] = []

    def read(self, rows: Iterable[Batch]) -> None:
        i = 0
        for batch in rows:
            m = len(batch.doc)
            self.doc.extend(batch.doc)
            self.ints[i : i + m] = batch.ints
            self.vectors[i : i + m] = batch.vectors
            self.tokens.extend(batch.tokens)
            i += m
        if i != len(self.vectors):  # a writer cannot cause this: we are in one read transaction
            raise ValueError(f"expected {len(self.vectors)} rows, read {i}")


class _Pieces:
    """Array pieces in row order, concatenated once at the end."""

    def __init__(self) -> None:
        self.chunk_doc: list[str] = []
        self.sent_doc: list[str] = []
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("chunk_span", "chunk_sent", "chunk_vectors", "sent_span", "sent_vectors",
                            "sent_tokens")
        }
        self.token_counts: list[np.ndarray] = []

    def add_base(self, base: Snapshot, c0: int, c1: int, s0: int, s1: int) -> None:
        shift = len(self.sent_doc) - s0  # where these sentences land now
        self.chunk_doc += base.chunk_doc[c0:c1]
        self.sent_doc += base.sent_doc[s0:s1]
        self.parts["chunk_span"].append(base.chunk_span[c0:c1])
        self.parts["chunk_sent"].append(base.chunk_sent[c0:c1] + shift)
        self.parts["chunk_vectors"].append(base.chunk_vectors[c0:c1])
        self.parts["sent_span"].append(base.sent_span[s0:s1])
        self.parts["sent_vectors"].append(base.sent_vectors[s0:s1])
        self.parts["sent_tokens"].append(base.sent_tokens[base.sent_tok[s0] : base.sent_tok[s1]])
        self.token_counts.append(np.diff(base.sent_tok[s0 : s1 + 1]))

    def add_rows(self, doc_id: str, chunks: list[tuple], sents: list[tuple], dim: int) -> None:
        first = len(self.sent_doc)
        self.chunk_doc += [doc_id] * len(chunks)
        self.sent_doc += [doc_id] * len(sents)
        self.parts["chunk_span"].append(np.array([r[:2] for r in chunks], np.int64).reshape(-1, 2))
        self.parts["chunk_sent"].append(np.array([r[2:4] for r in chunks], np.int64).reshape(-1, 2) + first)
        self.parts["chunk_vectors"].append(_vectors([r[4] for r in chunks], dim))
        self.parts["sent_span"].append(np.array([r[:2] for r in sents], np.int64).reshape(-1, 2))
        self.parts["sent_vectors"].append(_vectors([r[2] for r in sents], dim))
        rows = [np.frombuffer(r[3], dtype=TOKEN_DTYPE) for r in sents]
        self.parts["sent_tokens"].extend(rows)
        self.token_counts.append(np.array([len(r) for r in rows], np.int64))

    def snapshot(self, documents: dict[str, Document], dim: int, generation: int, hashes: dict[str, str]) -> Snapshot:
        def cat(key: str, width: int, dtype: type) -> np.ndarray:
            parts = self.parts[key]
            return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)

        return Snapshot(
            documents=documents, chunk_doc=self.chunk_doc, chunk_span=cat("chunk_span", 2, np.int64),
            chunk_sent=cat("chunk_sent", 2, np.int64), chunk_vectors=cat("chunk_vectors", dim, np.float32),
            sent_doc=self.sent_doc, sent_span=cat("sent_span", 2, np.int64),
            sent_vectors=cat("sent_vectors", dim, np.float32), generation=generation, hashes=hashes,
            sent_tokens=(np.concatenate(self.parts["sent_tokens"]) if self.parts["sent_tokens"]
                         else EMPTY.copy()),
            sent_tok=np.concatenate([[0], np.cumsum(np.concatenate(self.token_counts))]).astype(np.int64)
            if self.token_counts else np.zeros(1, np.int64),
        )


def _vectors(blobs: list[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
