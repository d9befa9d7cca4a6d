"""Shared fixtures: a fast deterministic fake embedder, the real seed article, tmp indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedding import HashEmbedder
from index.loaders import load_paths
from index.records import Document
from service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SEED_ID = "iraq-us-coalition-talks"
US_TROOPS_QUOTE = (
    "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the coalition against ISIS."
)


@pytest.fixture(scope="session")
def seed_doc() -> Document:
    docs = {d.doc_id: d for d in load_paths([CORPUS]).documents}
    return docs[SEED_ID]


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder(dim=64)


@pytest.fixture(scope="session")
def nlp():
    from index.annotations import load_nlp

    return load_nlp()


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "idx", embedder="hash", reader="fake", corpus_dir=CORPUS)


def started_engine(index_dir: Path, corpus_dir: Path, nlp, **settings):
    """An engine over ``corpus_dir`` with its index built (the real model unless settings say)."""
    from service.engine import Engine

    eng = Engine(Settings(index_dir=index_dir, corpus_dir=corpus_dir, **settings), nlp=nlp)
    eng.start(build_if_missing=True, progress=False)
    return eng


SEED_DEV = ROOT / "eval" / "seed_dev.jsonl"


def seed_dev_questions() -> list[str]:
    import json

    return [json.loads(line)["question"] for line in SEED_DEV.read_text().splitlines() if line.strip()]


def write_small_corpus(folder: Path) -> Path:
    """A dozen articles that compete for the seed questions: the seed article, the two test
    articles, and one short briefing per paragraph of the seed article (so that a sharded
    index spreads the evidence, and BM25's statistics differ from shard to shard)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CORPUS / f"{SEED_ID}.md", folder)
    for path in (ROOT / "tests" / "data").rglob("*.md"):
        shutil.copy(path, folder / path.name)
    body = (CORPUS / f"{SEED_ID}.md").read_text().split("---", 2)[2]
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    for i, paragraph in enumerate(paragraphs):
        (folder / f"briefing-{i:02d}.md").write_text(
            f"# Briefing {i}: Iraq and the coalition\n\nFrom our correspondents, note {i}. {paragraph}\n")
    return folder


def write_messy_corpus(folder: Path) -> Path:
    """Files of every kind the loaders read, and of most kinds they skip: articles in .md,
    .txt, .html and .jsonl (in a subfolder too), a JSONL file with bad lines, a bad date and a
    duplicate id, a binary file, an unsupported type, an empty file, a hidden file."""
    import json

    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "talks.md").write_text("---\ntitle: Talks\npublished: 2022-01-05\n---\n"
                                     "Talks resumed in Baghdad on Monday.\n")
    (folder / "late.md").write_text("---\npublished: next tuesday\n---\nThe bridge reopened.\n")
    (folder / "brief.txt").write_text("Brief\nThe port handled 1,200 ships in 2021.\n")
    (folder / "sub" / "page.html").write_text(
        "<html><head><title>Buses</title></head><body><article><p>The city bought 40 electric "
        "buses for 12 million dollars, officials said on Tuesday.</p></article></body></html>")
    records = [{"id": "a1", "title": "One", "text": "First story about grain."},
               "{not json", "[1, 2]", {"id": "a2", "title": "No text"},
               {"id": "a1", "text": "A second a1."},
               {"id": "a3", "text": "Old story.", "published": "1850-03-01"},
               {"url": "https://example.com/x?utm=1", "text": "A story with a url."}]
    (folder / "sub" / "feed.jsonl").write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    (folder / "blob.txt").write_bytes(b"Looks like text\x00\x00\x01 but is not")
    (folder / "photo.png").write_bytes(b"\x89PNG")
    (folder / "empty.md").write_text("")
    (folder / ".hidden.md").write_text("Never read.")
    return folder


def small_index_engine(root: Path, nlp):
    """An engine (fake embedder and reader) over ``write_small_corpus``, its index built with
    its serving arrays."""
    from index.indexer import Indexer
    from service.engine import Engine

    corpus = write_small_corpus(root / "corpus")
    settings = Settings(index_dir=root / "idx", corpus_dir=corpus, embedder="hash", reader="fake")
    Indexer(settings.index_dir, HashEmbedder(64), nlp=nlp).run(
        load_paths([corpus]).documents, progress=False, save_arrays=True)
    engine = Engine(settings, embedder=HashEmbedder(64))
    engine.start()
    return engine


# -- Ray (tests marked `ray`): one real 2-node local cluster for the whole session ------------
@pytest.fixture(scope="session")
def ray_cluster():
    """A ``ray.cluster_utils.Cluster`` of two one-CPU nodes, this process its driver
    (index/ray_env.py: the settings that work on small machines). Skipped without the extra."""
    pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    pytest.importorskip("ray.serve")
    from index.ray_env import local_cluster

    with local_cluster(nodes=2, cpus_per_node=1) as cluster:
        yield cluster


def assert_same_index(a: Path, b: Path, atol: float = 1e-5) -> None:
    """Same documents, chunk and sentence rows (ids, offsets, token rows); vectors within
    ``atol``."""
    from eval.check_ray import index_differences

    assert index_differences(a, b, atol) == []
