"""`sourced serve --ray --shards N --replicas R` on a real 2-node local cluster: the sharded
service's /ask equals the single service's on the seed dev set, and a replica killed while
serving is replaced while requests keep succeeding."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from eval.bench_load import free_port
from index.ray_env import wait_until
from index.shards import split
from tests.conftest import seed_dev_questions, small_index_engine

pytestmark = pytest.mark.ray
SHARDS, REPLICAS = 2, 2
TRIES = 3  # per request, while a replica is being replaced


@pytest.fixture(scope="module")
def single(tmp_path_factory, nlp):
    engine = small_index_engine(tmp_path_factory.mktemp("served"), nlp)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def served(ray_cluster, single):
    from ray import serve

    from service.cluster import deploy

    url = deploy(single.settings, split(single.settings.index_dir, SHARDS), replicas=REPLICAS,
                 port=free_port(), cpus_per_replica=0.1)
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client
    serve.shutdown()


def test_sharded_service_answers_as_the_single_one(served, single):
    assert served.get("/ready").json()["chunks"] == single.counts()["chunks"]
    for question in seed_dev_questions():
        got = served.post("/ask", json={"question": question})
        assert got.status_code == 200, got.text
        want = single.ask(question).model_dump(mode="json")
        assert _untimed(got.json()) == _untimed(want), question
    search = served.get("/search", params={"q": "US troops in Iraq", "k": 8}).json()
    assert search["passages"] == [p.model_dump(mode="json") for p in single.search("US troops in Iraq", 8)]
    assert served.get("/documents/briefing-03").json()["text"] == single.document("briefing-03").text
    assert served.post("/documents", json={"title": "t", "text": "x"}).status_code in (401, 403)


def test_a_killed_replica_is_replaced_and_requests_keep_succeeding(served):
    from ray import serve

    handle = serve.get_deployment_handle("shard-0", app_name="sourced")
    victim = handle.call.remote("info").result()["pid"]
    os.kill(victim, signal.SIGKILL)
    for i in range(20):
        assert _ask(served, f"How many US troops are in Iraq? ({i})").status_code == 200

    def replaced() -> bool:
        status = serve.status().applications["sourced"].deployments["shard-0"]
        pids = {handle.call.remote("info").result()["pid"] for _ in range(8)}
        return status.replica_states.get("RUNNING") == REPLICAS and victim not in pids and len(pids) == 2

    assert wait_until(replaced, timeout=90, every=1.0)


def _ask(client: httpx.Client, question: str) -> httpx.Response:
    """``/ask`` with up to ``TRIES`` tries: what a client of any service does."""
    for attempt in range(TRIES):
        try:
            response = client.get("/ask", params={"q": question})
            if response.status_code < 500 or attempt == TRIES - 1:
                return response
        except httpx.TransportError:
            if attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _untimed(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings"}
