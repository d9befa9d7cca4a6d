import numpy as np
import pytest

from index.vectors import VectorIndex


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
    scores, ids = index.search(np.array([1, 0, 0], dtype=np.float32), k=10)
    assert ids.tolist() == [[0, 1, 2]] or ids[0, 0] == 0
    assert ids.shape == (1, 3)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(np.eye(3, dtype=np.float32), k=0)


def test_empty_index_returns_nothing():
    scores, ids = VectorIndex(np.zeros((0, 4), dtype=np.float32)).search(np.ones(4), k=3)
    assert ids.shape == (1, 0)
