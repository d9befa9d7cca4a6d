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
                        "q_absent", "span", "q_words")
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
    node of every tree is one test (its feature and threshold), and a row's leaf in a tree is
    the leftmost leaf that none of the tree's failed tests (``x > threshold``) rules out. Each
    node's ``mask`` has a bit per leaf of its tree, cleared for the leaves of its left subtree.
    A handful of array operations per question, whatever the number of trees."""

    def __init__(self, file: ModelFile, names: tuple[str, ...]) -> None:
        _check_features(file, names)
        self.meta = file.meta
        a = file.arrays
        self.table = TreeTable(a["feature"], a["threshold"], a["tree"], a["mask"], a["values"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.table.logits(x)


class TreeTable:
    """The nodes of every tree in slots: slot ``s`` holds each tree's ``s``-th internal node
    (a test that never fails where a tree has fewer), so that a row's surviving leaves in every
    tree are one AND over slots. ``feature``, ``threshold``, ``tree``, ``mask``: per internal
    node, trees one after another; ``values``: (trees, leaves) leaf values, left to right."""

    def __init__(self, feature: np.ndarray, threshold: np.ndarray, tree: np.ndarray,
                 mask: np.ndarray, values: np.ndarray) -> None:
        self.values = values
        n_trees = values.shape[0]
        starts = np.flatnonzero(np.r_[True, tree[1:] != tree[:-1]]) if len(tree) else tree
        counts = np.diff(np.r_[starts, len(tree)]).astype(np.int64)
        slots = int(counts.max()) if len(counts) else 0
        # A tree of s internal nodes has s + 1 leaves; 16 bits hold the masks of the usual 15.
        self.bits = np.uint16 if slots < 16 else np.uint32
        full = self.bits(np.iinfo(self.bits).max)
        self.feature = np.zeros((slots, n_trees), np.int64)
        self.threshold = np.full((slots, n_trees), np.inf)
        self.mask = np.full((slots, n_trees), full, self.bits)
        slot = np.arange(len(tree)) - np.repeat(starts, counts)
        self.feature[slot, tree] = feature
        self.threshold[slot, tree] = threshold
        self.mask[slot, tree] = mask.astype(self.bits)  # the dropped high bits are never leaves
        # float32 features are compared with thresholds rounded down to float32: for a float32
        # x, ``x > t`` and ``x > round_down(t)`` agree, and the comparison reads half the bytes.
        t32 = self.threshold.astype(np.float32)
        up = t32.astype(np.float64) > self.threshold
        t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
        self.threshold32 = t32
        self.feature, self.threshold, self.threshold32, self.mask = (
            a.reshape(-1) for a in (self.feature, self.threshold, self.threshold32, self.mask))
        self.slots = slots

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Each row's sum over trees of its leaf's value."""
        n_trees = self.values.shape[0]
        if not self.slots or not len(x):
            leaf = np.zeros((len(x), n_trees), np.int64)
            return self.values[np.arange(n_trees)[None, :], leaf].sum(axis=1)
        x = np.asarray(x)
        wide = x.dtype != np.float32
        xt = np.ascontiguousarray(x.T, np.float64 if wide else np.float32)  # (features, rows)
        threshold = self.threshold if wide else self.threshold32
        failed = (xt[self.feature] > threshold[:, None]).view(np.uint8).astype(self.bits)
        # a failed test keeps its mask; a passed one keeps every leaf (0 - 1 wraps to all ones)
        masks = (self.mask[:, None] | (failed - self.bits(1))).reshape(self.slots, n_trees, len(x))
        alive = np.bitwise_and.reduce(masks, axis=0)  # (trees, rows)
        lowest = alive & (~alive + self.bits(1))  # the leftmost leaf still possible
        leaf = np.log2(lowest.astype(np.float64)).astype(np.int64)
        return self.values[np.arange(n_trees)[None, :], np.ascontiguousarray(leaf.T)].sum(axis=1)


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
             n_sentences: int, question_words: int) -> np.ndarray:
    """The calibrator's inputs for candidate ``top``: see ``CALIBRATION_FEATURES``. ``groups``:
    ``answer_groups`` of the candidates' texts; ``question_words``: how long the question is
    (a quiz question's long preamble matches its evidence in other ways than a short one).

    ``margin`` is the lead over the best candidate that gives a different answer (a span of
    the same words elsewhere is the same answer, not a rival)."""
    same = groups == groups[top]
    margin = float(logits[top] - logits[~same].max()) if not same.all() else 10.0
    e = np.exp(logits - logits.max())
    share = float(e[same].sum() / e.sum())
    row = features[top]
    return np.array([logits[top], min(margin, 10.0), share, row[_AT["cov"]], row[_AT["dense"]],
                     row[_AT["type_p"]], n_sentences, row[_AT["q_absent"]], row[_AT["span"]],
                     np.log1p(question_words)], dtype=np.float64)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())
