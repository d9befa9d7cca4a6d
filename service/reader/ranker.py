"""The fitted candidate ranker and the calibration of its confidence.

``python -m eval.train_reader`` fits both and ships them (``models.py``). The ranker scores every
candidate from its features (``features.py``): boosted trees (LambdaRank, fitted with LightGBM and
shipped as flat arrays that numpy evaluates, so serving needs no LightGBM) or, for a file fitted
with ``--ranker linear``, a conditional logit. The calibrator, a logistic regression, turns the
best candidate's standing (its score, its lead over the best other answer, its share of the
question's probability mass, the evidence behind it) into the probability that it is right,
fitted on held-out folds so that "0.8" is right about 80% of the time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.reader.features import FEATURES
from service.reader.models import ModelFile, load

RANKER = "ranker"
CALIBRATOR = "calibrator"
# What the calibrator reads about the best candidate of a question.
CALIBRATION_FEATURES = ("logit", "margin", "share", "cov", "dense", "type_p", "n_sentences",
                        "q_absent", "span")
_AT = {name: i for i, name in enumerate(FEATURES)}


def _check_features(file: ModelFile, names: tuple[str, ...]) -> None:
    fitted = tuple(file.meta["features"])
    if fitted != names:
        raise ValueError(
            f"the {file.name} model was fitted on other features ({len(fitted)} names) than "
            f"this reader computes ({len(names)}): train it again (python -m eval.train_reader)"
        )


class Linear:
    """A standardised linear model: ``(x - mean) / scale @ coef + intercept``."""

    def __init__(self, file: ModelFile, names: tuple[str, ...]) -> None:
        _check_features(file, names)
        self.meta = file.meta
        self.mean = file.arrays["mean"]
        self.scale = file.arrays["scale"]
        self.coef = file.arrays["coef"]
        self.intercept = float(file.arrays["intercept"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


class Trees:
    """A sum of regression trees, laid out for QuickScorer-style evaluation: every internal
    node of every tree is one column (its feature and threshold), and a row's leaf in a tree is
    the leftmost leaf that none of the tree's failed tests (``x > threshold``) rules out. Each
    node's ``mask`` has a bit per leaf of its tree, cleared for the leaves of its left subtree.
    A handful of array operations per question, whatever the number of trees."""

    def __init__(self, file: ModelFile, names: tuple[str, ...]) -> None:
        _check_features(file, names)
        self.meta = file.meta
        a = file.arrays
        self.feature, self.threshold = a["feature"], a["threshold"]
        self.mask, self.values = a["mask"], a["values"]
        self.starts, self.tree_of_start = tree_starts(a["tree"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return tree_logits(self.feature, self.threshold, self.mask, self.values, self.starts,
                           self.tree_of_start, x)


def tree_starts(tree: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each tree's run of internal nodes starts in ``tree`` (the node-to-tree array), and
    which tree each run is (single-leaf trees have none)."""
    if not len(tree):
        return tree, tree
    starts = np.flatnonzero(np.r_[True, tree[1:] != tree[:-1]])
    return starts, tree[starts]


def tree_logits(feature: np.ndarray, threshold: np.ndarray, mask: np.ndarray, values: np.ndarray,
                starts: np.ndarray, tree_of_start: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row's sum over trees of its leaf's value (see ``Trees``)."""
    n_trees = values.shape[0]
    alive = np.full((len(x), n_trees), np.uint32(0xFFFFFFFF))
    if len(feature) and len(x):
        failed = np.asarray(x, np.float64)[:, feature] > threshold
        masks = np.where(failed, mask, np.uint32(0xFFFFFFFF))
        alive[:, tree_of_start] = np.bitwise_and.reduceat(masks, starts, axis=1)
    lowest = alive & (~alive + np.uint32(1))  # the leftmost leaf still possible
    leaf = np.log2(lowest.astype(np.float64)).astype(np.int64)
    return values[np.arange(n_trees)[None, :], leaf].sum(axis=1)


class Ranker:
    """The candidate scorer the reader ships: trees, or a linear model (``meta["model"]``)."""

    def __init__(self, file: ModelFile) -> None:
        self.meta = file.meta
        model = file.meta.get("model", "linear")
        self.model = Trees(file, FEATURES) if model == "trees" else Linear(file, FEATURES)

    @classmethod
    def load(cls) -> Ranker:
        return cls(load(RANKER))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.model.logits(x)


class Calibrator(Linear):
    def __init__(self, file: ModelFile) -> None:
        super().__init__(file, CALIBRATION_FEATURES)
        # The confidence below which declining was right more often than answering, on the
        # training questions' out-of-fold confidences (0.5 for a file fitted before there was one).
        self.abstain_below = float(file.meta.get("abstain_below", 0.5))

    @classmethod
    def load(cls) -> Calibrator:
        return cls(load(CALIBRATOR))

    def confidence(self, x: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logits(x[None, :])[0])))


def answer_groups(texts: Sequence[str]) -> np.ndarray:
    """One id per distinct answer among candidate texts (case and spacing aside): spans of the
    same words in other places are the same answer, which ``standing`` needs."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(_norm(t), len(ids)) for t in texts], dtype=np.int64)


def standing(logits: np.ndarray, groups: np.ndarray, top: int, features: np.ndarray,
             n_sentences: int) -> np.ndarray:
    """The calibrator's inputs for candidate ``top``: see ``CALIBRATION_FEATURES``. ``groups``:
    ``answer_groups`` of the candidates' texts.

    ``margin`` is the lead over the best candidate that gives a different answer (a span of
    the same words elsewhere is the same answer, not a rival)."""
    same = groups == groups[top]
    margin = float(logits[top] - logits[~same].max()) if not same.all() else 10.0
    e = np.exp(logits - logits.max())
    share = float(e[same].sum() / e.sum())
    row = features[top]
    return np.array([logits[top], min(margin, 10.0), share, row[_AT["cov"]], row[_AT["dense"]],
                     row[_AT["type_p"]], n_sentences, row[_AT["q_absent"]], row[_AT["span"]]],
                    dtype=np.float64)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())
