"""What Ray costs and gives on this machine: ingest (documents/s) and answers (/ask per second),
the single-machine path against Ray with 1 and 2 local nodes (one CPU each), and the memory of
each node.

    python -m eval.bench_ray                     # 200 RealTime QA articles (else corpus/)
    python -m eval.bench_ray --docs 50 --duration 10 --out bench_ray.json

Ingest: reading the articles from a JSONL file, then the real model (int8 ONNX MiniLM) and
spaCy; on Ray, as `sourced index --ray` does: the file read and cleaned by Ray Data tasks, then
one actor per node, each loading the model and spaCy once (its start-up is in the figure, as a
user pays it). Answers: the service over HTTP
from ``--clients`` concurrent clients for ``--duration`` s (eval/bench_load.py); on Ray, the
index split into one shard per node behind Ray Serve (service/cluster.py), one replica each.
Memory: proportional set size of each node's Ray processes (raylet, workers, actors; the head
node's GCS too) while it serves; single machine: the server's resident set. On a 2-core machine the nodes share the cores: the
Ray figures measure overhead, not scaling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

from eval.bench_load import (
    DEFAULT_QUESTIONS,
    ROOT,
    _descendants,
    bench,
    free_port,
    load_questions,
    run_load,
    server_env,
)
from eval.check_ray import write_jsonl
from index.distributed import RayProcess, RayRead
from index.indexer import Indexer
from index.loaders import load_paths
from index.ray_env import local_cluster
from index.records import Document
from index.shards import split
from service.config import Settings
from service.engine import make_embedder


def corpus(limit: int) -> tuple[str, list[Document]]:
    """``limit`` RealTime QA articles and the seed article, or corpus/ where the data is absent."""
    seed = load_paths([ROOT / "corpus"]).documents
    try:
        from eval.realtimeqa import load_corpus

        return f"{limit} RealTime QA articles + the seed article", load_corpus(limit=limit) + seed
    except Exception:  # noqa: BLE001 (no data set here: the seed corpus still measures overhead)
        return "the seed corpus (RealTime QA data not found)", seed


def reader_that_loads() -> str:
    """The extractive reader when its model files load here, else the fake one (the reader is
    the same code in every setup: the comparison holds either way)."""
    try:
        from service.reader.extractive import ExtractiveReader

        ExtractiveReader.load()
        return "extractive"
    except Exception:  # noqa: BLE001 (missing or stale model files: say so in the report)
        return "fake"


def ingest_local(files: list[Path], index_dir: Path, settings: Settings) -> dict:
    started = time.perf_counter()
    docs = load_paths(files).documents
    Indexer(index_dir, make_embedder(settings), settings.chunk_settings).run(
        docs, progress=False, save_arrays=True)
    return _ingested(len(docs), time.perf_counter() - started)


def ingest_ray(files: list[Path], index_dir: Path, settings: Settings, actors: int) -> dict:
    started = time.perf_counter()
    docs = load_paths(files, read=RayRead(progress=False)).documents
    process = RayProcess(partial(make_embedder, settings), settings.chunk_settings, actors=actors,
                         ray_batch=4, commit_docs=settings.batch_docs, progress=False)
    Indexer(index_dir, make_embedder(settings), settings.chunk_settings).run(
        docs, progress=False, save_arrays=True, process=process)
    return _ingested(len(docs), time.perf_counter() - started)


def _ingested(documents: int, seconds: float) -> dict:
    return {"seconds": round(seconds, 2), "docs_per_s": round(documents / seconds, 2)}


def answers_ray(cluster, settings: Settings, nodes: int, questions: list[str], clients: int,
                duration: float) -> dict:
    """The load result, and the memory of each node while it serves (``node_mb``)."""
    from ray import serve

    from service.cluster import deploy

    url = deploy(settings, split(settings.index_dir, nodes), replicas=1, port=free_port(),
                 cpus_per_replica=0.25)
    try:
        asyncio.run(run_load(url, questions, workers=1, duration=2.0))  # first calls, lazy loads
        load = asdict(asyncio.run(run_load(url, questions, workers=clients, duration=duration)))
        return load | {"node_mb": node_memory_mb(cluster)}
    finally:
        serve.shutdown()


def node_memory_mb(cluster) -> list[float]:
    """Memory of each node's Ray processes and their children (raylet, workers, actors; GCS on
    the head node), head node first: proportional set size, so pages they share (libraries,
    the object store) are counted once, not once per process."""
    out = []
    for node in [cluster.head_node, *cluster.worker_nodes]:
        pids = {info.process.pid for infos in node.all_processes.values() for info in infos}
        every = pids | {c for p in pids for c in _descendants(p)}
        out.append(round(sum(_pss_kb(p) for p in every) / 1024, 1))
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200, help="RealTime QA articles to index.")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of load per setup.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent HTTP clients.")
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    described, docs = corpus(args.docs)
    questions = load_questions(DEFAULT_QUESTIONS)
    work = Path(tempfile.mkdtemp(prefix="bench_ray"))
    reader = reader_that_loads()
    settings = Settings(index_dir=work / "local", rate_limit_per_minute=0, reader=reader)
    rows = []
    try:
        files = [write_jsonl(docs, work / "articles.jsonl")]
        ingest = ingest_local(files, settings.index_dir, settings)
        env = server_env(settings.index_dir, fake=False) | {"SOURCED_READER": reader}
        load = bench(env, questions, args.clients, args.duration)
        rows.append({"setup": "single machine", **_row(ingest, load), "node_mb": [load["rss_after_mb"]]})
        for nodes in (1, 2):
            with local_cluster(nodes=nodes, cpus_per_node=1) as cluster:
                ray_settings = settings.model_copy(update={"index_dir": work / f"ray{nodes}"})
                ingest = ingest_ray(files, ray_settings.index_dir, ray_settings, actors=nodes)
                load = answers_ray(cluster, ray_settings, nodes, questions, args.clients, args.duration)
                rows.append({"setup": f"Ray, {nodes} node{'s' * (nodes > 1)}", **_row(ingest, load),
                             "node_mb": load["node_mb"]})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"corpus": described, "documents": len(docs), "questions": len(questions), "reader": reader,
              "clients": args.clients, "duration_s": args.duration, "rows": rows}
    print(format_table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


def _row(ingest: dict, load: dict) -> dict:
    return {"ingest_s": ingest["seconds"], "docs_per_s": ingest["docs_per_s"],
            "answers_per_s": load["throughput_rps"], "p50_ms": load["p50_ms"],
            "p95_ms": load["p95_ms"], "errors": load["errors"]}


def format_table(report: dict) -> str:
    title = (f"{report['corpus']} ({report['documents']} documents); {report['questions']} seed "
             f"questions, {report['clients']} clients x {report['duration_s']:.0f} s; "
             f"{report['reader']} reader")
    lines = [title,
             "| setup | ingest s | docs/s | answers/s | p50 ms | p95 ms | errors | memory per node MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        memory = " + ".join(f"{m:.0f}" for m in r["node_mb"])
        lines.append(f"| {r['setup']} | {r['ingest_s']:.1f} | {r['docs_per_s']:.2f} | "
                     f"{r['answers_per_s']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                     f"{r['errors']} | {memory} |")
    return "\n".join(lines)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
