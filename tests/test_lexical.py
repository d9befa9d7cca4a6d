"""The lexical index against its reference, bm25s: the same scores, before and after writes."""

import bm25s
import numpy as np
import pytest

from index.lexical import LexicalIndex, stemmer, tokenize

WORDS = ("troops iraq coalition talks washington soldiers attack drone base jordan militia "
         "withdrawal minister spokesman killed wounded the of and in a to was were is").split()


def _corpus(rng, n_docs):
    """doc key -> chunk texts; some chunks are empty or stopwords only."""
    docs = {}
    for d in range(n_docs):
        chunks = []
        for _ in range(rng.integers(1, 5)):
            n = rng.integers(0, 40)
            chunks.append(" ".join(rng.choice(WORDS, n)).capitalize() + ".")
        docs[f"doc{d:03d}"] = chunks
    return docs


def _reference(texts):
    ref = bm25s.BM25()
    ref.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), show_progress=False),
              show_progress=False)
    return ref


def _ref_scores(ref, n, query):
    tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer(), return_ids=False,
                            show_progress=False)[0]
    return np.asarray(ref.get_scores(tokens), dtype=np.float32) if tokens else np.zeros(n, np.float32)


QUERIES = ["How many troops are in Iraq?", "drone attack on the base in Jordan", "troops troops",
           "the of and", "unknownword", "Washington's withdrawal talks; spokesman killed"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_bm25s(seed):
    docs = _corpus(np.random.default_rng(seed), 30)
    keys = sorted(docs)
    index = LexicalIndex.build(keys, [docs[k] for k in keys])
    texts = [t for k in keys for t in docs[k]]
    ref = _reference(texts)
    assert len(index) == len(texts)
    for q in QUERIES:
        np.testing.assert_array_equal(index.scores(q), _ref_scores(ref, len(texts), q))


def test_an_incremental_build_equals_a_fresh_one():
    rng = np.random.default_rng(7)
    docs = _corpus(rng, 40)
    keys = sorted(docs)
    first = LexicalIndex.build(keys, [docs[k] for k in keys])
    # A write: one document replaced (new key), one removed, one added.
    docs.pop(keys[3])
    changed = _corpus(rng, 2)
    docs["doc010-v2"] = docs.pop(keys[10]) + changed["doc000"]
    docs["doc999"] = changed["doc001"]
    keys = sorted(docs)
    later = LexicalIndex.build(keys, [docs[k] for k in keys], base=first)
    fresh = LexicalIndex.build(keys, [docs[k] for k in keys])
    ref = _reference([t for k in keys for t in docs[k]])
    for q in QUERIES:
        np.testing.assert_array_equal(later.scores(q), fresh.scores(q))
        np.testing.assert_array_equal(later.scores(q), _ref_scores(ref, len(later), q))


def test_empty_index():
    index = LexicalIndex.build([], [])
    assert len(index) == 0 and index.scores("troops").shape == (0,)


def test_tokenize_equals_bm25s():
    texts = ["The U.S. has 2,500 troops in Iraq; it's been there since 2014.",
             "Ünïcode wörds — and “quotes”, naïve café résumés", "", "a an the", "Running runners ran"]
    expected = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), return_ids=False,
                              show_progress=False)
    assert tokenize(texts) == expected
    assert tokenize(texts) == expected  # the second time from the stem cache


def test_a_saved_index_loads_with_the_same_scores(tmp_path):
    """Start-up reads the saved BM25 statistics instead of re-tokenising every chunk: what it
    reads must score exactly as what was built, and take further writes the same way."""
    rng = np.random.default_rng(11)
    docs = _corpus(rng, 40)
    keys = sorted(docs)
    built = LexicalIndex.build(keys, [docs[k] for k in keys])
    built.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert len(loaded) == len(built) and loaded.order == built.order
    for q in QUERIES:
        np.testing.assert_array_equal(loaded.scores(q), built.scores(q))
    docs["doc999"] = _corpus(rng, 1)["doc000"]
    keys = sorted(docs)
    after_load = LexicalIndex.build(keys, [docs[k] for k in keys], base=loaded)
    fresh = LexicalIndex.build(keys, [docs[k] for k in keys])
    for q in QUERIES:
        np.testing.assert_array_equal(after_load.scores(q), fresh.scores(q))
