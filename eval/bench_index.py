"""Indexing throughput: the whole pipeline against the raw model's encode on the same texts.

    python -m eval.bench_index --docs 1000          # RealTime QA articles from ../shared
    python -m eval.bench_index --seed               # the seed corpus only

Prints a table and writes JSON. The pipeline's own overhead is (pipeline - raw) / raw.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from index.chunking import TokenChunker
from index.embedding import SentenceTransformerEmbedder
from index.indexer import Indexer
from index.loaders import load_paths
from index.records import Document
from index.store import IndexStore
from service.config import Settings, default_corpus_dir


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(docs: list, label: str, keep: Path | None = None) -> dict:
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.model)
    embedder.warm_up()
    embedder.embed(["warm up the kernels"])
    # Load the tokenizer and sentencizer once (process-wide caches): throughput, not start-up.
    TokenChunker(settings.chunk_settings).split(Document("warm-up", "Warm up. Two sentences.", "w"))
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = keep or Path(tmp) / "idx"
        t = time.perf_counter()
        report = Indexer(index_dir, embedder, settings.chunk_settings).run(docs, progress=True)
        pipeline_s = time.perf_counter() - t
        size = dir_size(index_dir)
        IndexStore.open(index_dir).close()
    # The same texts through the bare model, as one list (its best case: sorted, batched).
    chunker = TokenChunker(settings.chunk_settings)
    splits = [chunker.split(d) for d in docs]
    texts = [c.text for s in splits for c in s.chunks] + [x.text for s in splits for x in s.sentences]
    t = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                          convert_to_numpy=True)
    raw_s = time.perf_counter() - t
    return {
        "corpus": label, "documents": len(docs), "characters": sum(len(d.text) for d in docs),
        "chunks": report.chunks, "sentences": report.sentences,
        "pipeline_seconds": round(pipeline_s, 2), "embed_seconds_in_pipeline": round(report.embed_seconds, 2),
        "raw_encode_seconds": round(raw_s, 2),
        "pipeline_chunks_per_s": round(report.chunks / pipeline_s, 2),
        "pipeline_sentences_per_s": round(report.sentences / pipeline_s, 2),
        "raw_texts_per_s": round(len(texts) / raw_s, 2),
        "pipeline_texts_per_s": round(len(texts) / pipeline_s, 2),
        "overhead_vs_raw_pct": round(100 * (pipeline_s - raw_s) / raw_s, 1),
        "index_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000, help="RealTime QA articles to index (at most 1,847).")
    parser.add_argument("--seed", action="store_true", help="Index the seed corpus instead.")
    parser.add_argument("--data", type=Path, default=None, help="RealTime QA folder.")
    parser.add_argument("--out", type=Path, default=Path("eval/out/bench_index.json"))
    parser.add_argument(
        "--keep", type=Path, default=None, metavar="DIR",
        help="Build the index in DIR and keep it (for `sourced eval`); it must not exist yet.",
    )
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists():
        parser.error(f"{args.keep} exists: pass a new directory to --keep")
    if args.seed:
        result = run(load_paths([default_corpus_dir()]).documents, "seed corpus", args.keep)
    else:
        from eval.realtimeqa import load_corpus

        result = run(load_corpus(args.data, limit=args.docs), "realtimeqa", args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
