"""Readers and a writer at the same time: every answer comes from one state of the index.

The writer gives each write a revision number and puts the marker ``R<rev>`` in every
sentence, with lengths that differ by revision. A quote or passage therefore names the
revision it came from, and its offsets fit that revision's text only. An answer is
consistent when one prefix of the writer's history explains every document it shows.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from eval.bench_load import load_questions, local_server, run_load, server_env
from index.embedding import HashEmbedder
from index.errors import DocumentNotFoundError
from index.indexer import Indexer, rebuild
from index.records import Document
from service.api import create_app
from service.config import Settings
from service.engine import Engine

KEY = {"X-API-Key": "k"}
BIRDS = ("gulls", "herons", "terns", "geese")
IDS = tuple(f"survey-{i}" for i in range(4))
MARKER = re.compile(r"\bR(\d+)\b")
WRITE_SECONDS = 3.0
BASE_ARTICLES = {
    "harbour.md": "# Harbour bridge reopens\n\nThe harbour bridge reopened on Monday after "
    "repairs that cost 12 million euros.\n",
    "library.md": "# Springfield library vote\n\nThe Springfield council voted on Tuesday to "
    "approve a library budget of 4 million dollars.\n",
}


def article(doc_id: str, rev: int) -> str:
    """Six sentences, each naming ``rev``; the padding makes offsets differ between revisions."""
    pad = " in the wind" * (rev % 3)
    return "\n\n".join(
        f"Survey {doc_id} revision R{rev} counted {rev * 10 + i} {BIRDS[i % 4]} near pier {i}{pad}."
        for i in range(6)
    )


def question(rng: random.Random) -> str:
    pier = rng.randrange(6)
    return f"How many {BIRDS[pier % 4]} were counted near pier {pier}?"


def revision(text: str) -> int:
    """The revision a span of text comes from (0: a corpus article, never rewritten)."""
    revs = {int(m) for m in MARKER.findall(text)}
    assert len(revs) <= 1, f"one span mixes revisions {revs}: {text!r}"
    return revs.pop() if revs else 0


class History:
    """The writer's operations in order. State ``k`` is the index after the first ``k``."""

    def __init__(self) -> None:
        self.ops: list[tuple[str, int | None]] = []  # (doc_id, revision or None for a delete)

    def record(self, doc_id: str, rev: int | None) -> None:
        self.ops.append((doc_id, rev))

    def states(self, doc_id: str, rev: int) -> tuple[int, float]:
        """The states ``[first, end)`` in which ``doc_id`` has revision ``rev``."""
        if rev == 0:
            return 0, math.inf
        first = self.ops.index((doc_id, rev)) + 1
        later = [i for i, (d, _) in enumerate(self.ops[first:], first) if d == doc_id]
        return first, (later[0] + 1 if later else math.inf)

    def assert_one_state(self, seen: dict[str, int]) -> None:
        spans = [self.states(d, r) for d, r in seen.items()]
        assert max(s for s, _ in spans) < min(e for _, e in spans), f"a mix of states: {seen}"


def check_answer(answer: dict, text_of: Callable[[str, int], str], history: History) -> int:
    """Every quote and passage is its revision's text at its offsets; one state explains all.

    Returns the number of citations checked.
    """
    seen: dict[str, int] = {}
    spans = [(c["doc_id"], c["quote"], c["char_start"], c["char_end"]) for c in answer["citations"]]
    spans += [(p["doc_id"], p["text"], p["char_start"], p["char_end"]) for p in answer["passages"]]
    for doc_id, quote, start, end in spans:
        rev = revision(quote)
        assert seen.setdefault(doc_id, rev) == rev, f"{doc_id} in two revisions in one answer"
        assert text_of(doc_id, rev)[start:end] == quote
    for c in answer["citations"]:
        text = text_of(c["doc_id"], revision(c["quote"]))
        assert text[c["answer_start"] : c["answer_end"]] == answer["answer"]
    history.assert_one_state(seen)
    return len(answer["citations"])


def write_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in BASE_ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(embedder="hash", reader="fake", index_dir=tmp_path / "idx", corpus_dir=write_corpus(tmp_path), api_key="k",
                    rate_limit_per_minute=0)  # load, not the limiter, is under test


@pytest.fixture
def engine(settings: Settings, nlp) -> Iterator[Engine]:
    eng = Engine(settings, nlp=nlp)
    eng.start(build_if_missing=True, progress=False)
    yield eng
    eng.close()


def text_lookup(base: dict[str, str]) -> Callable[[str, int], str]:
    return lambda doc_id, rev: base[doc_id] if rev == 0 else article(doc_id, rev)


def check_run(answers: list[dict], reads: list[tuple[str, str]], base: dict[str, str],
              history: History, writes: int) -> None:
    """Every answer and document read came from one state, and the run did real work."""
    text_of = text_lookup(base)
    cited = sum(check_answer(a, text_of, history) for a in answers)
    for doc_id, text in reads:
        assert text == article(doc_id, revision(text))
    assert writes >= 10 and len(answers) >= 20 and cited >= 10, (writes, len(answers), cited)


def run_writer(write: Callable[[str, int], None], delete: Callable[[str], None], history: History,
               seconds: float) -> int:
    """Add, replace and delete the survey documents for ``seconds``; returns the operations."""
    rng, present, rev = random.Random(7), set(), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        doc_id = rng.choice(IDS)
        if doc_id in present and rng.random() < 0.3:
            delete(doc_id)
            present.discard(doc_id)
            history.record(doc_id, None)
        else:
            rev += 1
            write(doc_id, rev)
            present.add(doc_id)
            history.record(doc_id, rev)
    return len(history.ops)


@contextmanager
def readers(n: int, read: Callable[[random.Random], None]) -> Iterator[list[BaseException]]:
    """``n`` threads calling ``read`` until the block ends; yields the errors they hit."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                read(rng)
            except BaseException as exc:  # every failure, assertions included, fails the test
                errors.append(exc)
                return

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        yield errors
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


# ------------------------------------------------------------------------------------ engine

def test_engine_answers_come_from_one_state_while_documents_change(engine: Engine):
    base = {doc_id: engine.document(doc_id).text for doc_id in ("harbour", "library")}
    history = History()
    answers: list[dict] = []
    reads: list[tuple[str, str]] = []

    def read(rng: random.Random) -> None:
        answers.append(engine.ask(question(rng)).model_dump())
        doc_id = rng.choice(IDS)
        try:
            reads.append((doc_id, engine.document(doc_id).text))
        except DocumentNotFoundError:
            pass  # deleted, or not written yet

    def write(doc_id: str, rev: int) -> None:
        engine.index_documents([Document(doc_id, article(doc_id, rev), f"Bird survey {doc_id}")])

    with readers(4, read) as errors:
        writes = run_writer(write, lambda d: engine.remove([d]), history, WRITE_SECONDS)
    assert not errors, errors[:3]
    check_run(answers, reads, base, history, writes)
    # The final state is the writer's last one.
    final = {d: r for d, r in history.ops}
    counts = engine.counts()
    assert counts["documents"] == len(base) + sum(r is not None for r in final.values())


def test_concurrent_writes_to_one_id_are_serialised(engine: Engine):
    for round_ in range(6):
        barrier = threading.Barrier(2)
        texts = [article("same", 2 * round_ + 1), article("same", 2 * round_ + 2)]
        failures: list[BaseException] = []

        def put(text: str) -> None:
            barrier.wait()
            try:
                engine.index_documents([Document("same", text, "Same id")])
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=put, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        final = engine.document("same").text
        assert final in texts
        snap = engine.answerer.retriever.snapshot
        # Exactly one copy: its six sentences, all from the text that won.
        sentences = [snap.sentence_text(j) for j, d in enumerate(snap.sent_doc) if d == "same"]
        assert len(sentences) == 6 and all(s in final for s in sentences)
        assert sum(c == "same" for c in snap.chunk_doc) >= 1
        assert all(revision(snap.chunk_text(i)) == revision(final)
                   for i, d in enumerate(snap.chunk_doc) if d == "same")


def test_a_rebuild_by_another_process_is_picked_up(engine: Engine, settings: Settings):
    engine.index_documents([Document("before", "Old text that goes away.", "Before")])
    assert engine.document("before")  # the engine has read the old database file
    # `sourced index --rebuild` swaps a new database file in under the running server.
    indexer = Indexer(settings.index_dir, HashEmbedder(), settings.chunk_settings)
    rebuild(indexer, [Document("after", "Counted 5 gulls near pier 1.", "After")], progress=False)
    assert engine.document("after").text == "Counted 5 gulls near pier 1."
    with pytest.raises(DocumentNotFoundError):
        engine.document("before")
    engine.index_documents([Document("later", "Counted 7 terns near pier 2.", "Later")])
    assert engine.document("later").text and engine.counts()["documents"] == 2


# ------------------------------------------------------------------------------------ HTTP

@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """A real uvicorn server on a loopback port: requests run concurrently in its threadpool."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_http_reads_see_one_state_and_writes_are_serialised(settings: Settings, nlp):
    engine = Engine(settings, nlp=nlp)
    with serve_in_thread(create_app(settings, engine)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        base = {d: http.get(f"/documents/{d}").json()["text"] for d in ("harbour", "library")}
        history = History()
        answers: list[dict] = []
        reads: list[tuple[str, str]] = []

        def read(rng: random.Random) -> None:  # the client is shared: httpx pools are thread-safe
            r = http.post("/ask", json={"question": question(rng)})
            assert r.status_code == 200, r.text
            answers.append(r.json())
            doc_id = rng.choice(IDS)
            r = http.get(f"/documents/{doc_id}")
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                reads.append((doc_id, r.json()["text"]))

        def write(doc_id: str, rev: int) -> None:
            body = {"doc_id": doc_id, "title": f"Bird survey {doc_id}", "text": article(doc_id, rev)}
            r = http.post("/documents", json=body, headers=KEY)
            assert r.status_code in (200, 201), r.text

        def delete(doc_id: str) -> None:
            r = http.delete(f"/documents/{doc_id}", headers=KEY)
            assert r.status_code == 204, r.text

        with readers(4, read) as errors:
            writes = run_writer(write, delete, history, WRITE_SECONDS)
        assert not errors, errors[:3]
        check_run(answers, reads, base, history, writes)

        # Two POSTs for one id at once: both succeed, one of them is what stays, once.
        for round_ in range(4):
            barrier = threading.Barrier(2)
            texts = [article("same", 1000 + 2 * round_), article("same", 1001 + 2 * round_)]
            statuses: list[int] = []

            def post(text: str) -> None:
                barrier.wait()
                body = {"doc_id": "same", "title": "Same id", "text": text}
                statuses.append(httpx.post(f"{url}/documents", json=body, headers=KEY, timeout=30).status_code)

            threads = [threading.Thread(target=post, args=(t,)) for t in texts]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(statuses) in ([200, 200], [200, 201]), statuses
            assert http.get("/documents/same").json()["text"] in texts
            listed = http.get("/documents", params={"limit": 500}).json()
            assert [d["doc_id"] for d in listed["data"]].count("same") == 1
            assert listed["count"] == len(listed["data"])
    engine.close()


# ------------------------------------------------------------------------------------ load

def test_load_of_16_clients_has_no_errors(tmp_path: Path):
    """The CI-sized run of eval/bench_load.py: a server subprocess, 16 clients, ~5 s."""
    env = server_env(tmp_path / "idx", fake=True, corpus_dir=write_corpus(tmp_path))
    questions = load_questions(Path(__file__).resolve().parents[1] / "eval" / "seed_dev.jsonl")
    with local_server(env, ready_timeout=120) as server:
        result = asyncio.run(run_load(server.url, questions, workers=16, duration=5.0))
    assert result.errors == 0, result.error_samples
    assert result.requests > 0 and set(result.statuses) == {"200"}
