"""kill -9 at any moment keeps every acknowledged write, and the index loads and answers.

Three ways in: a server killed while clients POST documents (and once while it builds its
index at start-up), ``Indexer.run`` killed at several batch positions, and a create cut short.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from eval.bench_load import free_port
from index.embedding import HashEmbedder
from index.errors import IndexNotFoundError
from index.indexer import Indexer
from index.manifest import Manifest
from index.records import Document
from index.store import DB_NAME, NEW_DB_NAME, IndexStore
from service.citations import verify
from service.config import Settings
from service.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
KEY = {"X-API-Key": "k"}
# Each round restarts a process (~2-3 s of imports), so the rounds are few, the points random.
WRITE_ROUNDS = 4
INDEXER_KILL_POINTS = (0, 2, 7, 13)  # batches acknowledged before the kill (of 15)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------ server

class Server:
    """``sourced serve`` in a subprocess, on a loopback port, killed with SIGKILL."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", self.url.rsplit(":", 1)[1]],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_line(self, prefix: str) -> None:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return
        raise AssertionError(f"the server exited with {self.proc.wait()} before {prefix!r}")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server was not ready in time")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()


class Writer(threading.Thread):
    """POSTs documents one after another (new ids and replacements) until the server dies."""

    def __init__(self, url: str, acked: dict[str, str], seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.acked, self.rng = url, acked, random.Random(seed)
        self.pending: tuple[str, str] | None = None  # sent, not acknowledged: may or may not be in
        self.acks = 0
        self.seed = seed
        self.refused: str | None = None  # a response that was neither a success nor a dead server
        self.first_ack = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for n in range(10_000):
                known = sorted(self.acked)
                doc_id = self.rng.choice(known) if known and self.rng.random() < 0.4 else f"w{self.seed}-{n}"
                text = (f"Entry {doc_id} write W{self.seed}x{n}: the team counted {n} gulls near pier "
                        f"{n % 7}. The count was checked twice.")
                self.pending = (doc_id, text)
                try:
                    r = client.post("/documents", json={"doc_id": doc_id, "title": f"Entry {doc_id}",
                                                        "text": text}, headers=KEY)
                except httpx.HTTPError:
                    return  # killed mid-request: this write stays pending
                if r.status_code not in (200, 201):
                    self.refused = f"{r.status_code}: {r.text}"
                    return
                self.acked[doc_id] = text  # acknowledged: it must survive anything from now on
                self.pending = None
                self.acks += 1
                self.first_ack.set()


def check_server(url: str, acked: dict[str, str], pending: tuple[str, str] | None) -> dict[str, str]:
    """Every acknowledged write is there, byte for byte; returns the state actually found."""
    found = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        for doc_id, text in acked.items():
            r = client.get(f"/documents/{doc_id}")
            assert r.status_code == 200, f"acknowledged {doc_id} is missing: {r.text}"
            got = r.json()["text"]
            allowed = {sha(text)} | ({sha(pending[1])} if pending and pending[0] == doc_id else set())
            assert sha(got) in allowed, f"{doc_id}: not the acknowledged text"
            found[doc_id] = got
        if pending and pending[0] not in acked:
            r = client.get(f"/documents/{pending[0]}")
            assert r.status_code in (200, 404) and (r.status_code == 404 or r.json()["text"] == pending[1])
            if r.status_code == 200:
                found[pending[0]] = pending[1]
        answer = client.post("/ask", json={"question": "How many gulls were counted near pier 3?"})
        assert answer.status_code == 200, answer.text
        for c in answer.json()["citations"]:
            text = client.get(f"/documents/{c['doc_id']}").json()["text"]
            assert text[c["char_start"] : c["char_end"]] == c["quote"]
    return found


def test_acknowledged_http_writes_survive_kill_9(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):  # enough that building the index at first start takes a moment
        (corpus / f"a{i}.md").write_text(f"# Article {i}\n\nThe harbour had {i} boats on Monday.\n")
    env = {"SOURCED_EMBEDDER": "hash", "SOURCED_READER": "fake", "SOURCED_API_KEY": "k", "SOURCED_INDEX_DIR": str(tmp_path / "idx"),
           "SOURCED_CORPUS_DIR": str(corpus), "SOURCED_RATE_LIMIT_PER_MINUTE": "0"}
    rng = random.Random(20240211)

    # Kill point 1: while the first start builds the index from the corpus.
    server = Server(env)
    server.wait_line("loading the index")
    time.sleep(rng.uniform(0.0, 0.4))
    server.kill()

    acked: dict[str, str] = {}
    pending: tuple[str, str] | None = None
    verified = writes = 0  # document checks after restarts; writes acknowledged
    for round_ in range(WRITE_ROUNDS + 1):
        server = Server(env)
        server.wait_ready()
        found = check_server(server.url, acked, pending)
        verified += len(acked)
        acked.update(found)  # a pending write that did land is now part of the state
        pending = None
        if round_ == WRITE_ROUNDS:
            server.kill()
            break
        writer = Writer(server.url, acked, seed=round_)
        writer.start()
        writer.first_ack.wait(timeout=30)  # a busy machine may be slow to serve the first one
        time.sleep(rng.uniform(0.0, 0.8))
        server.kill()  # Kill points 2..: at a random moment of a stream of writes
        writer.join(timeout=30)
        assert writer.refused is None, writer.refused
        assert writer.acks > 0, "the writer never got a write in before the kill"
        pending, writes = writer.pending, writes + writer.acks
    print(f"{WRITE_ROUNDS + 1} kill points; {writes} acknowledged writes, {verified} document "
          "checks after restarts")
    assert verified >= writes > 0


# ------------------------------------------------------------------------------------ indexer

INDEX_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from index.chunking import ChunkSettings
    from index.embedding import HashEmbedder
    from index.indexer import Indexer
    from index.records import Document
    from index.store import IndexStore

    put = IndexStore.put

    def acknowledged_put(self, items):
        items = list(items)
        n = put(self, items)  # returns once the transaction has committed
        print("committed", *(item.document.doc_id for item in items), flush=True)
        return n

    class SlowEmbedder(HashEmbedder):
        def embed(self, texts, progress=False):
            time.sleep(0.01)
            return super().embed(texts)

    IndexStore.put = acknowledged_put
    tag = sys.argv[2]
    docs = [Document(f"doc-{i}", f"Article {i} from run {tag}. The team counted {i} gulls near "
                     f"pier {i % 7}.", f"T{i}") for i in range(60)]
    print("start", flush=True)
    Indexer(Path(sys.argv[1]), SlowEmbedder(), ChunkSettings(32, 8), batch_docs=4).run(docs, progress=False)
    print("done", flush=True)
    """
)


def indexer_text(i: int, tag: str) -> str:
    return f"Article {i} from run {tag}. The team counted {i} gulls near pier {i % 7}."


def run_indexer_until(index_dir: Path, tag: str, batches: int, delay: float) -> list[str]:
    """Run the indexer, SIGKILL it ``delay`` s after its ``batches``-th commit; the acked ids."""
    proc = subprocess.Popen([sys.executable, "-c", INDEX_SCRIPT, str(index_dir), tag], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    acked: list[str] = []
    for _ in range(batches):
        line = proc.stdout.readline().split()
        if not line or line[0] != "committed":
            break
        acked += line[1:]
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # commits printed before the kill landed count as acknowledged too
        if line.startswith("committed"):
            acked += line.split()[1:]
    proc.stdout.close()
    return acked


def check_index(index_dir: Path, expected: dict[str, set[str | None]], nlp) -> int:
    """Loads, answers, and each document holds its acknowledged text (or a later, unacked one)."""
    try:
        store = IndexStore.open(index_dir)
    except IndexNotFoundError:
        assert not any(len(v) == 1 for v in expected.values()), "acknowledged writes but no index"
        return 0
    snap = store.snapshot()
    counts = store.count()
    store.close()
    assert len(snap.chunk_doc) == counts["chunks"] and len(snap.sent_doc) == counts["sentences"]
    verified = 0
    for doc_id, texts in expected.items():
        doc = snap.documents.get(doc_id)
        if None in texts and doc is None:
            continue
        assert doc is not None and doc.text in texts, f"{doc_id}: {doc and doc.text!r} not in {texts}"
        verified += len(texts) == 1
    settings = Settings(index_dir=index_dir, embedder="hash", reader="fake", chunk_tokens=32, chunk_overlap=8)
    engine = Engine(settings, nlp=nlp)
    engine.start()
    answer = engine.ask("How many gulls were counted near pier 3?")
    for c in answer.citations:
        assert verify(c, engine.document(c.doc_id), answer.answer)
    engine.close()
    return verified


def test_kill_9_at_several_batch_positions_of_indexer_run(tmp_path: Path, nlp):
    rng = random.Random(7)
    # Each doc's possible texts: {acknowledged} once acknowledged, plus in-flight ones after it.
    expected: dict[str, set[str | None]] = {f"doc-{i}": {None} for i in range(60)}  # None: absent
    verified = 0
    for run, batches in enumerate(INDEXER_KILL_POINTS):
        tag = f"r{run}"
        acked = set(run_indexer_until(tmp_path, tag, batches, rng.uniform(0.0, 0.015)))
        assert len(acked) >= 4 * batches
        for i in range(60):
            doc_id = f"doc-{i}"
            new = indexer_text(i, tag)
            expected[doc_id] = {new} if doc_id in acked else expected[doc_id] | {new}
        verified += check_index(tmp_path, expected, nlp)
    # (Finishing an interrupted run afterwards is tests/test_crash.py's job.)
    print(f"{len(INDEXER_KILL_POINTS)} indexer kill points; {verified} acknowledged documents verified")


# ------------------------------------------------------------------------------------ create

def test_a_create_cut_short_leaves_no_half_made_index(tmp_path: Path, monkeypatch):
    """Before, each CREATE TABLE committed alone: tables without a manifest read as damaged."""
    indexer = Indexer(tmp_path, HashEmbedder())
    (tmp_path / NEW_DB_NAME).write_bytes(b"left by a create that was killed")

    def boom(self, **kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:
        m.setattr(Manifest, "model_dump_json", boom)
        with pytest.raises(RuntimeError):
            IndexStore.create(tmp_path, indexer.wanted_manifest())
    assert not IndexStore.exists(tmp_path) and not (tmp_path / DB_NAME).exists()
    indexer.run([Document("a", "The team counted 3 gulls.", "A")], progress=False)
    store = IndexStore.open(tmp_path)
    assert store.count()["documents"] == 1 and store.manifest.model == "hash-embedder"
    store.close()
