"""The questions we wrote: the held-out ones never train a model."""

from __future__ import annotations

import hashlib
import json

import pytest

from eval.reader_data import held_out
from eval.realtimeqa import DEFAULT_DIR as RTQA_DIR
from eval.written import EVAL_DIR, HELD_OUT_FILES, RTQA_FILES, rtqa_questions
from index.records import Document


def _records(name: str) -> list[dict]:
    lines = (EVAL_DIR / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_a_held_out_file_asks_about_articles_no_training_file_asks_about():
    assert set(HELD_OUT_FILES) <= set(RTQA_FILES)
    for name in HELD_OUT_FILES:
        urls = {r["url"] for r in _records(name)}
        assert urls
        for other in set(RTQA_FILES) - set(HELD_OUT_FILES):
            assert not urls & {r["url"] for r in _records(other)}, (name, other)


@pytest.mark.skipif(not (RTQA_DIR / "dev.jsonl").is_file(), reason=f"needs RealTime QA at {RTQA_DIR}")
def test_a_held_out_file_asks_about_no_gold_article_of_the_realtimeqa_questions_that_train():
    gold = {u for line in (RTQA_DIR / "dev.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip() for u in json.loads(line)["gold_urls"]}
    assert gold
    for name in HELD_OUT_FILES:
        assert not {r["url"] for r in _records(name)} & gold


def test_written_files_hold_offsets_not_article_text():
    """RealTime QA's licence keeps its text out of the project."""
    for name in RTQA_FILES:
        for r in _records(name):
            for span in [*r["answers"], *([r["evidence"]] if r["evidence"] else [])]:
                assert set(span) == {"start", "end", "sha1"}, (name, r["id"])
            assert r["answerable"] == bool(r["answers"]), (name, r["id"])


def test_every_question_of_a_held_out_file_is_held_out_whatever_its_articles_hash(tmp_path):
    text = "Officials said 2,500 soldiers remain in the country."
    span = {"start": 15, "end": 20, "sha1": hashlib.sha1(b"2,500").hexdigest()[:8]}
    # one url the hash split puts in training, one it holds out
    urls = [next(f"https://example.com/{i}" for i in range(99) if held_out(f"https://example.com/{i}") is h)
            for h in (False, True)]
    docs = {u: Document(u, text, "t", url=u) for u in urls}
    for name in RTQA_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        rows = [{"id": f"{name}-{i}", "url": u, "question": "How many soldiers remain?",
                 "style": "article", "answer_type": "number", "answerable": True,
                 "answers": [span], "evidence": None} for i, u in enumerate(urls)]
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = {(w.source, w.url): w.heldout for w in rtqa_questions(docs, tmp_path)}
    for name in RTQA_FILES:
        assert got[name, urls[1]] is True
        assert got[name, urls[0]] is (name in HELD_OUT_FILES)
