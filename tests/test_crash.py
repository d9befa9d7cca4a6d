"""kill -9 in the middle of indexing leaves a loadable, consistent index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from index.store import IndexStore

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
    for doc_id, doc in snap.documents.items():
        tag = doc.text.split()[2].rstrip(".")
        # Each document is wholly old or wholly new: its sentences match its own text.
        sents = [snap.sentence_text(j) for j, d in enumerate(snap.sent_doc) if d == doc_id]
        assert sents and all(s in doc.text for s in sents) and tag in ("v1", "v2")
    store.close()
    return counts["documents"]


def test_kill_9_during_indexing_keeps_previous_batches(tmp_path):
    seen = []
    for round_, tag in enumerate(["v1", "v2", "v1"]):
        proc = _run(tmp_path, tag)
        assert proc.stdout.readline().strip() == "start"
        time.sleep(0.6 + 0.3 * round_)  # a few batches in, mid-run
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append(_check(tmp_path))
    assert 0 < seen[0] < 400  # it really died mid-run, with batches committed
    # Finishing the job afterwards completes it without duplicates.
    proc = _run(tmp_path, "v1")
    assert proc.wait(timeout=120) == 0
    assert _check(tmp_path) == 400
