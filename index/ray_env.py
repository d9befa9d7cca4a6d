"""Ray, set up the way that works on small machines: one place for the settings that
index/distributed.py, service/cluster.py, the tests and eval/bench_ray.py all use.

What the settings are for (measured with Ray 2.60 on 2 cores; ``../shared/notes/ray.md``):
a short temp directory (Unix socket paths are limited to 107 characters, and ``Cluster`` needs
``$RAY_TMPDIR/ray`` to exist), no token auth and no usage reporting (nothing outside to talk to),
no dashboard and a 150 MiB object store per node (the defaults take 2-3 GB for two nodes).

Usage::

    with local_cluster(nodes=2) as cluster:      # a real multi-node cluster on this machine
        connect(cluster.address)                 # what `sourced index --ray ADDRESS` does
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OBJECT_STORE_BYTES = 150 * 2**20
_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def require_ray():
    """``ray``, or an error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        from index.errors import SourcedError

        raise SourcedError(
            "Ray is not installed: pip install -e '.[ray]' (ray[data,serve]) to use --ray."
        ) from exc
    return ray


def prepare_environment() -> Path:
    """Set the environment Ray reads at start (only what is not set already); returns the
    temp directory, created."""
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    tmp = Path(os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp")))
    (tmp / "ray").mkdir(parents=True, exist_ok=True)
    return tmp


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``auto``, ``host:port`` or ``ray://...``) unless this
    process already has; ``local`` starts a one-node cluster in this process."""
    ray = require_ray()
    if ray.is_initialized():
        return
    tmp = prepare_environment()
    if address == "local":
        ray.init(include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                 _temp_dir=str(tmp), log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)


def node_args(cpus: int = 1) -> dict:
    """Arguments of one node of a ``ray.cluster_utils.Cluster``."""
    return {"num_cpus": cpus, "include_dashboard": False, "object_store_memory": OBJECT_STORE_BYTES}


@contextmanager
def local_cluster(nodes: int = 2, cpus_per_node: int = 1, *, connect_driver: bool = True) -> Iterator:
    """A ``ray.cluster_utils.Cluster`` of ``nodes`` nodes on this machine; this process joins
    it as a driver (``connect_driver``) and leaves it, and the cluster is shut down, at exit.
    Never ``ray stop``: it stops every Ray process on the machine."""
    ray = require_ray()
    from ray.cluster_utils import Cluster

    tmp = prepare_environment()
    cluster = Cluster(initialize_head=True,
                      head_node_args={**node_args(cpus_per_node), "temp_dir": str(tmp)})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node_args(cpus_per_node))
        cluster.wait_for_nodes()
        if connect_driver:
            ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def wait_until(condition, timeout: float = 60.0, every: float = 0.2) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while not (ok := condition()) and time.monotonic() < deadline:
        time.sleep(every)
    return bool(ok)
