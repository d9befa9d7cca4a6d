"""`sourced serve --ray ADDRESS --shards N --replicas R`: the service on a Ray cluster.

Ray Serve runs one deployment per shard (``R`` replicas each, every replica holding its shard's
FAISS and BM25 arrays, memory-mapped) and a front deployment (``R`` replicas too) that serves
the usual HTTP app (service/api: the same routes, form and answers) over a ``ShardedEngine``
(service/sharded.py): it embeds the question, scatters it to every shard, merges their
candidates, reads the hit documents once and runs the reader once.

Every node reads the shards at the same path: on several machines, the index directory lies on
a file system they share (or is copied to the same path on each).

A replica that dies is replaced by Serve; meanwhile a call to it fails and is sent again, to
another replica of the same shard (``ATTEMPTS`` tries in all).

Usage::

    connect("auto")                                    # index/ray_env.py
    url = deploy(settings, split(settings.index_dir, 2), replicas=2, port=8000)
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

from ray import serve
from ray.exceptions import RayActorError, WorkerCrashedError
from ray.serve.exceptions import ReplicaUnavailableError

from index.lexical import CorpusStats
from index.shards import STATS_FILE, ShardSet, split
from service.config import Settings
from service.sharded import Shard, ShardedEngine

APP_NAME = "sourced"
ATTEMPTS = 4  # tries of one shard call: a killed replica is skipped on the next
RETRY_PAUSE_S = 0.2
CALL_TIMEOUT_S = 60.0
_LOST = (RayActorError, WorkerCrashedError, ReplicaUnavailableError)


@serve.deployment
class ShardServer:
    """One shard, behind Serve: ``call(method, *args)`` runs ``Shard.method``."""

    def __init__(self, index_dir: str, stats_file: str, candidates: int = 50) -> None:
        self.shard = Shard(Path(index_dir), CorpusStats.load(Path(stats_file)), candidates)

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.shard, method)(*args)


class _Call:
    """A shard call in flight; ``result`` sends it again when its replica was lost."""

    def __init__(self, handle, method: str, args: tuple) -> None:
        self.handle, self.method, self.args = handle, method, args
        self.response = handle.call.remote(method, *args)

    def result(self) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self.response.result(timeout_s=CALL_TIMEOUT_S)
            except _LOST:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(RETRY_PAUSE_S * attempt)
                self.response = self.handle.call.remote(self.method, *self.args)
        raise AssertionError("unreachable")


class ServeShard:
    """``ShardClient`` of a shard deployment."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def call(self, method: str, *args: Any) -> _Call:
        return _Call(self.handle, method, args)


@serve.deployment
@serve.ingress()
class Front:
    """The HTTP app over the shards: ``create_app`` with a ``ShardedEngine``."""

    def __init__(self, settings: Settings, stats_file: str, *shards) -> None:
        self.settings = settings
        stats = CorpusStats.load(Path(stats_file))
        self.engine = ShardedEngine(settings, [ServeShard(h) for h in shards], stats)

    def __serve_build_asgi_app__(self):
        from service.api import create_app

        return create_app(self.settings, self.engine)  # its lifespan starts the engine


def application(settings: Settings, shards: ShardSet, replicas: int = 1,
                cpus_per_replica: float = 0.25):
    """The Serve application: one deployment per shard and the front, ``replicas`` each (the
    front embeds the question and runs the reader: the largest part of an answer's cost)."""
    stats_file = str((shards.root / STATS_FILE).resolve())
    actor = {"num_cpus": cpus_per_replica}
    parts = [ShardServer.options(name=f"shard-{i}", num_replicas=replicas, ray_actor_options=actor)
             .bind(str(d.resolve()), stats_file) for i, d in enumerate(shards.dirs)]
    if settings.reader_threads is None:  # a front replica reads on the CPUs it reserved
        settings = settings.model_copy(update={"reader_threads": max(1, int(cpus_per_replica))})
    return (Front.options(num_replicas=replicas, ray_actor_options=actor)
            .bind(settings, stats_file, *parts))


def deploy(settings: Settings, shards: ShardSet, replicas: int = 1, host: str = "127.0.0.1",
           port: int = 8000, cpus_per_replica: float = 0.25) -> str:
    """Start Serve on the connected cluster and run the service; returns its URL. One HTTP
    proxy, on the head node (several nodes on one machine cannot share a port)."""
    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port},
                logging_config={"enable_access_log": False})
    serve.run(application(settings, shards, replicas, cpus_per_replica), name=APP_NAME,
              route_prefix="/")
    return f"http://{host}:{port}"


def serve_forever(settings: Settings, host: str, port: int, shards: int, replicas: int,
                  echo=print) -> None:
    """`sourced serve --ray`: split the index into shards (reused while it is unchanged),
    deploy them and the front, and serve until interrupted."""
    url = deploy(settings, split(settings.index_dir, shards), replicas=replicas, host=host, port=port)
    echo(f"serving on {url}/ from a Ray cluster: {shards} shard{'s' * (shards > 1)} x "
         f"{replicas} replica{'s' * (replicas > 1)} (API docs at /docs); writes disabled. "
         "Ctrl+C stops.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped like Ctrl+C: the app goes too
    try:
        while True:
            time.sleep(3600)
    finally:
        serve.shutdown()
