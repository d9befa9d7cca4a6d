"""Load test: N concurrent clients asking questions of a local server for a fixed time.

    python -m eval.bench_load                      # real model, 16 clients, 60 s
    python -m eval.bench_load --fake --duration 10 # the hash embedder: the service's own overhead
    python -m eval.bench_load --workers 1          # latency without queueing

Starts its own server (uvicorn, ``create_app``) in a subprocess on 127.0.0.1 only, waits for
``/ready``, sends ``POST /ask`` with the questions of ``eval/seed_dev.jsonl`` round robin, then
stops the server. Reports throughput, latency percentiles, errors and the server's memory
(VmRSS from /proc) before and after, as a table and as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np

HOST = "127.0.0.1"  # loopback only: this tool never points load at another machine
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "eval" / "seed_dev.jsonl"


@dataclass
class LoadResult:
    workers: int
    duration_s: float  # wall time of the load phase, including the last in-flight requests
    requests: int
    errors: int  # non-2xx answers and transport failures
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)  # "200": n, "timeout": n, ...
    error_samples: list[str] = field(default_factory=list)


@dataclass
class Server:
    url: str
    pid: int


def load_questions(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["question"] for row in rows]


async def run_load(
    url: str, questions: list[str], *, workers: int = 16, duration: float = 60.0, timeout: float = 30.0
) -> LoadResult:
    """``workers`` clients, each sending one request at a time until ``duration`` has passed."""
    if workers < 1 or duration <= 0 or not questions:
        raise ValueError("workers must be at least 1, duration positive and questions non-empty.")
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    samples: list[str] = []
    started = time.perf_counter()
    deadline = started + duration
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        i = n  # workers start at different questions, so they do not ask in lockstep
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                response = await client.post("/ask", json={"question": questions[i % len(questions)]})
                status = str(response.status_code)
                if not response.is_success and len(samples) < 5:
                    samples.append(f"{status}: {response.text[:200]}")
            except httpx.HTTPError as exc:
                status = type(exc).__name__
                if len(samples) < 5:
                    samples.append(f"{status}: {exc}")
            latencies.append(time.perf_counter() - t)
            statuses[status] += 1
            i += 1

    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(worker(n, client) for n in range(workers)))
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    errors = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return LoadResult(
        workers=workers, duration_s=round(elapsed, 2), requests=len(latencies), errors=errors,
        throughput_rps=round(len(latencies) / elapsed, 2), p50_ms=round(float(p50), 1),
        p95_ms=round(float(p95), 1), p99_ms=round(float(p99), 1), max_ms=round(float(ms.max()), 1),
        statuses=dict(statuses), error_samples=samples,
    )


def rss_kb(pid: int, key: str = "VmRSS", tree: bool = False) -> int | None:
    """Resident memory of ``pid`` in kB (``VmHWM`` for the peak), from /proc (Linux only);
    with ``tree``, summed over it and its descendants (a server's worker processes)."""
    pids = [pid, *(_descendants(pid) if tree else [])]
    total = None
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total = (total or 0) + int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except FileNotFoundError:
            continue
        out += [int(c) for c in children]
        todo += [int(c) for c in children]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextmanager
def local_server(env: dict[str, str], *, ready_timeout: float = 300.0, workers: int = 1) -> Iterator[Server]:
    """Run ``sourced serve`` in a subprocess on loopback; always stopped on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=log)
        try:
            url = f"http://{HOST}:{port}"
            _wait_ready(url, proc, ready_timeout, log)
            yield Server(url, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {timeout:.0f} s")


def server_env(index_dir: Path, *, fake: bool, corpus_dir: Path | None = None) -> dict[str, str]:
    env = {
        "SOURCED_INDEX_DIR": str(index_dir),
        "SOURCED_EMBEDDER": "hash" if fake else "onnx",
        **({"SOURCED_READER": "fake"} if fake else {}),
        "SOURCED_RATE_LIMIT_PER_MINUTE": "0",  # we measure the engine, not the limiter
    }
    if corpus_dir is not None:
        env["SOURCED_CORPUS_DIR"] = str(corpus_dir)
    return env


def bench(env: dict[str, str], questions: list[str], workers: int, duration: float) -> dict:
    """Start a server, warm it up, load it, and return the result with its memory figures."""
    with local_server(env) as server:
        rss_ready = rss_kb(server.pid)
        # A few answers first: lazy loading and first-call costs are not what we measure.
        asyncio.run(run_load(server.url, questions, workers=1, duration=1.0))
        rss_before = rss_kb(server.pid)
        result = asyncio.run(run_load(server.url, questions, workers=workers, duration=duration))
        rss_after, rss_peak = rss_kb(server.pid), rss_kb(server.pid, "VmHWM")
    return asdict(result) | {
        "rss_ready_mb": _mb(rss_ready), "rss_before_mb": _mb(rss_before),
        "rss_after_mb": _mb(rss_after), "rss_peak_mb": _mb(rss_peak),
    }


def _mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def format_table(rows: list[dict]) -> str:
    cols = ["workers", "requests", "errors", "throughput_rps", "p50_ms", "p95_ms", "p99_ms",
            "max_ms", "rss_before_mb", "rss_after_mb", "rss_peak_mb"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(str(r[c]).rjust(w) for c, w in zip(cols, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fake", action="store_true", help="Use the hash embedder instead of the model.")
    parser.add_argument("--workers", type=int, nargs="+", default=[16],
                        help="Concurrent clients; several values run one after another (e.g. 16 1).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load per run.")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="An existing index to serve [default: a fresh one built from corpus/].")
    parser.add_argument("--out", type=Path, default=Path("eval/out/bench_load.json"))
    args = parser.parse_args()
    if min(args.workers) < 1 or not 0 < args.duration <= 3600:
        parser.error("--workers must be at least 1 and --duration within (0, 3600] seconds.")
    questions = load_questions(args.questions)
    # The machine may be shared: the load before we start tells how much of it was ours.
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(args.index_dir or Path(tmp) / "idx", fake=args.fake)
        runs = [bench(env, questions, w, args.duration) for w in args.workers]
    report = {"embedder": "hash" if args.fake else "sentence-transformers", "cpus": os.cpu_count(),
              "load_average_1m_before": load_before, "duration_s": args.duration, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(format_table(runs))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
