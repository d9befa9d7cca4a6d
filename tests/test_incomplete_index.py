"""An interrupted `sourced index` is never mistaken for a whole index: every command says how far
it got, `sourced eval` refuses it, and the same command run again finishes it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.store import DB_NAME
from tests.conftest import ROOT

N_DOCS = 300


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "SOURCED_EMBEDDER": "hash", "SOURCED_READER": "fake",
            "SOURCED_INDEX_DIR": str(tmp_path / "idx")}


def _corpus(tmp_path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    lines = [json.dumps({"id": f"story-{i}", "title": f"Story {i}", "published": "2022-06-01",
                         "text": f"The council of town {i} approved {i + 3} new buses on Monday. "
                                 f"Officials in town {i} said the buses arrive next year."})
             for i in range(N_DOCS)]
    (folder / "stories.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _sourced(*args, env, **kw):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300, **kw)


def _committed(index_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index_dir / DB_NAME}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_then_notice_then_resume(tmp_path, env):
    corpus = _corpus(tmp_path)
    index_dir = Path(env["SOURCED_INDEX_DIR"])
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "index", str(corpus), "-q"],
                            cwd=ROOT, env={**env, "SOURCED_BATCH_DOCS": "4"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _committed(index_dir) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _committed(index_dir)
    assert 0 < done < N_DOCS, "killed mid-run, with batches committed"

    asked = _sourced("ask", "How many buses did town 3 approve?", env=env)
    assert asked.returncode == 0, asked.stderr
    assert f"index incomplete: {done:,} of {N_DOCS:,} documents" in asked.stderr
    assert "sourced index" in asked.stderr and "resume" in asked.stderr

    refused = _sourced("eval", "eval/seed_dev.jsonl", "--out", str(tmp_path / "out"), env=env)
    assert refused.returncode == 1 and "incomplete" in refused.stderr

    resumed = _sourced("index", str(corpus), "-q", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{N_DOCS - done} added" in resumed.stdout and f"{done} unchanged" in resumed.stdout

    listed = _sourced("documents", "--limit", "1000", env=env)
    ids = [json.loads(line)["doc_id"] for line in listed.stdout.splitlines()]
    assert sorted(ids) == sorted(f"story-{i}" for i in range(N_DOCS))  # each exactly once
    asked = _sourced("ask", "How many buses did town 3 approve?", env=env)
    assert "incomplete" not in asked.stderr
