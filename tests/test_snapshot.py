"""A snapshot read after a write reuses the unchanged documents of the one before, and equals a
full read of the index: same rows, same order, same vectors."""

from __future__ import annotations

import os
import sqlite3
from unittest.mock import patch

import numpy as np
import pytest

from index import arrays
from index.chunking import ChunkSettings
from index.embedding import HashEmbedder
from index.errors import IndexCorruptError
from index.indexer import Indexer
from index.records import Document
from index.snapshot import Snapshot
from index.store import DB_NAME, IndexStore


def _doc(i: int, tag: str = "") -> Document:
    sentences = " ".join(f"Sentence {j} of article {i} {tag} mentions topic {i * j}." for j in range(1 + i % 7))
    return Document(f"doc-{i:03d}", sentences, f"Title {i}", published="2022-06-1" + str(i % 10))


def _indexer(path, nlp=None) -> Indexer:
    return Indexer(path, HashEmbedder(), ChunkSettings(max_tokens=24, overlap_tokens=6), nlp=nlp)


def assert_same(a: Snapshot, b: Snapshot) -> None:
    assert a.documents == b.documents and a.hashes == b.hashes and a.generation == b.generation
    assert a.chunk_doc == b.chunk_doc and a.sent_doc == b.sent_doc
    for name in ("chunk_span", "chunk_sent", "chunk_vectors", "sent_span", "sent_vectors"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize(
    "change",
    [
        lambda ix: ix.run([_doc(5, "changed")], progress=False),  # replaced in the middle
        lambda ix: ix.run([_doc(100), _doc(-1 % 1000)], progress=False),  # added at both ends
        lambda ix: ix.remove(["doc-000", "doc-007", "doc-019"]),  # removed, first one included
        lambda ix: ix.run([_doc(i, "v2") for i in range(15)], progress=False),  # most changed
        lambda ix: ix.remove([f"doc-{i:03d}" for i in range(20)]),  # all removed
    ],
)
def test_incremental_snapshot_equals_a_full_read(tmp_path, change):
    indexer = _indexer(tmp_path)
    indexer.run([_doc(i) for i in range(20)], progress=False)
    store = IndexStore.open(tmp_path)
    before = store.snapshot()
    change(indexer)
    assert_same(store.snapshot(base=before), store.snapshot())
    # Chained: a second write on top of the incremental snapshot.
    later = store.snapshot(base=before)
    indexer.run([_doc(3, "again")], progress=False)
    assert_same(store.snapshot(base=later), store.snapshot())
    store.close()


def test_doc_rows_cover_each_document(tmp_path):
    _indexer(tmp_path).run([_doc(i) for i in range(10)], progress=False)
    snap = IndexStore.open(tmp_path).snapshot()
    for doc_id, (c0, c1, s0, s1) in snap.doc_rows.items():
        assert set(snap.chunk_doc[c0:c1]) == {doc_id} and set(snap.sent_doc[s0:s1]) == {doc_id}
    assert sum(c1 - c0 for c0, c1, _, _ in snap.doc_rows.values()) == len(snap.chunk_doc)


def test_a_snapshot_without_hashes_is_not_reused(tmp_path):
    _indexer(tmp_path).run([_doc(i) for i in range(5)], progress=False)
    store = IndexStore.open(tmp_path)
    full = store.snapshot()
    stale = Snapshot(**{**full.__dict__, "hashes": {}, "chunk_vectors": full.chunk_vectors * 0})
    stale.__dict__.pop("doc_rows", None)
    assert_same(store.snapshot(base=stale), full)


def test_unchanged_documents_are_not_read_again(tmp_path):
    indexer = _indexer(tmp_path)
    indexer.run([_doc(i) for i in range(10)], progress=False)
    store = IndexStore.open(tmp_path)
    before = store.snapshot()
    indexer.run([_doc(4, "changed")], progress=False)
    after = store.snapshot(base=before)
    assert after.documents["doc-003"] is before.documents["doc-003"]
    assert after.documents["doc-004"] is not before.documents["doc-004"]


def test_streamed_arrays_are_the_files_a_full_snapshot_writes(tmp_path, nlp):
    """A build writes its serving arrays straight from the database (never holding the whole
    snapshot): byte for byte what saving a full read writes, and they map back to that read."""
    index_dir, other = tmp_path / "idx", tmp_path / "from-snapshot"
    other.mkdir()
    indexer = _indexer(index_dir, nlp)
    # Enough sentences for several fetches (_BATCH rows each), and a document with no chunk rows.
    with patch("index.snapshot._BATCH", 7):
        indexer.run([_doc(i) for i in range(12)] + [Document("empty", " ", "Blank")],
                    progress=False, save_arrays=True)
    store = IndexStore.open(index_dir)
    full = store.snapshot(cache=False)
    assert len(full.sent_doc) > 21 and len(full.sent_tokens) > 0
    arrays.save(other, full)
    written = sorted(p.name for p in (index_dir / arrays.CACHE_DIR).iterdir())
    assert written == sorted(p.name for p in (other / arrays.CACHE_DIR).iterdir())
    for name in written:
        assert (index_dir / arrays.CACHE_DIR / name).read_bytes() == (other / arrays.CACHE_DIR / name).read_bytes(), name
    mapped = store.snapshot()
    assert mapped.cache_dir == index_dir / arrays.CACHE_DIR
    assert_same(mapped, full)
    np.testing.assert_array_equal(mapped.sent_tokens, full.sent_tokens)
    np.testing.assert_array_equal(mapped.sent_tok, full.sent_tok)
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".arrays")]
    store.close()


def test_a_damaged_row_stops_the_arrays_and_leaves_nothing_half_written(tmp_path, nlp):
    indexer = _indexer(tmp_path, nlp)
    indexer.run([_doc(i) for i in range(4)], progress=False)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("UPDATE sentences SET tokens = x'010203' WHERE rowid = (SELECT MAX(rowid) FROM sentences)")
    store = IndexStore.open(tmp_path)
    with pytest.raises(IndexCorruptError):
        store.save_arrays()
    assert not [p for p in tmp_path.iterdir() if "arrays" in p.name]
    store.close()


def test_an_empty_index_streams_the_arrays_a_full_read_saves(tmp_path):
    index_dir, other = tmp_path / "idx", tmp_path / "from-snapshot"
    other.mkdir()
    store = IndexStore.create(index_dir, _indexer(index_dir).wanted_manifest())
    assert store.save_arrays() == index_dir / arrays.CACHE_DIR
    arrays.save(other, store.snapshot(cache=False))
    for path in (index_dir / arrays.CACHE_DIR).iterdir():
        assert path.read_bytes() == (other / arrays.CACHE_DIR / path.name).read_bytes(), path.name
    store.close()


def test_a_folder_left_by_a_killed_refresh_does_not_stop_the_next(tmp_path, nlp):
    """The old arrays are moved aside before the new ones go in; a run killed between the two
    left that folder behind, under a name the next run (same pid in a container) must not need."""
    indexer = _indexer(tmp_path, nlp)
    indexer.run([_doc(i) for i in range(3)], progress=False, save_arrays=True)
    (tmp_path / f".arrays-old-{os.getpid()}" / "leftover").mkdir(parents=True)
    indexer.run([_doc(i) for i in range(5)], progress=False, save_arrays=True)
    store = IndexStore.open(tmp_path)
    mapped = store.snapshot()
    assert mapped.cache_dir == tmp_path / arrays.CACHE_DIR and len(mapped.documents) == 5
    store.close()


def test_a_save_killed_mid_write_is_cleared_by_the_next_and_a_live_one_is_not(tmp_path, nlp):
    indexer = _indexer(tmp_path, nlp)
    indexer.run([_doc(i) for i in range(3)], progress=False)
    gone = 2**22 + 4321  # above Linux's largest pid: no such process
    abandoned = [tmp_path / f".arrays-{gone}-x1y2", tmp_path / f".arrays-old-{gone}-z3"]
    live = tmp_path / f".arrays-{os.getpid()}-inprogress"  # a worker of this process, saving now
    for path in [*abandoned, live]:
        path.mkdir()
        (path / "sent_vectors.npy").write_bytes(b"\0" * 1024)
    store = IndexStore.open(tmp_path)
    assert store.save_arrays() == tmp_path / arrays.CACHE_DIR
    assert not any(p.exists() for p in abandoned) and live.is_dir()
    store.close()
