"""The ranker's trees: what LightGBM fits at training time, numpy scores at serving time, to the
same numbers (serving never imports LightGBM)."""

from __future__ import annotations

import numpy as np
import pytest

from eval.reader_fit import fit_trees, flatten_trees
from service.reader import models
from service.reader.features import FEATURES
from service.reader.ranker import Ranker

lightgbm = pytest.importorskip("lightgbm")


def _data(n: int = 4000, f: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    x[:, 3] = rng.integers(0, 2, n)  # a flag, as many features are
    x[:, 4] = np.round(x[:, 4])  # ties at the thresholds
    # an interaction a linear model cannot express
    y = ((x[:, 0] + x[:, 3] * x[:, 1] - 0.5 * x[:, 4]) > 0.4).astype(int)
    return x, y


@pytest.mark.parametrize(("objective", "leaves"), [("binary", 31), ("lambdarank", 31),
                                                   ("lambdarank", 15)])
def test_flattened_trees_score_as_lightgbm_does(objective, leaves):
    x, y = _data()
    group = np.full(len(x) // 20, 20) if objective == "lambdarank" else None
    booster = lightgbm.train({"objective": objective, "num_leaves": leaves, "min_data_in_leaf": 5,
                              "verbose": -1, "seed": 0}, lightgbm.Dataset(x, y, group=group),
                             num_boost_round=60)
    trees = flatten_trees(booster)
    test, _ = _data(500, seed=1)
    splits = trees.threshold[trees.feature == 0]
    at = np.float32(splits[0]) if len(splits) else np.float32(0.0)
    test[:50, 0] = at  # rows at a split point (as float32) and at the float32s either side
    test[50:100, 0] = np.nextafter(at, np.float32(np.inf))
    test[100:150, 0] = np.nextafter(at, np.float32(-np.inf))
    expected = booster.predict(test, raw_score=True)
    np.testing.assert_allclose(trees.logits(test), expected, atol=1e-9)
    # float64 rows take the float64 thresholds, to the same leaves
    np.testing.assert_allclose(trees.logits(test.astype(np.float64)), expected, atol=1e-9)


def test_a_model_of_single_leaf_trees_scores_its_constant():
    x, y = _data(200)
    booster = lightgbm.train({"objective": "binary", "min_data_in_leaf": 1000, "verbose": -1},
                             lightgbm.Dataset(x, y), num_boost_round=3)
    trees = flatten_trees(booster)
    assert len(trees.feature) == 0
    np.testing.assert_allclose(trees.logits(x[:7]), booster.predict(x[:7], raw_score=True), atol=1e-12)


def test_trees_that_route_missing_values_their_own_way_are_refused():
    x, y = _data()
    x[::7, 0] = np.nan  # LightGBM learns where NaN goes; numpy's ``x <= t`` cannot follow it
    booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, y),
                             num_boost_round=3)
    with pytest.raises(ValueError, match="missing values"):
        flatten_trees(booster)


def test_ranker_trees_put_each_questions_right_candidate_first():
    x, y = _data()
    owner = np.repeat(np.arange(len(x) // 20), 20)  # 200 questions of 20 candidates
    fit = fit_trees(x, y, owner, rounds=40, threads=1)
    z = fit.logits(x)
    firsts = [y[owner == q][np.argmax(z[owner == q])] for q in np.unique(owner) if y[owner == q].any()]
    assert np.mean(firsts) > 0.9


def test_a_trees_ranker_file_loads_and_scores_like_its_fit(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, len(FEATURES))).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(int)
    owner = np.repeat(np.arange(100), 20)
    fit = fit_trees(x, y, owner, rounds=20, threads=1)
    models.save("ranker", fit.arrays(), {"features": list(FEATURES), "model": "trees"}, tmp_path)
    try:
        ranker = Ranker(models.load("ranker", tmp_path))
    finally:
        models.load.cache_clear()
    np.testing.assert_array_equal(ranker.logits(x[:50]), fit.logits(x[:50]))
    assert ranker.logits(x[:0]).shape == (0,)
