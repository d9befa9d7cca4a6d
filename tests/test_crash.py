"""kill -9 in the middle of indexing leaves a loadable, consistent index."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np

from index.chunking import ChunkSettings, TokenChunker
from index.embedding import HashEmbedder
from index.store import DB_NAME, IndexStore

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from index.chunking import ChunkSettings
    from index.embedding import HashEmbedder
    from index.indexer import Indexer
    from index.records import Document

    class SlowEmbedder(HashEmbedder):
        def embed(self, texts, progress=False):
            time.sleep(0.05)
            return super().embed(texts)

    docs = [Document(f"doc-{i}", f"Article {i} {sys.argv[2]}. More text about {i}.", f"T{i}") for i in range(400)]
    print("start", flush=True)
    Indexer(Path(sys.argv[1]), SlowEmbedder(), ChunkSettings(32, 8), batch_docs=4).run(docs, progress=False)
    print("done", flush=True)
    """
)


def _run(index_dir, tag):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(index_dir), tag], stdout=subprocess.PIPE, text=True
    )


def _check(index_dir):
    store = IndexStore.open(index_dir)
    snap = store.snapshot()
    counts = store.count()
    assert len(snap.chunk_doc) == counts["chunks"] and len(snap.sent_doc) == counts["sentences"]
    chunker, embedder = TokenChunker(ChunkSettings(32, 8)), HashEmbedder()
    for doc_id, doc in snap.documents.items():
        assert doc.text.split()[2].rstrip(".") in ("v1", "v2")
        # Each document is wholly old or wholly new: its stored sentence spans are the ones its
        # own text splits into, and their vectors are those of the same texts.
        rows = [j for j, d in enumerate(snap.sent_doc) if d == doc_id]
        expected = [x.text for x in chunker.sentences(doc)]
        assert [snap.sentence_text(j) for j in rows] == expected
        assert np.allclose(snap.sent_vectors[rows], embedder.embed(expected), atol=1e-5)
    store.close()
    return counts["documents"]


def _wait_for_commits(index_dir, docs, timeout=60.0):
    """Poll the database read-only until ``docs`` documents are committed (not a fixed sleep:
    on a loaded machine the writer may not have committed anything yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True, timeout=1) as db:
                if db.execute("SELECT count(*) FROM documents").fetchone()[0] >= docs:
                    return
        except sqlite3.Error:
            pass  # not created yet
        time.sleep(0.05)
    raise AssertionError(f"the indexer did not commit {docs} documents in {timeout:.0f} s")


def test_kill_9_during_indexing_keeps_previous_batches(tmp_path):
    seen = []
    for round_, tag in enumerate(["v1", "v2", "v1"]):
        proc = _run(tmp_path, tag)
        assert proc.stdout.readline().strip() == "start"
        _wait_for_commits(tmp_path, 8 * (round_ + 1))  # a few batches in, mid-run
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append(_check(tmp_path))
    assert 0 < seen[0] < 400  # it really died mid-run, with batches committed
    # Finishing the job afterwards completes it without duplicates.
    proc = _run(tmp_path, "v1")
    assert proc.wait(timeout=120) == 0
    assert _check(tmp_path) == 400
