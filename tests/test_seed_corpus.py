"""corpus/ holds the seed article whole: every paragraph of the original in ../shared/seed."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS, ROOT, SEED_ID
from index.embedding import HashEmbedder
from index.indexer import Indexer
from index.loaders import load_paths
from index.store import IndexStore

SHARED_SEED = ROOT.parent / "shared" / "seed" / "000_1934250a859a8e87.txt"
# The original's last paragraph: the copy once stopped four paragraphs short of it.
LAST_PARAGRAPH_END = "and to “discuss the future transition” of the coalition’s mission."


def _paragraphs(raw: str) -> list[str]:
    """The original's body paragraphs: title line and the page's trailing widgets left out."""
    body = raw.split("\n", 1)[1].split("\nRelated Articles", 1)[0]
    # The loader keeps no-break spaces; the corpus copy writes them as plain spaces.
    return [p.replace("\xa0", " ").strip() for p in body.split("\n\n") if p.strip()]


def _indexed_text(tmp_path) -> str:
    Indexer(tmp_path / "idx", HashEmbedder()).run(load_paths([CORPUS]).documents, progress=False)
    store = IndexStore.open(tmp_path / "idx")
    try:
        doc = store.get_document(SEED_ID)
    finally:
        store.close()
    assert doc is not None
    return doc.text


def test_the_indexed_seed_article_ends_with_its_last_paragraph(tmp_path):
    assert _indexed_text(tmp_path).endswith(LAST_PARAGRAPH_END)


@pytest.mark.skipif(not SHARED_SEED.is_file(), reason=f"no original at {SHARED_SEED}")
def test_the_indexed_seed_article_holds_every_paragraph_of_the_original(tmp_path):
    paragraphs = _paragraphs(SHARED_SEED.read_text(encoding="utf-8"))
    assert len(paragraphs) == 16
    text = _indexed_text(tmp_path)
    missing = [p[:60] for p in paragraphs if p not in text]
    assert missing == []
