"""`sourced serve --workers N`: every worker maps the same index and loads the same models, so
a question gets the same answer from any of them as from a single-process server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from eval.bench_load import load_questions, local_server, server_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def _answers(url: str, questions: list[str], repeat: int) -> list[dict]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(repeat):  # over several connections: the requests spread over the workers
            for q in questions:
                r = client.post("/ask", json={"question": q}, headers={"Connection": "close"})
                assert r.status_code == 200, r.text
                body = r.json()
                body.pop("timings", None)
                body.pop("latency_ms", None)
                out.append(body)
    return out


def test_two_workers_answer_as_one(tmp_path):
    questions = load_questions(ROOT / "eval" / "seed_dev.jsonl")
    env = server_env(tmp_path / "idx", fake=False, corpus_dir=ROOT / "corpus")
    with local_server(env, ready_timeout=300, workers=1) as single:
        expected = _answers(single.url, questions, 1)
    with local_server(env, ready_timeout=300, workers=2) as pair:
        got = _answers(pair.url, questions, 2)
    assert any(a["answer"] for a in expected), "the seed questions get answers"
    assert got == expected + expected
