"""An index directory the process may not write (a replica's read-only snapshot, another user's
files) can be queried and served; a write to it fails with a sentence, not a stack trace."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT

SCRIPT = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from index.errors import SourcedError
from index.records import Document
from service.api import create_app
from service.config import Settings
from service.engine import Engine

settings = Settings(index_dir=Path(sys.argv[1]), embedder="hash", reader="fake", rate_limit_per_minute=0)
engine = Engine(settings)
engine.start(build_if_missing=False, progress=False)
print("answer:", engine.ask("How many US troops are in Iraq?").answer)
print("passages:", len(engine.search("coalition talks")))
with TestClient(create_app(settings, engine)) as client:
    print("http:", client.get("/ask", params={"q": "Who speaks for the prime minister?"}).status_code)
try:
    engine.index_documents([Document("new", "A new article about buses.", "Buses")])
except SourcedError as exc:
    print("write refused:", exc.code, exc.message)
"""


def _read_only_mount_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _read_only_mount_works(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_read_only_index_answers_and_refuses_writes_clearly(tmp_path):
    """The index is built, then mounted read-only (a bind mount in a private mount namespace,
    as a container mounts a snapshot) and served from there."""
    from index.embedding import HashEmbedder
    from index.indexer import Indexer
    from index.loaders import load_paths

    index_dir, mount = tmp_path / "idx", tmp_path / "ro"
    Indexer(index_dir, HashEmbedder()).run(load_paths([CORPUS]).documents, progress=False,
                                           save_arrays=True)
    mount.mkdir()
    script = tmp_path / "child.py"
    script.write_text(SCRIPT)
    shell = (f"mount --bind {index_dir} {mount} && mount -o remount,ro,bind {mount} && "
             f"touch {mount}/probe 2>/dev/null && exit 99; "
             f"exec {sys.executable} {script} {mount}")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answer: 2,500" in out and "passages: 0" not in out and "http: 200" in out
    assert "write refused: index_read_only" in out and "is read-only" in out
    assert "Traceback" not in result.stderr
    assert not (index_dir / "probe").exists()
