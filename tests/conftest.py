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
