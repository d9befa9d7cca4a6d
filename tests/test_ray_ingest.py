"""`sourced index --ray`: documents processed by Ray Data actors on a real 2-node local cluster
build the very index a local run builds, and a worker killed mid-ingest loses nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.distributed import RayProcess, RayRead
from index.embedding import HashEmbedder
from index.indexer import Indexer
from index.loaders import load_paths
from index.store import IndexStore
from service.cli import app
from tests.conftest import (
    CORPUS,
    ROOT,
    assert_same_index,
    write_messy_corpus,
    write_small_corpus,
)

pytestmark = pytest.mark.ray
runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCED_EMBEDDER", "hash")
    monkeypatch.setenv("SOURCED_READER", "fake")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_index_with_ray_equals_a_local_build(ray_cluster, env):
    corpus = write_small_corpus(env / "corpus")
    local = runner.invoke(app, ["index", str(corpus), "--index-dir", "local", "-q", "--batch-docs", "4"])
    assert local.exit_code == 0, local.output
    distributed = runner.invoke(app, [
        "index", str(corpus), "--index-dir", "ray", "-q", "--batch-docs", "4",
        "--ray", ray_cluster.address, "--ray-actors", "2", "--ray-batch-docs", "3"])
    assert distributed.exit_code == 0, distributed.output
    assert distributed.output.split(";")[0] == local.output.split(";")[0]  # "19 added, ..."
    assert_same_index(env / "local", env / "ray", atol=0)  # the fake embedder is exact
    for query in ("How many US troops are in Iraq?", "aid ships Tessa", "electric buses"):
        found = [runner.invoke(app, ["search", query, "--json", "--index-dir", d]).output
                 for d in ("local", "ray")]
        assert json.loads(found[0])["passages"] == json.loads(found[1])["passages"]
    again = runner.invoke(app, ["index", str(corpus), "--index-dir", "ray", "-q", "--ray",
                                ray_cluster.address])
    assert again.output.startswith("0 added, 0 replaced, 19 unchanged"), again.output
    (corpus / "briefing-00.md").unlink()  # --prune and --rebuild go through the cluster too
    for options in (["--prune"], ["--rebuild"]):
        local = runner.invoke(app, ["index", str(corpus), "--index-dir", "local", "-q", *options])
        distributed = runner.invoke(app, ["index", str(corpus), "--index-dir", "ray", "-q",
                                          "--ray", ray_cluster.address, *options])
        assert distributed.output.split(";")[0] == local.output.split(";")[0], options
        assert_same_index(env / "local", env / "ray", atol=0)


def test_index_with_ray_and_the_real_model_equals_a_local_build(ray_cluster, tmp_path, nlp):
    from index.onnx_embedder import OnnxEmbedder

    docs = load_paths([CORPUS, ROOT / "tests" / "data"]).documents
    Indexer(tmp_path / "local", OnnxEmbedder(), nlp=nlp).run(docs, progress=False)
    Indexer(tmp_path / "ray", OnnxEmbedder(), nlp=nlp).run(
        docs, progress=False, process=RayProcess(OnnxEmbedder, actors=2, ray_batch=1, progress=False))
    assert_same_index(tmp_path / "local", tmp_path / "ray", atol=1e-5)


def test_files_read_and_cleaned_on_ray_load_as_locally(ray_cluster, tmp_path):
    from index.ray_env import connect

    connect(ray_cluster.address)
    corpus = write_messy_corpus(tmp_path / "messy")
    for undated_ok in (False, True):
        local = load_paths([corpus, CORPUS], undated_ok=undated_ok)
        on_ray = load_paths([corpus, CORPUS], undated_ok=undated_ok,
                            read=RayRead(batch=2, progress=False))
        assert on_ray == local  # documents, skipped files and their reasons, in the same order
        assert len(local.documents) >= 5 and len(local.problems) >= 5


class SlowEmbedder(HashEmbedder):
    """The fake embedder, slowed down, saying where it runs: a worker to kill mid-ingest."""

    def __init__(self, pid_dir: str) -> None:
        super().__init__(64)
        Path(pid_dir, str(os.getpid())).touch()

    def embed(self, texts, *, progress: bool = False):
        time.sleep(0.25)
        return super().embed(texts, progress=progress)


def test_a_worker_killed_mid_ingest_loses_and_duplicates_nothing(ray_cluster, tmp_path, nlp):
    docs = load_paths([write_small_corpus(tmp_path / "corpus")]).documents
    Indexer(tmp_path / "local", HashEmbedder(64), batch_docs=2, nlp=nlp).run(docs, progress=False)
    pids = tmp_path / "pids"
    pids.mkdir()
    process = RayProcess(partial(SlowEmbedder, str(pids)), actors=2, ray_batch=1, commit_docs=2,
                         progress=False)
    indexer = Indexer(tmp_path / "ray", HashEmbedder(64), batch_docs=2, nlp=nlp)
    outcome: dict = {}

    def ingest() -> None:
        try:
            outcome["report"] = indexer.run(docs, progress=False, process=process)
        except Exception as exc:  # noqa: BLE001 (either way, the re-run must finish the job)
            outcome["error"] = exc

    worker = threading.Thread(target=ingest)
    worker.start()
    assert _wait(lambda: _committed(tmp_path / "ray") >= 2 and any(pids.iterdir()), 120)
    victim = int(next(pids.iterdir()).name)
    assert _committed(tmp_path / "ray") < len(docs)  # mid-ingest
    os.kill(victim, signal.SIGKILL)
    worker.join(300)
    assert not worker.is_alive()  # Ray restarts the actor and retries its batch: usually done
    assert _committed(tmp_path / "ray") >= 2
    again = indexer.run(docs, progress=False, process=process)
    assert again.changed + again.unchanged == len(docs)
    store = IndexStore.open(tmp_path / "ray")
    try:
        assert store.build.complete and store.count()["documents"] == len(docs)
    finally:
        store.close()
    tables = _rows_by_key(tmp_path / "ray"), _rows_by_key(tmp_path / "local")
    assert tables[0] == tables[1]  # no chunk or sentence lost, none twice


def _committed(index_dir: Path) -> int:
    if not IndexStore.exists(index_dir):
        return 0
    store = IndexStore.open(index_dir)
    try:
        return store.count()["documents"]
    finally:
        store.close()


def _rows_by_key(index_dir: Path) -> dict:
    """Rows by (doc_id, ordinal), without database ids (a resumed run commits in another order)."""
    from eval.check_ray import index_tables

    t = index_tables(index_dir)
    chunks = sorted((r[1:], v.tobytes()) for r, v in zip(t["chunks"], t["chunk_vectors"], strict=True))
    sents = sorted((r[1:], v.tobytes()) for r, v in zip(t["sentences"], t["sentence_vectors"], strict=True))
    return {"documents": t["documents"], "chunks": chunks, "sentences": sents}


def _wait(condition, timeout: float) -> bool:
    from index.ray_env import wait_until

    return wait_until(condition, timeout, every=0.1)
