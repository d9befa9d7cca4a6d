"""The benchmark runs end to end on a small fake-embedder index and reports every figure.

No timing is asserted (the machine is shared): the figures are for people to read.
"""

from __future__ import annotations

import json

from eval.bench import bench_in_process, corpus_size, format_report, load_questions
from index.embedding import HashEmbedder
from index.indexer import Indexer
from index.records import Document
from service.config import Settings


def test_bench_in_process_reports_every_figure(tmp_path, seed_doc):
    index_dir = tmp_path / "idx"
    other = Document("other", "The council approved 12 new buses on Tuesday. It met in Leeds.", "Buses")
    Indexer(index_dir, HashEmbedder(), Settings().chunk_settings).run([seed_doc, other], progress=False)
    questions = ["How many US troops are in Iraq?", "How many buses did the council approve?"]
    result = bench_in_process(index_dir, questions, n_queries=4, writes=1)
    assert result["queries"] == 4 and 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["vectors"]["used"] == "flat" and result["vectors"]["rows"] > 0
    assert set(result["write"]) == {"add_one_doc_ms", "remove_one_doc_ms"} and result["rss_peak_mb"] > 0
    assert 0 < result["rss_serving_anon_mb"] < result["rss_serving_mb"] <= result["rss_peak_mb"]
    corpus = corpus_size(index_dir)
    assert corpus["documents"] == 2 and corpus["index_bytes"] > 0
    report = {"corpus": corpus, "indexing": None, "in_process": result, "http": None}
    table = format_report(json.loads(json.dumps(report)))
    assert "2 documents" in table and "ask in-process (4 queries)" in table
    assert "RSS after the answers, this process" in table


def test_questions_of_either_format(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "A?"}\n\n{"question_sentence": "B?", "choices": []}\n')
    assert load_questions(path) == ["A?", "B?"]
