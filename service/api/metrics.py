"""``GET /metrics``: Prometheus text format 0.0.4, written by hand (no client library needed).

Requests are counted by method, route template (``/documents/{doc_id}``, never the raw path, so
the number of series stays bounded) and status; latency is a histogram by route; the index size
is read at scrape time; answers are counted by outcome.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ANSWER_OUTCOMES = ("answered", "abstained")
INDEX_GAUGES = {
    "documents": "Documents in the index.",
    "chunks": "Chunks (retrieval units) in the index.",
    "sentences": "Sentences (citation units) in the index.",
}


class Metrics:
    """Counters and a latency histogram; thread-safe (answers are counted in worker threads)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._latency: dict[str, list[float]] = {}  # path -> per-bucket counts, then sum, count
        self._answers: Counter[str] = Counter(dict.fromkeys(ANSWER_OUTCOMES, 0))

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        with self._lock:
            self._requests[(method, path, status)] += 1
            row = self._latency.setdefault(path, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):  # cumulative: each counts all <= bound
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def observe_answer(self, outcome: str) -> None:
        with self._lock:
            self._answers[outcome] += 1

    def render(self, index_counts: dict[str, int] | None = None) -> str:
        """The exposition text; ``index_counts`` (``Engine.counts``) when the index is loaded."""
        with self._lock:
            lines = list(self._lines(index_counts))
        return "\n".join(lines) + "\n"

    def _lines(self, index_counts: dict[str, int] | None) -> Iterator[str]:
        yield from _header("sourced_requests_total", "counter", "Requests by route and status.")
        for (method, path, status), n in sorted(self._requests.items()):
            yield f"sourced_requests_total{_labels(method=method, path=path, status=status)} {n}"
        name = "sourced_request_latency_seconds"
        yield from _header(name, "histogram", "Time to answer a request, by route.")
        for path, row in sorted(self._latency.items()):
            for bound, count in zip((*self.buckets, "+Inf"), (*row[:-2], row[-1]), strict=True):
                yield f"{name}_bucket{_labels(path=path, le=bound)} {count:g}"
            yield f"{name}_sum{_labels(path=path)} {row[-2]:.6f}"
            yield f"{name}_count{_labels(path=path)} {row[-1]:g}"
        if index_counts is not None:
            for key, help_text in INDEX_GAUGES.items():
                yield from _header(f"sourced_index_{key}", "gauge", help_text)
                yield f"sourced_index_{key} {index_counts[key]}"
        yield from _header("sourced_answers_total", "counter", "Answers to /ask, by outcome.")
        for outcome, n in sorted(self._answers.items()):
            yield f"sourced_answers_total{_labels(outcome=outcome)} {n}"


def _header(name: str, kind: str, help_text: str) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"


def _labels(**labels: object) -> str:
    def escape(value: object) -> str:
        return str(value).replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels.items()) + "}"


# ------------------------------------------------------------------------------------ route

class PrometheusText(PlainTextResponse):
    media_type = "text/plain; version=0.0.4"


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics", response_class=PrometheusText,
    responses={200: {"description": "Prometheus text format 0.0.4.",
                     "content": {PrometheusText.media_type: {"schema": {"type": "string"}}}}},
)
def read_metrics(request: Request) -> PrometheusText:
    """Request counts and latency, index size, and answers by outcome, for Prometheus."""
    engine = getattr(request.app.state, "engine", None)
    counts = engine.counts() if engine is not None and engine.ready else None
    return PrometheusText(request.app.state.metrics.render(counts))
