"""The benchmark: indexing, query latency in-process and over HTTP, throughput, memory, disk.

    python -m eval.bench --seed                                  # the seed corpus (built here)
    python -m eval.bench --index-dir DIR --index-json bench_index.json
    python -m eval.bench --index-dir DIR --queries 40 --duration 5   # a quick run

Prints a table and writes JSON (``--json``). Every figure comes with the corpus it was measured
on (documents, chunks, sentences). Sections:

* indexing: the pipeline's chunks/s and sentences/s next to the bare model's encode rate on the
  same texts (``eval.bench_index``). A full index of RealTime QA takes about an hour on two
  cores, so ``--index-json`` reads the JSON of an earlier ``python -m eval.bench_index`` run
  instead; ``--index-docs N`` indexes N RealTime QA articles in a scratch directory.
* in-process: ``Engine.ask`` over the question list (RealTime QA dev questions from
  ../shared by default, ``eval/seed_dev.jsonl`` with ``--seed``), p50/p95/p99, with the
  retrieval and extraction split; the engine's start-up; and one small write (index a short
  article, then remove it) on a scratch copy of the index, as ``POST /documents`` pays it.
* vectors: exact search against the inverted file on this corpus's vectors, with the recall@10
  and recall@50 of the inverted file on the questions (``index/vectors.py`` picks between them).
* http: a local server (``eval.bench_load``), 1, 4 and 16 concurrent clients for
  ``--duration`` seconds each; latency percentiles at 1 client, throughput at each.
* memory and disk: peak RSS (VmHWM) of this process and of the server; the index's size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench_index import dir_size
from eval.bench_load import local_server, rss_kb, run_load, server_env
from index.embedding import HashEmbedder
from index.records import Document
from index.store import IndexStore
from index.vectors import VectorIndex, recall_at_k
from service.config import Settings, default_corpus_dir
from service.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = ROOT / "eval" / "seed_dev.jsonl"
RTQA_QUESTIONS = ROOT.parent / "shared" / "datasets" / "realtimeqa" / "dev.jsonl"
WARM_UP = 3  # first answers pay lazy loading: not what we measure


def load_questions(path: Path) -> list[str]:
    """``question`` (our JSONL) or ``question_sentence`` (RealTime QA) of each line."""
    return [q for q, _ in load_gold(path)]


def load_gold(path: Path) -> list[tuple[str, list[str]]]:
    """Each question with its gold answers (empty when unanswerable or unknown): ``answers``
    (ours) or RealTime QA's ``answer_text`` / correct choice."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row.get("question") or row["question_sentence"], _gold(row)) for row in rows]


def _gold(row: dict) -> list[str]:
    if "answers" in row:
        return list(row["answers"])
    if row.get("answer_text"):
        return [row["answer_text"]]
    if row.get("choices") and row.get("answer"):
        return [row["choices"][int(row["answer"][0])]]
    return []


def quality(pairs: list[tuple[list[str], str | None]]) -> dict:
    """The answers' quality beside the speed figures: right, declined, EM/F1 (RealTime QA's)."""
    from eval.metrics import answers_match, exact_match, token_f1

    answerable = [(g, a) for g, a in pairs if g]
    return {
        "answerable": len(answerable),
        "right": sum(answers_match(a, g) for g, a in answerable),
        "unanswerable": len(pairs) - len(answerable),
        "declined": sum(a is None for g, a in pairs if not g),
        "em": round(100 * statistics.mean(exact_match(a, g) for g, a in answerable), 1) if answerable else None,
        "f1": round(100 * statistics.mean(token_f1(a, g) for g, a in answerable), 1) if answerable else None,
    }


def percentiles(ms: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if ms else (0.0, 0.0, 0.0)
    return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1)}


def corpus_size(index_dir: Path) -> dict[str, int]:
    store = IndexStore.open(index_dir)
    try:
        return store.count() | {"index_bytes": dir_size(index_dir)}
    finally:
        store.close()


def make_engine(index_dir: Path) -> Engine:
    """An engine with the embedder the index was built with (the hash fake included)."""
    store = IndexStore.open(index_dir)
    manifest = store.manifest
    store.close()
    fake = manifest.model == "hash-embedder"
    embedder = HashEmbedder(manifest.dim, manifest.model) if fake else None
    return Engine(Settings(index_dir=index_dir, embedder="hash" if fake else "onnx",
                           reader="fake" if fake else "extractive"), embedder=embedder)


def bench_in_process(
    index_dir: Path, questions: list[str], n_queries: int, writes: int, profile: Path | None = None,
    gold: list[list[str]] | None = None,
) -> dict:
    t = time.perf_counter()
    engine = make_engine(index_dir)
    engine.start()
    started_s = time.perf_counter() - t
    try:
        for q in questions[:WARM_UP]:
            engine.ask(q)
        total, retrieval, extraction, given = [], [], [], {}
        for i in range(n_queries):
            t = time.perf_counter()
            answer = engine.ask(questions[i % len(questions)])
            total.append((time.perf_counter() - t) * 1000)
            given[i % len(questions)] = answer.answer
            if answer.timings is not None:
                retrieval.append(answer.timings.retrieval_ms)
                extraction.append(answer.timings.extraction_ms)
        # What this process holds once it has answered, before the vector benchmark below builds
        # a second index and the write test a second engine (both count in the peak).
        rss_serving = rss_kb(os.getpid(), "VmRSS")
        rss_anon = rss_kb(os.getpid(), "RssAnon")
        if profile is not None:
            write_profile(engine, questions[:n_queries], profile)
        vectors = bench_vectors(engine, questions)
        rss_peak = rss_kb(os.getpid(), "VmHWM")  # before the write test starts a second engine
    finally:
        engine.close()
    return {
        "engine_start_s": round(started_s, 2), "queries": n_queries,
        **percentiles(total),
        "retrieval_p50_ms": round(statistics.median(retrieval), 1) if retrieval else None,
        "extraction_p50_ms": round(statistics.median(extraction), 1) if extraction else None,
        "vectors": vectors,
        "quality": quality([(gold[i], a) for i, a in given.items()]) if gold else None,
        "rss_peak_mb": _mb(rss_peak),
        "rss_serving_mb": _mb(rss_serving), "rss_serving_anon_mb": _mb(rss_anon),
        "write": bench_writes(index_dir, writes) if writes else None,
    }


def write_profile(engine: Engine, questions: list[str], out: Path) -> None:
    """A pyinstrument profile of the asks, as text (a separate pass: profiling slows them)."""
    try:
        from pyinstrument import Profiler
    except ImportError as exc:
        raise SystemExit("--profile needs pyinstrument: pip install -e '.[profile]'") from exc
    profiler = Profiler(interval=0.0005)
    with profiler:
        for q in questions:
            engine.ask(q)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))


def bench_writes(index_dir: Path, n: int) -> dict:
    """Index one short article and remove it again, ``n`` times, on a scratch copy of the index."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "idx"
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("*.lock"))
        engine = make_engine(copy)
        engine.start()
        try:
            add, remove = [], []
            for i in range(n):
                doc = Document(f"bench-probe-{i}", _PROBE_TEXT, "Benchmark probe", published="2022-06-16")
                t = time.perf_counter()
                engine.index_documents([doc])
                add.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                engine.remove([doc.doc_id])
                remove.append((time.perf_counter() - t) * 1000)
        finally:
            engine.close()
    return {"add_one_doc_ms": round(statistics.median(add), 1), "remove_one_doc_ms": round(statistics.median(remove), 1)}


_PROBE_TEXT = (
    "The council met on Tuesday to discuss the new budget. It approved 12 of the 14 proposals.\n"
    "Members said the vote would be repeated next year if revenue fell short of forecasts."
)


def bench_vectors(engine: Engine, questions: list[str]) -> dict:
    """Exact search against the inverted file, on this corpus's chunk vectors and the questions."""
    snapshot = engine.answerer.retriever.snapshot
    vectors = snapshot.chunk_vectors
    queries = engine.embedder.embed(questions)
    flat = VectorIndex(vectors, kind="flat")
    out: dict = {"rows": len(vectors), "used": engine.answerer.retriever.dense.kind,
                 "flat_ms_per_query": _search_ms(flat, queries)}
    if len(vectors) < 1000:
        return out  # too few for lists to be worth measuring
    t = time.perf_counter()
    ivf = VectorIndex(vectors, kind="ivf")
    out |= {"ivf_build_s": round(time.perf_counter() - t, 2), "ivf_nlist": ivf.nlist,
            "ivf_nprobe": ivf.nprobe, "ivf_calibrated_recall_at_10": round(ivf.calibrated_recall, 4),
            "ivf_ms_per_query": _search_ms(ivf, queries)}
    for k in (10, 50):
        _, exact = flat.search(queries, k)
        _, found = ivf.search(queries, k)
        out[f"ivf_question_recall_at_{k}"] = round(recall_at_k(found, exact), 4)
    return out


def _search_ms(index: VectorIndex, queries: np.ndarray, depth: int = 50) -> float:
    """Median time of one query's search, one query at a time, as the service searches."""
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, depth)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def bench_http(index_dir: Path, questions: list[str], clients: list[int], duration: float,
               workers: int) -> dict:
    store = IndexStore.open(index_dir)
    fake = store.manifest.model == "hash-embedder"
    store.close()
    runs = []
    with local_server(server_env(index_dir, fake=fake), workers=workers) as server:
        rss_ready = rss_kb(server.pid, tree=True)
        asyncio.run(run_load(server.url, questions, workers=1, duration=min(duration, 3.0)))  # warm up
        for n in clients:
            r = asyncio.run(run_load(server.url, questions, workers=n, duration=duration))
            runs.append({"clients": n, "requests": r.requests, "errors": r.errors,
                         "throughput_rps": r.throughput_rps, "p50_ms": r.p50_ms, "p95_ms": r.p95_ms,
                         "p99_ms": r.p99_ms})
        rss_now = rss_kb(server.pid, tree=True)
        worker_peaks = [rss_kb(p, "VmHWM") for p in _workers(server.pid)]
    return {"duration_s": duration, "workers": workers, "runs": runs,
            "server_rss_ready_mb": _mb(rss_ready), "server_rss_after_mb": _mb(rss_now),
            "worker_rss_peak_mb": [_mb(k) for k in worker_peaks]}


def _workers(pid: int) -> list[int]:
    from eval.bench_load import _descendants

    return _descendants(pid) or [pid]


def bench_cold_start(index_dir: Path, question: str) -> dict:
    """Process start to the first answer of `sourced ask` (the index and its cache exist; the
    page cache is warm, as on a machine that serves), and the peak RSS of that process."""
    import subprocess
    import sys

    env = {**os.environ, "SOURCED_INDEX_DIR": str(index_dir), "SOURCED_EMBEDDER": "onnx"}
    times, rss = [], []
    for _ in range(3):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _COLD, question], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            return {"error": done.stderr[-500:]}
        rss.append(int(done.stdout.split()[-1]))
    return {"cold_start_s": round(statistics.median(times), 2), "rss_peak_mb": round(max(rss) / 1024, 1)}


# The peak is VmHWM, this process's own memory since exec: ru_maxrss would carry over the
# bench's RSS at fork (Linux keeps the larger of the two across exec).
_COLD = (
    "import sys\n"
    "from service.cli import app\n"
    "from service.config import Settings\n"
    "from service.engine import Engine\n"
    "e = Engine(Settings()); e.start(); assert e.ask(sys.argv[1]) is not None\n"
    "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
)


def bench_indexing(args: argparse.Namespace) -> dict | None:
    from eval import bench_index

    if args.index_json:
        return json.loads(args.index_json.read_text()) | {"from": str(args.index_json)}
    if args.seed:
        from index.loaders import load_paths

        return bench_index.run(load_paths([default_corpus_dir()]).documents, "seed corpus")
    if args.index_docs:
        from eval.realtimeqa import load_corpus

        return bench_index.run(load_corpus(limit=args.index_docs), "realtimeqa")
    return None


def _mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def format_report(report: dict) -> str:
    c, q, x = report["corpus"], report["in_process"], report["indexing"]
    rows: list[tuple[str, str]] = [
        ("corpus", f"{c['documents']:,} documents, {c['chunks']:,} chunks, {c['sentences']:,} sentences"),
        ("index size on disk", f"{c['index_bytes'] / 1e6:,.1f} MB"),
    ]
    if x:
        measured = f"{x['documents']:,} docs, {x['chunks']:,} chunks, {x['sentences']:,} sentences"
        rows += [
            ("indexing: measured on", f"{x['corpus']}: {measured}"),
            ("indexing: pipeline",
             f"{x['pipeline_chunks_per_s']} chunks/s, {x['pipeline_sentences_per_s']} sentences/s"),
            ("indexing: texts/s pipeline vs raw model",
             f"{x['pipeline_texts_per_s']} vs {x['raw_texts_per_s']} (overhead {x['overhead_vs_raw_pct']}%)"),
        ]
    else:
        rows.append(("indexing", "not measured (pass --index-json, --index-docs or --seed)"))
    cold = report.get("cold_start") or {}
    rows += [
        ("cold start: process start to first answer",
         f"{cold.get('cold_start_s')} s (peak RSS {cold.get('rss_peak_mb')} MB)" if "error" not in cold
         else f"failed: {cold['error']}"),
        ("engine start", f"{q['engine_start_s']} s"),
        (f"ask in-process ({q['queries']} queries)",
         f"p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms, p99 {q['p99_ms']} ms"),
        ("  of which retrieval / extraction (p50)", f"{q['retrieval_p50_ms']} / {q['extraction_p50_ms']} ms"),
    ]
    if q["write"]:
        w = q["write"]
        rows.append(("write: add / remove one doc", f"{w['add_one_doc_ms']} / {w['remove_one_doc_ms']} ms"))
    v = q["vectors"]
    rows.append(("vectors: index in use",
                 f"{v['used']} over {v['rows']:,} rows; exact search {v['flat_ms_per_query']} ms/query"))
    if "ivf_nlist" in v:
        rows.append(("vectors: IVF alternative",
                     (f"nlist {v['ivf_nlist']}, nprobe {v['ivf_nprobe']}, {v['ivf_ms_per_query']} ms/query, "
                      f"build {v['ivf_build_s']} s")))
        rows.append(("vectors: IVF recall on questions",
                     (f"@10 {v['ivf_question_recall_at_10']}, @50 {v['ivf_question_recall_at_50']} "
                      f"(calibrated @10 {v['ivf_calibrated_recall_at_10']})")))
    # This process's, so with --seed it also holds the indexing model that built the seed index;
    # the cold-start row is a fresh process's.
    if q.get("rss_serving_mb") is not None:  # reports saved before 2026-12-06 lack it
        rows.append(("RSS after the answers, this process",
                     (f"{q['rss_serving_mb']} MB (of it anonymous {q['rss_serving_anon_mb']} MB; "
                      "the rest is mapped index and libraries)")))
    rows.append(("peak RSS, in-process (whole bench)", f"{q['rss_peak_mb']} MB"))
    if q.get("quality"):
        g = q["quality"]
        rows.append(("answers (same run)", f"right {g['right']}/{g['answerable']}, declined "
                     f"{g['declined']}/{g['unanswerable']}, EM {g['em']}, F1 {g['f1']}"))
    h = report["http"]
    if h:
        first = h["runs"][0]
        rows.append((f"ask over HTTP ({first['clients']} client)",
                     f"p50 {first['p50_ms']} ms, p95 {first['p95_ms']} ms, p99 {first['p99_ms']} ms"))
        for r in h["runs"]:
            rows.append((f"throughput, {r['clients']} clients",
                         f"{r['throughput_rps']} req/s (p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']})"))
        rows.append((f"server RSS, {h['workers']} workers: ready / after load",
                     f"{h['server_rss_ready_mb']} / {h['server_rss_after_mb']} MB (peak per worker "
                     f"{', '.join(str(m) for m in h['worker_rss_peak_mb'])} MB)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=None, help="The index to benchmark.")
    parser.add_argument("--seed", action="store_true", help="Build and benchmark the seed corpus.")
    parser.add_argument("--index-json", type=Path, default=None,
                        help="Indexing figures from an earlier `python -m eval.bench_index` run.")
    parser.add_argument("--index-docs", type=int, default=0,
                        help="Measure indexing on this many RealTime QA articles (a scratch index).")
    parser.add_argument("--questions", type=Path, default=None,
                        help="JSONL with `question` or `question_sentence` [default: RealTime QA dev; "
                             "eval/seed_dev.jsonl with --seed].")
    parser.add_argument("--queries", type=int, default=0, help="In-process asks [default: each question once].")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of HTTP load per client count.")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="Server processes for the HTTP part [default: the CPU count].")
    parser.add_argument("--writes", type=int, default=3, help="Add/remove rounds on a scratch copy (0: skip).")
    parser.add_argument("--no-http", action="store_true", help="Skip the HTTP part.")
    parser.add_argument("--profile", type=Path, default=None,
                        help="Also write a pyinstrument profile of the asks to this file (extra: profile).")
    parser.add_argument("--json", type=Path, default=Path("eval/out/bench.json"))
    args = parser.parse_args()
    if (args.index_dir is None) == (not args.seed):
        parser.error("pass --index-dir DIR, or --seed")
    if min(args.clients) < 1 or args.duration <= 0 or args.queries < 0 or args.writes < 0:
        parser.error("--clients must be >= 1, --duration > 0, --queries and --writes >= 0")
    gold = load_gold(args.questions or (SEED_QUESTIONS if args.seed else RTQA_QUESTIONS))
    questions = [q for q, _ in gold]
    load_before = round(os.getloadavg()[0], 2)  # a shared machine: how busy it was already
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir
        if args.seed:
            index_dir = Path(tmp) / "seed"
            builder = Engine(Settings(index_dir=index_dir, corpus_dir=default_corpus_dir(), reader="fake"))
            builder.start(build_if_missing=True, progress=False)
            builder.close()
        report = {
            "index_dir": str(args.index_dir or "seed corpus (scratch)"), "cpus": os.cpu_count(),
            "load_average_1m_before": load_before,
            "questions": str(args.questions or (SEED_QUESTIONS if args.seed else RTQA_QUESTIONS)),
            "corpus": corpus_size(index_dir),
            "indexing": bench_indexing(args),
            "in_process": bench_in_process(
                index_dir, questions, args.queries or len(questions), args.writes, args.profile,
                [g for _, g in gold]),
            "cold_start": bench_cold_start(index_dir, questions[0]),
            "http": None if args.no_http else bench_http(index_dir, questions, args.clients,
                                                         args.duration, args.workers),
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(format_report(report))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
