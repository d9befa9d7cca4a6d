"""Does the Ray path give the single-machine path's index and answers, on real data?

    python -m eval.check_ray                  # the seed article + 200 RealTime QA articles
    python -m eval.check_ray --docs 50

Writes the articles to a JSONL file, then reads and builds the index twice with the real model:
locally, and as `sourced index --ray` does on a 2-node local cluster (index/ray_env.py: the
file read and cleaned by Ray Data tasks, the documents processed by Ray Data actors). Checks:
the same documents and problems read; every stored row equal (ids, offsets, token
rows; vectors within ``ATOL``); `sourced search --json` and the answers equal on the seed dev
questions and the RealTime QA dev questions (in their date windows); and the sharded service on
Ray Serve (2 shards x 2 replicas) answering /ask as the single engine. Prints what differs;
exits 1 if anything does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from index.store import DB_NAME

ATOL = 1e-5


def index_tables(index_dir: Path) -> dict[str, list]:
    """Every stored row of an index, vectors apart (as float32 arrays)."""
    conn = sqlite3.connect(index_dir / DB_NAME)
    try:
        docs = conn.execute("SELECT doc_id, title, url, published, source, content_hash, text"
                            " FROM documents ORDER BY doc_id").fetchall()
        chunks = conn.execute("SELECT id, doc_id, ordinal, char_start, char_end, n_tokens,"
                              " sent_start, sent_end, vector FROM chunks ORDER BY id").fetchall()
        sents = conn.execute("SELECT id, doc_id, ordinal, char_start, char_end, n_tokens, tokens,"
                             " vector FROM sentences ORDER BY id").fetchall()
    finally:
        conn.close()
    return {"documents": docs, "chunks": [r[:-1] for r in chunks],
            "sentences": [r[:-1] for r in sents],
            "chunk_vectors": [np.frombuffer(r[-1], np.float32) for r in chunks],
            "sentence_vectors": [np.frombuffer(r[-1], np.float32) for r in sents]}


def index_differences(a: Path, b: Path, atol: float = ATOL) -> list[str]:
    """What differs between two indexes: tables whose rows differ, or whose vectors differ by
    more than ``atol``. Empty when they are the same index."""
    x, y = index_tables(a), index_tables(b)
    out = [table for table in ("documents", "chunks", "sentences") if x[table] != y[table]]
    for table in ("chunk_vectors", "sentence_vectors"):
        if len(x[table]) != len(y[table]) or not all(
                np.allclose(u, v, atol=atol) for u, v in zip(x[table], y[table], strict=True)):
            out.append(table)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200, help="RealTime QA articles.")
    parser.add_argument("--questions", type=int, default=None, help="RealTime QA dev questions.")
    parser.add_argument("--reader", choices=("extractive", "fake"), default="extractive",
                        help="The reader both paths answer with (fake: retrieval only matters).")
    args = parser.parse_args()
    from eval.bench_load import DEFAULT_QUESTIONS, ROOT, free_port, load_questions
    from eval.realtimeqa import date_window, load_corpus
    from eval.realtimeqa import load_questions as rtqa_questions
    from index.distributed import RayProcess, RayRead
    from index.indexer import Indexer
    from index.loaders import load_paths
    from index.ray_env import local_cluster
    from service.config import Settings
    from service.engine import Engine, make_embedder

    asked = [(q, None) for q in load_questions(DEFAULT_QUESTIONS)]
    asked += [(q.question, date_window(q.question_date)) for q in rtqa_questions(limit=args.questions)]
    work = Path(tempfile.mkdtemp(prefix="check_ray"))
    problems: list[str] = []
    try:
        files = [ROOT / "corpus", write_jsonl(load_corpus(limit=args.docs), work / "articles.jsonl")]
        local, ray = (Settings(index_dir=work / name, reader=args.reader) for name in ("local", "ray"))
        t = time.perf_counter()
        loaded = load_paths(files)
        docs = loaded.documents
        print(f"local read: {len(docs)} documents in {time.perf_counter() - t:.1f} s")
        Indexer(local.index_dir, make_embedder(local)).run(docs, progress=False, save_arrays=True)
        print(f"local read and build: {time.perf_counter() - t:.0f} s")
        with local_cluster(nodes=2) as cluster:
            t = time.perf_counter()
            on_ray = load_paths(files, read=RayRead(progress=False))
            print(f"Ray read, 2 nodes: {time.perf_counter() - t:.1f} s")
            if on_ray != loaded:
                problems.append("reading differs: documents or problems read on Ray")
            process = RayProcess(partial(make_embedder, ray), actors=2, progress=False)
            Indexer(ray.index_dir, make_embedder(ray)).run(on_ray.documents, progress=False,
                                                            save_arrays=True, process=process)
            print(f"Ray read and build, 2 nodes: {time.perf_counter() - t:.0f} s")
            problems += [f"index: {t} differ" for t in index_differences(local.index_dir, ray.index_dir)]
            engines = [Engine(s) for s in (local, ray)]
            for engine in engines:
                engine.start()
            for question, filters in asked:
                one, two = (e.search(question, 10, filters) for e in engines)
                if one != two:
                    problems.append(f"search differs: {question}")
                if _untimed(engines[0].ask(question, filters=filters)) != _untimed(
                        engines[1].ask(question, filters=filters)):
                    problems.append(f"answer differs: {question}")
            problems += _check_sharded(engines[0], asked, free_port(), cluster)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(asked)} questions; " + ("no difference" if not problems else f"{len(problems)} differences:"))
    for problem in problems[:20]:
        print("  " + problem)
    sys.exit(1 if problems else 0)


def write_jsonl(documents, path: Path) -> Path:
    """Documents as a JSONL file that index/loaders.py reads back as the same documents."""
    with path.open("w", encoding="utf-8") as out:
        for d in documents:
            out.write(json.dumps({"id": d.doc_id, "title": d.title, "text": d.text, "url": d.url,
                                  "published": d.published, "source": d.source}) + "\n")
    return path


def _check_sharded(single, asked, port: int, cluster) -> list[str]:
    """/ask of the sharded service on Ray Serve against the single engine."""
    import httpx
    from ray import serve

    from index.shards import split
    from service.cluster import deploy

    url = deploy(single.settings, split(single.settings.index_dir, 2), replicas=2, port=port,
                 cpus_per_replica=0.1)
    problems = []
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for question, filters in asked:
                if filters is not None:
                    params = {"q": question, "published_from": filters.published_from.isoformat(),
                              "published_to": filters.published_to.isoformat()}
                else:
                    params = {"q": question}
                got = client.get("/ask", params=params).json()
                want = json.loads(single.ask(question, filters=filters).model_dump_json())
                if _untimed(got) != _untimed(want):
                    problems.append(f"sharded /ask differs: {question}")
    finally:
        serve.shutdown()
    return problems


def _untimed(answer) -> dict:
    data = answer if isinstance(answer, dict) else answer.model_dump()
    return {k: v for k, v in data.items() if k != "timings"}


if __name__ == "__main__":
    main()
