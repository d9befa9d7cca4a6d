"""The access log (one JSON line per request) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.metrics import Metrics
from service.engine import Engine
from tests.test_api import KEY, LIBRARY, settings_for

SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
PRIVATE = "Did my neighbour Anna Schmidt vote against the library?"


@pytest.fixture
def client(tmp_path, nlp):
    settings = settings_for(tmp_path).model_copy(update={"rate_limit_per_minute": 3})
    engine = Engine(settings, nlp=nlp)
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as c:
        yield c
    engine.close()


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(name, {(label, value), ...}): value}``; fails on any line that is not the format."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    return samples


def sample(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def access_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "sourced.access"]


def test_one_json_line_per_request_without_the_query(client, caplog):
    caplog.set_level(logging.INFO, logger="sourced.access")
    client.get("/ask", params={"q": PRIVATE})
    client.get("/documents/harbour")
    client.delete("/documents/harbour")  # no key
    client.get("/no/such/page")  # 4th request: over the limit of 3 a minute
    lines = access_lines(caplog)
    assert len(lines) == 4
    ask, doc, delete, limited = lines
    assert set(ask) == {"method", "path", "route", "query_chars", "status", "latency_ms",
                        "client", "outcome"}
    assert ask["method"] == "GET" and ask["path"] == "/ask" and ask["status"] == 200
    assert ask["outcome"] in ("answered", "abstained") and ask["client"] == "testclient"
    assert ask["query_chars"] == len("q=" + PRIVATE.replace(" ", "+").replace("?", "%3F"))
    assert isinstance(ask["latency_ms"], float) and ask["latency_ms"] > 0
    assert (doc["path"], doc["route"], doc["outcome"]) == ("/documents/harbour",
                                                           "/documents/{doc_id}", "ok")
    assert (delete["status"], delete["outcome"]) == (401, "unauthorized")
    assert (limited["status"], limited["outcome"], limited["route"]) == (429, "rate_limited",
                                                                         "<unmatched>")
    assert "Anna" not in caplog.text and "Schmidt" not in caplog.text


def test_an_unexpected_error_is_logged_and_counted_as_a_500(client, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="sourced.access")

    def boom(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(client.app.state.engine, "search", boom)
    assert client.get("/search", params={"q": "bridge"}).status_code == 500
    (line,) = access_lines(caplog)
    assert (line["status"], line["outcome"], line["route"]) == (500, "internal", "/search")
    samples = parse_metrics(client.get("/metrics").text)
    assert sample(samples, "sourced_requests_total", method="GET", path="/search",
                  status="500") == 1


def test_metrics_count_requests_by_route_and_answers_by_outcome(tmp_path, nlp):
    settings = settings_for(tmp_path)
    engine = Engine(settings, nlp=nlp)
    with TestClient(create_app(settings, engine)) as client:
        first = client.get("/metrics")
        assert first.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        before = parse_metrics(first.text)
        assert sample(before, "sourced_index_documents") == 3
        ready = client.get("/ready").json()
        assert sample(before, "sourced_index_chunks") == ready["chunks"]
        assert sample(before, "sourced_index_sentences") == ready["sentences"]

        for doc_id in ("harbour", "iraq-talks", "nope"):
            client.get(f"/documents/{doc_id}")
        client.post("/ask", json={"question": "How many US troops are in Iraq?"})
        client.get("/ask", params={"q": "How many British troops are in Iraq?"})
        client.post("/documents", json=LIBRARY, headers=KEY)
        after = parse_metrics(client.get("/metrics").text)

    engine.close()
    route = {"method": "GET", "path": "/documents/{doc_id}"}
    assert sample(after, "sourced_requests_total", **route, status="200") == 2
    assert sample(after, "sourced_requests_total", **route, status="404") == 1
    assert sample(after, "sourced_requests_total", method="GET", path="/metrics",
                  status="200") == 1
    assert not [key for key in after if ("path", "/documents/harbour") in key[1]]  # templates
    assert sample(after, "sourced_answers_total", outcome="answered") == 1
    assert sample(after, "sourced_answers_total", outcome="abstained") == 1
    assert sample(after, "sourced_index_documents") == 4
    latency = "sourced_request_latency_seconds"
    buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value in after.items()
                     if name == f"{latency}_bucket" and ("path", "/documents/{doc_id}") in labels)
    counts = [value for _, value in buckets]
    assert counts == sorted(counts) and buckets[-1] == (float("inf"), 3)  # cumulative, +Inf last
    assert sample(after, f"{latency}_count", path="/documents/{doc_id}") == 3
    assert sample(after, f"{latency}_sum", path="/documents/{doc_id}") > 0


def test_exposition_escapes_labels_and_bounds_methods():
    metrics = Metrics()
    metrics.observe_request("BREW", 'a"b\\c\nd', 418, 0.002)
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert 'sourced_requests_total{method="other",path="a\\"b\\\\c\\nd",status="418"} 1.0' in text
    assert "sourced_index_documents" not in text  # no index loaded: no gauges
    parse_metrics(text)


def test_each_app_counts_its_own_requests(tmp_path, nlp):
    """Apps built in one process (tests, several servers) never share or clash on a metric."""
    engine = Engine(settings_for(tmp_path), nlp=nlp)
    with TestClient(create_app(engine.settings, engine)) as one, \
            TestClient(create_app(engine.settings, engine)) as two:
        one.get("/documents")
        one.get("/documents")
        two.get("/documents")
        counts = [sample(parse_metrics(c.get("/metrics").text), "sourced_requests_total",
                         method="GET", path="/documents", status="200") for c in (one, two)]
    engine.close()
    assert counts == [2, 1]
