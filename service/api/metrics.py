"""``GET /metrics``: request counts and latency, index size and answers, for Prometheus.

Written by ``prometheus_client`` into a registry of the app's own (never the process-wide one,
so several apps in one process, as in the tests, keep separate counts). Requests are counted by
method, route template (``/documents/{doc_id}``, never the raw path, so the number of series
stays bounded) and status; latency is a histogram by route; the index size is read at scrape
time; answers are counted by outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ANSWER_OUTCOMES = ("answered", "abstained")
INDEX_GAUGES = {
    "documents": "Documents in the index.",
    "chunks": "Chunks (retrieval units) in the index.",
    "sentences": "Sentences (citation units) in the index.",
}
IndexCounts = Callable[[], "dict[str, int] | None"]


class IndexSize(Collector):
    """The index's size, asked for at each scrape (``Engine.counts``); nothing while unloaded."""

    def __init__(self, counts: IndexCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self.counts()
        if counts is None:
            return
        for key, help_text in INDEX_GAUGES.items():
            yield GaugeMetricFamily(f"sourced_index_{key}", help_text, value=counts[key])


class Metrics:
    """The app's metrics; thread-safe (answers are counted in worker threads)."""

    def __init__(
        self, index_counts: IndexCounts = lambda: None,
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
    ) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "sourced_requests", "Requests by route and status.", ["method", "path", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "sourced_request_latency_seconds", "Time to answer a request, by route.", ["path"],
            buckets=buckets, registry=self.registry,
        )
        self._answers = Counter(
            "sourced_answers", "Answers to /ask, by outcome.", ["outcome"], registry=self.registry,
        )
        for outcome in ANSWER_OUTCOMES:  # shown at 0 before the first answer
            self._answers.labels(outcome)
        self.registry.register(IndexSize(index_counts))

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self._requests.labels(method, path, str(status)).inc()
        self._latency.labels(path).observe(seconds)

    def observe_answer(self, outcome: str) -> None:
        self._answers.labels(outcome).inc()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format the scraper accepts (``Accept``), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


# ------------------------------------------------------------------------------------ route

router = APIRouter(tags=["metrics"])
TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@router.get(
    "/metrics", response_class=Response,
    responses={200: {"description": "Prometheus text format 0.0.4, or OpenMetrics when the "
                                     "Accept header asks for it.",
                     "content": {TEXT_0_0_4: {"schema": {"type": "string"}},
                                 OPENMETRICS: {"schema": {"type": "string"}}}}},
)
def read_metrics(request: Request) -> Response:
    """Request counts and latency, index size, and answers by outcome, for Prometheus."""
    body, content_type = request.app.state.metrics.render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
