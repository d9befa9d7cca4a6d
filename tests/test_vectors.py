import numpy as np
import pytest

from index.vectors import VectorIndex, recall_at_k


def _normalised(rng, n, dim):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("n,dim,k", [(1, 8, 1), (500, 32, 10), (2000, 384, 25)])
def test_faiss_topk_matches_bruteforce_numpy(n, dim, k):
    rng = np.random.default_rng(n + dim)
    data, queries = _normalised(rng, n, dim), _normalised(rng, 7, dim)
    scores, ids = VectorIndex(data).search(queries, k)
    expected = np.argsort(-(queries @ data.T), axis=1, kind="stable")[:, : min(k, n)]
    exact = np.take_along_axis(queries @ data.T, expected, axis=1)
    np.testing.assert_allclose(scores, exact, rtol=1e-5, atol=1e-5)
    # Ids agree wherever scores are not tied.
    assert (ids == expected).mean() > 0.99


def test_k_is_capped_and_validated():
    index = VectorIndex(np.eye(3, dtype=np.float32))
    _scores, ids = index.search(np.array([1, 0, 0], dtype=np.float32), k=10)
    assert ids.tolist() == [[0, 1, 2]] or ids[0, 0] == 0
    assert ids.shape == (1, 3)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(np.eye(3, dtype=np.float32), k=0)


def test_empty_index_returns_nothing():
    _scores, ids = VectorIndex(np.zeros((0, 4), dtype=np.float32)).search(np.ones(4), k=3)
    assert ids.shape == (1, 0)


def _clustered(rng, n, dim, centres=64, spread=0.35):
    """Topic-like data: points around random centres (uniform random vectors have no
    neighbourhoods, so no inverted file can find them cheaply)."""
    c = _normalised(rng, centres, dim)
    v = c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_ivf_recall_against_bruteforce_numpy():
    both = _clustered(np.random.default_rng(5), 6100, 48)
    data, queries = both[:6000], both[6000:]  # the same topics, but not stored vectors
    index = VectorIndex(data, kind="ivf")
    assert index.kind == "ivf" and 1 <= index.nprobe <= index.nlist
    assert index.calibrated_recall >= 0.99 or index.nprobe == index.nlist
    _, ids = index.search(queries, 10)
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    # Approximate: a bound, not an exact match.
    assert recall_at_k(ids, exact) >= 0.95


def test_auto_picks_exact_search_for_small_corpora():
    data = _normalised(np.random.default_rng(0), 100, 8)
    assert VectorIndex(data).kind == "flat"
    assert VectorIndex(data, kind="ivf").kind == "ivf"


def test_ivf_reuses_trained_lists_of_a_similar_corpus():
    rng = np.random.default_rng(8)
    data = _clustered(rng, 4000, 32)
    first = VectorIndex(data, kind="ivf")
    more = VectorIndex(np.vstack([data, _clustered(rng, 500, 32)]), kind="ivf", base=first)
    assert (more.nlist, more.nprobe, more.trained_rows) == (first.nlist, first.nprobe, 4000)
    assert len(more) == 4500
    doubled = VectorIndex(np.vstack([data] * 3), kind="ivf", base=first)
    assert doubled.trained_rows == 12000  # outgrew its centroids: trained again


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_allowed_mask_search_is_exact(kind):
    rng = np.random.default_rng(3)
    data, queries = _clustered(rng, 3000, 32), _clustered(rng, 5, 32)
    allowed = rng.random(3000) < 0.05
    scores, ids = VectorIndex(data, kind=kind).search(queries, 20, allowed=allowed)
    sims = np.where(allowed, queries @ data.T, -np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :20]
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), rtol=1e-5, atol=1e-5)
    assert allowed[ids[ids >= 0]].all()


def test_allowed_mask_with_fewer_rows_than_k():
    data = _normalised(np.random.default_rng(1), 50, 8)
    allowed = np.zeros(50, bool)
    allowed[[3, 9]] = True
    _, ids = VectorIndex(data).search(data[:1], 10, allowed=allowed)
    assert sorted(i for i in ids[0] if i >= 0) == [3, 9]
