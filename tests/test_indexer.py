from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from index.chunking import ChunkSettings
from index.embedding import HashEmbedder
from index.errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from index.indexer import Indexer, rebuild
from index.records import Document
from index.store import DB_NAME, IndexStore


def _docs(n: int, tag: str = "") -> list[Document]:
    return [
        Document(f"doc-{i}", f"Article {i} {tag}. It has two sentences about topic {i}.", f"Title {i}")
        for i in range(n)
    ]


def _indexer(path: Path, **kw) -> Indexer:
    return Indexer(path, HashEmbedder(), ChunkSettings(max_tokens=32, overlap_tokens=8), **kw)


def _assert_offsets(store: IndexStore) -> None:
    snap = store.snapshot()
    for i, doc_id in enumerate(snap.chunk_doc):
        s, e = snap.chunk_span[i]
        assert 0 <= s < e <= len(snap.documents[doc_id].text)
    for j in range(len(snap.sent_doc)):
        text = snap.sentence_text(j)
        assert text and text == text.strip()
    for i, (a, b) in enumerate(snap.chunk_sent):
        # A chunk's sentences belong to its own document and lie inside its span.
        assert all(snap.sent_doc[j] == snap.chunk_doc[i] for j in range(a, b))
        assert snap.sent_span[a][0] == snap.chunk_span[i][0] and snap.sent_span[b - 1][1] == snap.chunk_span[i][1]
    assert snap.chunk_vectors.shape[0] == len(snap.chunk_doc)
    assert snap.sent_vectors.shape[0] == len(snap.sent_doc)


def test_indexing_twice_adds_nothing(tmp_path):
    first = _indexer(tmp_path).run(_docs(5), progress=False)
    second = _indexer(tmp_path).run(_docs(5), progress=False)
    assert len(first.added) == 5 and second.changed == 0 and second.unchanged == 5
    store = IndexStore.open(tmp_path)
    assert store.count() == {"documents": 5, "chunks": first.chunks, "sentences": first.sentences}
    _assert_offsets(store)


def test_changed_document_is_replaced_not_duplicated(tmp_path):
    _indexer(tmp_path).run(_docs(3), progress=False)
    changed = _docs(3)
    changed[1] = Document("doc-1", "Entirely new text. With new facts.", "New title")
    report = _indexer(tmp_path).run(changed, progress=False)
    assert report.replaced == ["doc-1"] and report.unchanged == 2
    store = IndexStore.open(tmp_path)
    assert store.count()["documents"] == 3
    assert store.get_document("doc-1").title == "New title"
    snap = store.snapshot()
    assert [snap.sentence_text(j) for j, d in enumerate(snap.sent_doc) if d == "doc-1"] == [
        "Entirely new text.", "With new facts."
    ]


def test_remove_and_prune(tmp_path):
    _indexer(tmp_path).run(_docs(4), progress=False)
    assert _indexer(tmp_path).remove(["doc-0", "nope"]) == ["nope"]
    report = _indexer(tmp_path).run(_docs(4)[2:], prune=True, progress=False)
    assert report.removed == ["doc-1"]
    store = IndexStore.open(tmp_path)
    assert sorted(store.content_hashes()) == ["doc-2", "doc-3"]
    assert len(store.snapshot().chunk_doc) == store.count()["chunks"]


def test_other_model_is_refused_with_a_way_out(tmp_path):
    _indexer(tmp_path).run(_docs(1), progress=False)
    other = Indexer(tmp_path, HashEmbedder(dim=32, model_id="other-model"), ChunkSettings(32, 8))
    with pytest.raises(IndexMismatchError, match="model: index has 'hash-embedder', asked for 'other-model'.*--rebuild"):
        other.run(_docs(1), progress=False)


def test_other_chunk_settings_are_refused(tmp_path):
    _indexer(tmp_path).run(_docs(1), progress=False)
    other = Indexer(tmp_path, HashEmbedder(), ChunkSettings(64, 8))
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        other.open_store()


def test_rebuild_swaps_in_a_complete_index(tmp_path):
    idx = tmp_path / "idx"
    _indexer(idx).run(_docs(3), progress=False)
    rebuild(Indexer(idx, HashEmbedder(dim=32, model_id="new"), ChunkSettings(32, 8)), _docs(2), progress=False)
    store = IndexStore.open(idx)
    assert store.manifest.model == "new" and store.count()["documents"] == 2
    assert not (tmp_path / "idx.rebuild").exists() and not (tmp_path / "idx.old").exists()


def test_a_write_during_a_rebuild_is_refused_not_lost(tmp_path):
    idx = tmp_path / "idx"
    _indexer(idx).run(_docs(3), progress=False)
    refused = []

    class WriteMidway(HashEmbedder):
        """Another writer tries its luck while the rebuild is embedding."""

        def embed(self, texts, progress=False):
            if not refused:
                with pytest.raises(IndexBusyError) as exc:
                    _indexer(idx).run([Document("late", "Written during the rebuild.", "Late")], progress=False)
                refused.append(exc.value)
            return super().embed(texts)

    rebuild(Indexer(idx, WriteMidway(), ChunkSettings(32, 8)), _docs(2), progress=False)
    assert refused and "Another process is writing" in refused[0].message


def test_a_store_opened_before_a_rebuild_refuses_to_write_after_it(tmp_path):
    idx = tmp_path / "idx"
    _indexer(idx).run(_docs(3), progress=False)
    stale = IndexStore.open(idx)
    rebuild(_indexer(idx), _docs(2), progress=False)
    with pytest.raises(IndexBusyError, match="just rebuilt"), stale.writer():
        pass
    stale.close()


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFoundError, match="sourced index"):
        IndexStore.open(tmp_path / "none")


def test_damaged_index_is_refused(tmp_path):
    _indexer(tmp_path).run(_docs(20), progress=False)
    db = tmp_path / DB_NAME
    db.write_bytes(db.read_bytes()[:2048] + b"\x00garbage" * 64)
    with pytest.raises(IndexCorruptError, match="rebuild"):
        IndexStore.open(tmp_path)


def test_garbage_file_is_refused(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorruptError, match="damaged"):
        IndexStore.open(tmp_path)


def test_an_earlier_snapshot_is_unaffected_by_a_later_commit(tmp_path):
    # Concurrent readers and writers over HTTP: tests/test_concurrency.py.
    _indexer(tmp_path).run(_docs(3), progress=False)
    reader = IndexStore.open(tmp_path)
    before = reader.snapshot()
    _indexer(tmp_path).run(_docs(3, tag="v2"), progress=False)
    after = reader.snapshot()
    assert after.generation > before.generation
    assert all("v2" in d.text for d in after.documents.values())
    assert not any("v2" in d.text for d in before.documents.values())


def test_wal_file_committed_data_survives_reopen(tmp_path):
    _indexer(tmp_path).run(_docs(2), progress=False)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 2


def test_damage_after_a_verified_open_is_still_refused(tmp_path):
    # The page check is skipped for a file this process verified, only while it is unchanged.
    _indexer(tmp_path).run(_docs(20), progress=False)
    IndexStore.open(tmp_path).close()
    IndexStore.open(tmp_path).close()  # unchanged: opened without the page check
    db = tmp_path / DB_NAME
    db.write_bytes(db.read_bytes()[:4096] + b"\x00garbage" * 512)
    with pytest.raises(IndexCorruptError):
        IndexStore.open(tmp_path)


def test_documents_processed_elsewhere_are_committed_as_a_local_run_commits(tmp_path, nlp):
    """``run(process=...)``: what index/distributed.py plugs in; here, a Processor in this
    process, failing once half way: the run that follows commits the rest, no more."""
    from index.pipeline import Processor
    from tests.conftest import assert_same_index

    docs = _docs(7)
    _indexer(tmp_path / "local", batch_docs=2, nlp=nlp).run(docs, progress=False)
    elsewhere = _indexer(tmp_path / "elsewhere", batch_docs=2, nlp=nlp)
    processor = Processor(HashEmbedder(), elsewhere.chunker.settings, nlp)
    seen: list[list[str]] = []

    def process(todo, fail_after=None):
        seen.append([d.doc_id for d in todo])
        for i in range(0, len(todo), 2):
            if fail_after is not None and i >= fail_after:
                raise RuntimeError("a worker died")
            yield processor.process(todo[i : i + 2])

    with pytest.raises(RuntimeError):
        elsewhere.run(docs, progress=False, process=lambda todo: process(todo, fail_after=4))
    report = elsewhere.run(docs, progress=False, process=process)
    assert seen[1] == [d.doc_id for d in docs[4:]] and report.unchanged == 4
    assert_same_index(tmp_path / "local", tmp_path / "elsewhere", atol=0)
