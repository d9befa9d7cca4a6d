"""The index on disk: one SQLite database holding documents, chunks, sentences and vectors.

SQLite gives us atomic, durable transactions: each batch of documents is written in one
transaction, so a crash or ``kill -9`` mid-indexing leaves every earlier batch intact and the
interrupted one absent. The FAISS structures are rebuilt from the stored vectors on load.

One ``IndexStore`` may be shared by threads (the HTTP app's request threads): each of its two
connections is used by one thread at a time, behind its own lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np

from index import arrays
from index.errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexReadOnlyError
from index.manifest import Manifest
from index.pipeline import ProcessedDocument
from index.records import Document
from index.snapshot import Snapshot, read_snapshot

DB_NAME = "sourced.sqlite3"
BUILD_KEY = "build"  # meta: the last ``sourced index`` run, and whether it finished
NEW_DB_NAME = DB_NAME + ".new"  # a database being created; renamed to DB_NAME once complete
LOCK_NAME = "write.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT, published TEXT, source TEXT,
    origin TEXT, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    indexed_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, sent_start INTEGER NOT NULL, sent_end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, vector BLOB NOT NULL,
    tokens BLOB NOT NULL  -- the reader's token rows, index/annotations.TOKEN_DTYPE
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE INDEX IF NOT EXISTS sentences_doc ON sentences(doc_id, ordinal);
"""


@dataclass(frozen=True)
class BuildState:
    """Whether the last indexing run finished; if not, how far it got."""

    complete: bool
    indexed: int  # documents in the index now
    expected: int  # documents the unfinished run was given

    def notice(self, index_dir: Path) -> str | None:
        if self.complete:
            return None
        return (f"index incomplete: {self.indexed:,} of {self.expected:,} documents; run the same "
                f"`sourced index ...` command again to resume (index at {index_dir})")


class IndexStore:
    """Read and write the index directory.

    Usage::

        store = IndexStore.create(index_dir, manifest)   # or IndexStore.open(index_dir)
        with store.writer():
            store.put(processor.process(documents))
        snapshot = store.snapshot()
    """

    def __init__(self, index_dir: Path, conn: sqlite3.Connection) -> None:
        self.index_dir = index_dir
        self._conn = conn
        # sqlite3 lets threads share a connection (check_same_thread=False) but not use it at
        # the same time: a transaction is per connection, so a concurrent statement would land
        # inside another thread's. Re-entrant: ``snapshot`` reads the manifest inside its own.
        self._lock = threading.RLock()
        # ``generation`` is checked before every query: it gets its own connection, so that
        # check never waits behind a snapshot being read on ``_conn``.
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()
        self._closed = False
        self._inode = _inode(index_dir / DB_NAME)

    # -- opening ---------------------------------------------------------------------------
    @staticmethod
    def exists(index_dir: Path) -> bool:
        _finish_interrupted_swap(index_dir)
        return (index_dir / DB_NAME).is_file()

    @classmethod
    def open(cls, index_dir: Path) -> IndexStore:
        path = index_dir / DB_NAME
        _finish_interrupted_swap(index_dir)
        if not path.is_file():
            raise IndexNotFoundError(
                f"No index at {index_dir}. Build one with: sourced index [PATH ...] "
                "(set --index-dir or SOURCED_INDEX_DIR to use another place)."
            )
        store = cls(index_dir, _connect(path))
        # A full page check reads the whole file (0.3 s at 400 MB, warm): once per process per
        # version of the file, not on every write's open. Any change to the file (a checkpoint,
        # another writer, damage) changes its size or mtime, and it is checked again.
        key = _file_key(path)
        store._check_integrity(pages=key not in _VERIFIED)
        if key is not None:
            _VERIFIED.add(key)
        return store

    @classmethod
    def create(cls, index_dir: Path, manifest: Manifest) -> IndexStore:
        """Create an empty index, or open the one another process has just created.

        The database is built under another name and renamed into place when complete: a
        process killed half way through must not leave tables without a manifest, which the
        next start would refuse as damaged (``executescript`` commits each CREATE on its own).
        """
        index_dir.mkdir(parents=True, exist_ok=True)
        with write_lock(index_dir):  # no one else is creating, so a leftover NEW_DB_NAME is stale
            if not (index_dir / DB_NAME).is_file():
                _build_empty(index_dir / NEW_DB_NAME, manifest)
                os.replace(index_dir / NEW_DB_NAME, index_dir / DB_NAME)
                _fsync_dir(index_dir)
        return cls.open(index_dir)

    def _check_integrity(self, pages: bool = True) -> None:
        with self._lock:
            try:
                ok = self._conn.execute("PRAGMA quick_check").fetchone()[0] if pages else "ok"
                tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.index_dir, str(exc)) from exc
            if ok != "ok" or not {"meta", "documents", "chunks", "sentences"} <= tables:
                raise _corrupt(self.index_dir, ok if ok != "ok" else "tables are missing")
            if self._meta("manifest") is None:
                raise _corrupt(self.index_dir, "the manifest is missing")

    def close(self) -> None:
        with self._lock, self._probe_lock:
            self._closed = True
            self._conn.close()
            if self._probe is not None:
                self._probe.close()

    @property
    def replaced(self) -> bool:
        """True when another database file now sits at our path (``sourced index --rebuild``).

        Our connections keep reading the old file; the caller should open the store again.
        """
        now = _inode(self.index_dir / DB_NAME)
        return now is not None and now != self._inode

    # -- metadata ----------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def manifest(self) -> Manifest:
        raw = self._meta("manifest")
        try:
            return Manifest.model_validate_json(raw or "")
        except ValueError as exc:
            raise _corrupt(self.index_dir, f"unreadable manifest ({exc})") from exc

    def replace_manifest(self, manifest: Manifest) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'manifest'", (manifest.model_dump_json(),)
            )

    @property
    def generation(self) -> int:
        """Bumped by every committed write: readers use it to notice a change.

        Committed state only (WAL: it never waits for a writer), from any thread.
        """
        with self._probe_lock:
            if self._closed:
                raise IndexNotFoundError("The index is closed: the service is shutting down.")
            if self._probe is None:
                self._probe = _connect(self.index_dir / DB_NAME)
            return _generation(self._probe)

    # -- build record ------------------------------------------------------------------------
    def begin_build(self, expected: int) -> None:
        """Record that a run of ``sourced index`` over ``expected`` documents has started: until
        ``end_build``, the index says it is incomplete."""
        self._set_meta(BUILD_KEY, json.dumps({
            "state": "indexing", "expected": expected,
            "started": datetime.now(UTC).isoformat(timespec="seconds")}))

    def end_build(self) -> None:
        self._set_meta(BUILD_KEY, json.dumps({
            "state": "complete", "finished": datetime.now(UTC).isoformat(timespec="seconds")}))

    @property
    def build(self) -> BuildState:
        raw = self._meta(BUILD_KEY)
        record = json.loads(raw) if raw else {"state": "complete"}
        indexed = self.count()["documents"]
        if record.get("state") == "complete":
            return BuildState(True, indexed, indexed)
        return BuildState(False, indexed, int(record.get("expected") or indexed))

    def _set_meta(self, key: str, value: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's write lock (one writer at a time, across processes)."""
        with write_lock(self.index_dir):
            # A rebuild may have swapped in another database since we opened ours: writing to
            # the old file would be acknowledged and then lost.
            if self.replaced:
                raise IndexBusyError(
                    f"The index at {self.index_dir} was just rebuilt. Try the write again."
                )
            yield

    def put(self, items: Iterable[ProcessedDocument]) -> int:
        """Add or replace documents with their vectors and token rows, in one transaction."""
        n = 0
        with self._lock, self._conn:
            for item in items:
                split, chunk_vecs, sent_vecs = item.split, item.chunk_vectors, item.sentence_vectors
                doc = split.document
                self._conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc.doc_id,))
                self._conn.execute(
                    "INSERT INTO documents(doc_id, title, url, published, source, origin, content_hash,"
                    " text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc.doc_id, doc.title, doc.url, doc.published, doc.source, doc.origin,
                     doc.content_hash, doc.text),
                )
                self._conn.executemany(
                    "INSERT INTO chunks(doc_id, ordinal, char_start, char_end, n_tokens, sent_start,"
                    " sent_end, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(doc.doc_id, c.ordinal, c.char_start, c.char_end, c.n_tokens, c.sent_start,
                      c.sent_end, _blob(v)) for c, v in zip(split.chunks, chunk_vecs, strict=True)],
                )
                self._conn.executemany(
                    "INSERT INTO sentences(doc_id, ordinal, char_start, char_end, n_tokens, vector,"
                    " tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(doc.doc_id, s.ordinal, s.char_start, s.char_end, s.n_tokens, _blob(v), t.tobytes())
                     for s, v, t in zip(split.sentences, sent_vecs, item.tokens, strict=True)],
                )
                n += 1
            self._bump()
        return n

    def copy_documents(self, source: Path, doc_ids: Iterable[str]) -> int:
        """Copy documents with all their rows, bytes unchanged, from the index database at
        ``source`` (a shard is built this way, index/shards.py), in one transaction."""
        with self._lock:
            self._conn.execute("ATTACH DATABASE ? AS src", (str(source / DB_NAME),))
            try:
                with self._conn:
                    self._conn.execute("CREATE TEMP TABLE wanted (doc_id TEXT PRIMARY KEY)")
                    self._conn.executemany("INSERT INTO wanted VALUES (?)", ((d,) for d in doc_ids))
                    picked = "WHERE doc_id IN (SELECT doc_id FROM wanted) ORDER BY doc_id, ordinal"
                    n = self._conn.execute(
                        "INSERT INTO documents SELECT * FROM src.documents"
                        " WHERE doc_id IN (SELECT doc_id FROM wanted) ORDER BY doc_id").rowcount
                    self._conn.execute(
                        "INSERT INTO chunks(doc_id, ordinal, char_start, char_end, n_tokens,"
                        " sent_start, sent_end, vector) SELECT doc_id, ordinal, char_start, char_end,"
                        f" n_tokens, sent_start, sent_end, vector FROM src.chunks {picked}")
                    self._conn.execute(
                        "INSERT INTO sentences(doc_id, ordinal, char_start, char_end, n_tokens, vector,"
                        " tokens) SELECT doc_id, ordinal, char_start, char_end, n_tokens, vector,"
                        f" tokens FROM src.sentences {picked}")
                    self._conn.execute("DROP TABLE temp.wanted")
                    self._bump()
            finally:
                self._conn.execute("DETACH DATABASE src")
        return n

    def remove(self, doc_ids: Iterable[str]) -> int:
        with self._lock, self._conn:
            removed = sum(
                self._conn.execute("DELETE FROM documents WHERE doc_id = ?", (d,)).rowcount
                for d in doc_ids
            )
            if removed:
                self._bump()
        return removed

    def _bump(self) -> None:
        self._conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    # -- reading -----------------------------------------------------------------------------
    def content_hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT doc_id, content_hash FROM documents"))

    def count(self) -> dict[str, int]:
        q = "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks), (SELECT COUNT(*) FROM sentences)"
        with self._lock:
            docs, chunks, sents = self._conn.execute(q).fetchone()
        return {"documents": docs, "chunks": chunks, "sentences": sents}

    def get_document(self, doc_id: str) -> Document | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc_id, text, title, url, published, source, origin FROM documents"
                " WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        return Document(*row) if row else None

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[dict]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, title, url, published, source, length(text), indexed_at FROM documents"
                " ORDER BY doc_id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        keys = ("doc_id", "title", "url", "published", "source", "chars", "indexed_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def snapshot(self, base: Snapshot | None = None, cache: bool = True) -> Snapshot:
        """Read everything in one read transaction, so writers cannot tear the view.

        ``base``, an earlier snapshot of this database, is reused for the documents that have
        not changed since (a write then costs what it changed, not the whole index). Without
        it, the arrays come from the cache beside the index when it matches (index/arrays.py),
        and a full read refreshes that cache (``cache=False``: neither).
        """
        dim = self.manifest.dim

        def cached(documents, hashes):
            return arrays.load(self.index_dir, documents, hashes, gen) if cache else None

        with self._lock, _read_transaction(self._conn):
            gen = _generation(self._conn)  # inside the transaction: it labels exactly this view
            try:
                snap = read_snapshot(self._conn, dim, gen, base, cached)
            except ValueError as exc:  # a vector of the wrong size: the file was tampered with
                raise _corrupt(self.index_dir, str(exc)) from exc
        if cache and base is None and snap.cache_dir is None:
            arrays.save(self.index_dir, snap)
        return snap

    def save_arrays(self) -> Path | None:
        """Write the serving arrays of a full read (index/arrays.py) from one read transaction,
        streamed from the database rather than read into a snapshot first; None where the
        index is read-only."""
        dim = self.manifest.dim
        with self._lock, _read_transaction(self._conn):
            gen = _generation(self._conn)
            try:
                return arrays.write(self.index_dir, self._conn, dim, gen, self.content_hashes())
            except ValueError as exc:  # a vector or token blob of the wrong size: tampered with
                raise _corrupt(self.index_dir, str(exc)) from exc


def swap_in(staging: Path, target: Path) -> None:
    """Put the complete directory ``staging`` at ``target``, the old one moved aside first
    (``<target>.old``: a swap killed between the two renames is finished on the next open)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _finish_interrupted_swap(index_dir: Path) -> None:
    """A rebuild killed between its two renames leaves only ``<dir>.old``: put it back."""
    old = index_dir.with_name(index_dir.name + ".old")
    if not index_dir.exists() and (old / DB_NAME).is_file():
        old.rename(index_dir)


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock (one writer at a time, across processes).

    ``flock`` is released by the kernel when its holder dies, so a killed writer never leaves
    the index locked.
    """
    if index_dir.exists() and read_only(index_dir) and (index_dir / DB_NAME).exists():
        raise IndexReadOnlyError(
            f"The index at {index_dir} is read-only (a read-only mount, or not yours to write): "
            "it can be queried and served, not changed. Index into a writable copy instead.")
    fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"Another process is writing to the index at {index_dir}. "
                "Wait for it to finish and try again."
            ) from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _build_empty(path: Path, manifest: Manifest) -> None:
    """Write a complete empty database at ``path``: schema, manifest and generation, durably."""
    for leftover in (path, path.with_name(path.name + "-journal")):
        leftover.unlink(missing_ok=True)
    # Rollback journal (not WAL) here: the file must hold everything once closed, with no
    # -wal beside it to lose in the rename. ``_connect`` switches it to WAL when opened.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript("BEGIN;" + _SCHEMA)
        conn.execute("INSERT INTO meta(key, value) VALUES ('manifest', ?)", (manifest.model_dump_json(),))
        conn.execute("INSERT INTO meta(key, value) VALUES ('generation', '0')")
        conn.execute("COMMIT")
    finally:
        conn.close()


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (it lives in the directory, not in the file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


_VERIFIED: set[tuple[int, int, int, int]] = set()  # files that passed ``quick_check``


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:  # between the two renames of a rebuild
        return None
    return st.st_dev, st.st_ino


def _generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def read_only(index_dir: Path) -> bool:
    """An index we may not write to: a snapshot mounted read-only, another user's directory."""
    return not os.access(index_dir, os.W_OK) or not os.access(index_dir / DB_NAME, os.W_OK)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        if read_only(path.parent):
            # WAL wants to create its -shm file; an immutable read needs nothing written. The
            # file cannot change under us (no one may write it), which is what immutable means.
            uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            return conn
        conn = sqlite3.connect(path, timeout=30, isolation_level="DEFERRED", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives even a power cut, not only a killed process.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path.parent, str(exc)) from exc
    return conn


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _corrupt(where: Path, detail: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"The index at {where} is damaged ({detail}) and will not be served. "
        f"Rebuild it: sourced index --rebuild --index-dir {where}"
    )

