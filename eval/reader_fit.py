"""Fitting the reader's three models (answer types, candidate ranker, confidence calibration)
with scikit-learn, and the cross-validated figures that say how well each does on data it was
not fitted on. ``eval/train_reader.py`` drives it; the service reads only the fitted weights.

Every fold splits by article (``Example.group``): questions about one article never sit on
both sides, or the figures would flatter the models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from eval.metrics import answers_equal, answers_match
from eval.reader_data import Example
from service.reader.features import FEATURES, featurize
from service.reader.ranker import CALIBRATION_FEATURES, answer_groups, standing
from service.reader.spans import KINDS
from service.reader.types import lexical_features

MIN_FEATURE_COUNT = 3  # a lexical feature seen fewer times is noise to the type model


def label(text: str, answers: list[str]) -> bool | None:
    """True for a span that is a gold answer, False for one that is not, None for a span that
    contains one with a little more ("2,500 soldiers" for "2,500"): neither, so left out."""
    if answers_equal(text, answers):
        return True
    return None if answers_match(text, answers) else False


# -- the answer-type model ---------------------------------------------------------------------

@dataclass
class TypeFit:
    vocabulary: list[str]
    dense: np.ndarray  # (K, dim)
    sparse: np.ndarray  # (K, V)
    bias: np.ndarray  # (K,)

    def probs(self, examples: Sequence[Example]) -> np.ndarray:
        index = {f: i for i, f in enumerate(self.vocabulary)}
        out = np.zeros((len(examples), len(KINDS)))
        for r, ex in enumerate(examples):
            cols = [index[f] for f in set(lexical_features(ex.question)) if f in index]
            z = self.bias + self.dense @ ex.question.vector + self.sparse[:, cols].sum(axis=1)
            e = np.exp(z - z.max())
            out[r] = e / e.sum()
        return out


def _type_matrix(examples: Sequence[Example], vocabulary: list[str]) -> sparse.csr_matrix:
    index = {f: i for i, f in enumerate(vocabulary)}
    rows, cols = [], []
    for r, ex in enumerate(examples):
        for f in set(lexical_features(ex.question)):
            if f in index:
                rows.append(r)
                cols.append(index[f])
    lexical = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                shape=(len(examples), len(vocabulary)))
    dense = np.vstack([ex.question.vector for ex in examples])
    return sparse.hstack([sparse.csr_matrix(dense), lexical]).tocsr()


def fit_types(examples: Sequence[Example], kinds: Sequence[int], c: float) -> TypeFit:
    counts: dict[str, int] = {}
    for ex in examples:
        for f in set(lexical_features(ex.question)):
            counts[f] = counts.get(f, 0) + 1
    vocabulary = sorted(f for f, n in counts.items() if n >= MIN_FEATURE_COUNT)
    x = _type_matrix(examples, vocabulary)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, np.asarray(kinds))
    dim = len(examples[0].question.vector)
    dense = np.zeros((len(KINDS), dim))
    lex = np.zeros((len(KINDS), len(vocabulary)))
    bias = np.full(len(KINDS), -20.0)  # a kind never seen in training is never expected
    coef = model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_[0], model.coef_[0]])
    icpt = (model.intercept_ if len(model.classes_) > 2
            else np.array([-model.intercept_[0], model.intercept_[0]]))
    for row, k in enumerate(model.classes_):
        dense[k], lex[k], bias[k] = coef[row, :dim], coef[row, dim:], icpt[row]
    return TypeFit(vocabulary, dense, lex, bias)


def out_of_fold_types(examples: Sequence[Example], kinds: Sequence[int | None], c: float,
                      folds: int = 5) -> np.ndarray:
    """Each example's type probabilities from a model that did not see its article."""
    probs = np.zeros((len(examples), len(KINDS)))
    groups = [ex.group for ex in examples]
    for train, test in GroupKFold(folds).split(np.zeros(len(examples)), groups=groups):
        fit_on = [i for i in train if kinds[i] is not None]
        fit = fit_types([examples[i] for i in fit_on], [kinds[i] for i in fit_on], c)
        probs[test] = fit.probs([examples[i] for i in test])
    return probs


# -- the ranker ----------------------------------------------------------------------------------

@dataclass
class Candidates:
    """Every candidate of every example, as one feature matrix."""

    x: np.ndarray  # (n, F)
    y: np.ndarray  # 1 right, 0 wrong, -1 neither (left out of fitting)
    example: np.ndarray  # (n,) index of the example
    texts: list[str]


def candidate_matrix(examples: Sequence[Example], type_probs: np.ndarray,
                     span_scores: Sequence[list] | None = None) -> Candidates:
    xs, ys, owner, texts = [], [], [], []
    for i, ex in enumerate(examples):
        x, which = featurize(ex.question, type_probs[i], ex.sentences,
                             span_scores[i] if span_scores is not None else None)
        for row, (si, span) in zip(x, which, strict=True):
            text = ex.sentences[si].text[span.start : span.end]
            y = label(text, ex.answers) if ex.answers else False
            xs.append(row)
            ys.append(-1 if y is None else int(y))
            owner.append(i)
            texts.append(text)
    x = np.vstack(xs) if xs else np.zeros((0, len(FEATURES)), np.float32)
    return Candidates(x, np.asarray(ys), np.asarray(owner), texts)


@dataclass
class LinearFit:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": np.asarray(self.intercept)}


def fit_linear(x: np.ndarray, y: np.ndarray, c: float, balanced: bool = False) -> LinearFit:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y)
    return LinearFit(mean, scale, model.coef_[0], float(model.intercept_[0]))


def _rankable(x: np.ndarray, y: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, ...]:
    """The candidates a ranker learns from: those of questions with a right candidate, less the
    "neither" ones (label -1)."""
    keep = y >= 0
    has_right = np.zeros(owner.max() + 1 if len(owner) else 0, bool)
    has_right[owner[y == 1]] = True
    keep &= has_right[owner]
    return x[keep], y[keep], owner[keep]


def fit_listwise(x: np.ndarray, y: np.ndarray, owner: np.ndarray, l2: float) -> LinearFit:
    """A conditional logit: per question, a softmax over its candidates, fitted to put the
    probability on its right ones (the objective is the choice the reader makes, not each
    candidate on its own). Questions without a right candidate teach it nothing and are left
    out, as are the "neither" candidates (label -1). ``l2`` is the ridge penalty per question."""
    from scipy.optimize import minimize

    x, y, owner = _rankable(x, y, owner)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = (x - mean) / scale
    _, q = np.unique(owner, return_inverse=True)
    n_q = q.max() + 1
    pos = y == 1

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = xs @ w
        zmax = np.full(n_q, -np.inf)
        np.maximum.at(zmax, q, z)
        e = np.exp(z - zmax[q])
        all_sum = np.bincount(q, e, n_q)
        pos_sum = np.bincount(q, e * pos, n_q)
        value = float(np.sum(np.log(all_sum) - np.log(pos_sum))) + 0.5 * l2 * n_q * w @ w
        # d/dz: softmax over all minus softmax over the right ones
        g_z = e / all_sum[q] - np.where(pos, e / pos_sum[q], 0.0)
        return value, xs.T @ g_z + l2 * n_q * w

    w0 = np.zeros(x.shape[1])
    res = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return LinearFit(mean, scale, res.x, 0.0)


@dataclass
class TreeFit:
    """Boosted trees in the layout ``service.reader.ranker.Trees`` evaluates."""

    feature: np.ndarray  # (nodes,) per internal node, trees one after another
    threshold: np.ndarray
    tree: np.ndarray
    mask: np.ndarray  # uint32: the leaves of the node's tree still possible when its test fails
    values: np.ndarray  # (trees, 32) leaf values, leaves in left-to-right order

    def logits(self, x: np.ndarray) -> np.ndarray:
        from service.reader.ranker import TreeTable

        return TreeTable(self.feature, self.threshold, self.tree, self.mask, self.values).logits(x)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"feature": self.feature, "threshold": self.threshold, "tree": self.tree,
                "mask": self.mask, "values": self.values}


# LambdaRank's settings. Chosen by the cross-validated figures of a small grid (objective
# lambdarank / rank_xendcg / binary; 15 leaves x 300 rounds / 31 x 500: eval/README.md), not by
# held-out questions.
TREE_PARAMS = {"objective": "lambdarank", "lambdarank_truncation_level": 10, "learning_rate": 0.05,
               "num_leaves": 15, "min_data_in_leaf": 50, "feature_fraction": 0.8,
               "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1,
               "seed": 0, "deterministic": True, "force_row_wise": True}
TREE_ROUNDS = 300


def fit_trees(x: np.ndarray, y: np.ndarray, owner: np.ndarray, rounds: int = TREE_ROUNDS,
              threads: int = 0) -> TreeFit:
    """LambdaRank trees (LightGBM) that order each question's candidates, right ones first.
    As in ``fit_listwise``, questions without a right candidate and "neither" candidates are
    left out."""
    import lightgbm

    x, y, owner = _rankable(x, y, owner)
    order = np.argsort(owner, kind="stable")
    x, y, owner = x[order], y[order], owner[order]
    _, sizes = np.unique(owner, return_counts=True)
    data = lightgbm.Dataset(x, y, group=sizes)
    booster = lightgbm.train({**TREE_PARAMS, "num_threads": threads}, data, num_boost_round=rounds)
    return flatten_trees(booster)


def flatten_trees(booster) -> TreeFit:
    """A LightGBM booster's trees as ``TreeFit`` arrays (numerical splits only, <= 32 leaves)."""
    nodes: dict[str, list] = {"feature": [], "threshold": [], "tree": [], "mask": []}
    trees = booster.dump_model()["tree_info"]
    values = np.zeros((len(trees), 32))
    for t, info in enumerate(trees):
        leaves: list[float] = []
        _walk(info["tree_structure"], t, nodes, leaves)
        if len(leaves) > 32:
            raise ValueError("a tree with more than 32 leaves")
        values[t, : len(leaves)] = leaves
    return TreeFit(np.array(nodes["feature"], np.int32), np.array(nodes["threshold"], np.float64),
                   np.array(nodes["tree"], np.int32), np.array(nodes["mask"], np.uint32), values)


def _walk(node: dict, tree: int, nodes: dict[str, list], leaves: list[float]) -> tuple[int, int]:
    """Append ``node``'s subtree (internal nodes to ``nodes``, leaves in left-to-right order to
    ``leaves``); return its (first, last) leaf."""
    if "leaf_value" in node:
        leaves.append(node["leaf_value"])
        return len(leaves) - 1, len(leaves) - 1
    # numpy's evaluation sends every row by ``x <= threshold`` alone: a split that routes
    # missing values (NaN, or zero as missing) its own way would score differently.
    if node["decision_type"] != "<=" or node.get("missing_type", "None") != "None":
        raise ValueError(f"unsupported split {node['decision_type']!r} "
                         f"(missing values: {node.get('missing_type')!r})")
    at = len(nodes["feature"])
    for key, value in (("feature", node["split_feature"]), ("threshold", node["threshold"]),
                       ("tree", tree), ("mask", 0)):
        nodes[key].append(value)
    first, last_left = _walk(node["left_child"], tree, nodes, leaves)
    _, last = _walk(node["right_child"], tree, nodes, leaves)
    nodes["mask"][at] = 0xFFFFFFFF & ~sum(1 << k for k in range(first, last_left + 1))
    return first, last


def out_of_fold_logits(cands: Candidates, examples: Sequence[Example], l2: float,
                       folds: int = 5) -> np.ndarray:
    """Each candidate's ranker score from a ranker that did not see its article."""
    z = np.zeros(len(cands.y))
    groups = np.array([examples[i].group for i in cands.example])
    for train, test in GroupKFold(folds).split(cands.x, groups=groups):
        fit = fit_listwise(cands.x[train], cands.y[train], cands.example[train], l2)
        z[test] = fit.logits(cands.x[test])
    return z


# -- choosing and calibrating --------------------------------------------------------------------

@dataclass
class Choice:
    example: int
    candidate: int | None  # row in Candidates, None when the example has no candidate
    text: str | None
    standing: np.ndarray | None


def choose(cands: Candidates, logits: np.ndarray, examples: Sequence[Example]) -> list[Choice]:
    """Each example's best candidate and what the calibrator reads about it."""
    out = []
    for i, ex in enumerate(examples):
        rows = np.flatnonzero(cands.example == i)
        if not len(rows):
            out.append(Choice(i, None, None, None))
            continue
        z = logits[rows]
        top = int(np.argmax(z))
        texts = [cands.texts[r] for r in rows]
        st = standing(z, answer_groups(texts), top, cands.x[rows], len(ex.sentences),
                      len(ex.question.words))
        out.append(Choice(i, int(rows[top]), texts[top], st))
    return out


def correct(choice: Choice, example: Example) -> bool:
    return bool(example.answers) and choice.text is not None and answers_match(choice.text, example.answers)


def out_of_fold_confidence(choices: Sequence[Choice], examples: Sequence[Example], c: float,
                           folds: int = 5) -> np.ndarray:
    """Each example's calibrated confidence from a calibrator that did not see its article."""
    have = [k for k, ch in enumerate(choices) if ch.standing is not None]
    x = np.vstack([choices[k].standing for k in have])
    y = np.array([correct(choices[k], examples[k]) for k in have], dtype=int)
    groups = np.array([examples[k].group for k in have])
    conf = np.zeros(len(choices))
    out = np.zeros(len(have))
    for train, test in GroupKFold(folds).split(x, groups=groups):
        fit = fit_linear(x[train], y[train], c)
        out[test] = 1 / (1 + np.exp(-fit.logits(x[test])))
    conf[have] = out
    return conf


def fit_calibrator(choices: Sequence[Choice], examples: Sequence[Example], c: float) -> LinearFit:
    have = [k for k, ch in enumerate(choices) if ch.standing is not None]
    x = np.vstack([choices[k].standing for k in have])
    y = np.array([correct(choices[k], examples[k]) for k in have], dtype=int)
    return fit_linear(x, y, c)


def fit_threshold(choices: Sequence[Choice], examples: Sequence[Example], confidence: np.ndarray) -> float:
    """The confidence below which the reader declines: the one that makes the most right
    decisions on these (out-of-fold) choices, a right decision being a right answer to an
    answerable question or a decline of an unanswerable one. Of equally good thresholds, the
    highest (declining is the safer mistake)."""
    conf = np.asarray(confidence, dtype=float)
    right = np.array([correct(ch, ex) for ch, ex in zip(choices, examples, strict=True)])
    unanswerable = np.array([not ex.answers for ex in examples])
    answered = np.array([ch.text is not None for ch in choices])
    points = np.unique(np.concatenate([conf[answered], [0.5, 1.0]]))
    score = [int(np.sum(right & (conf >= t)) + np.sum(unanswerable & ~(answered & (conf >= t))))
             for t in points]
    best = max(score)
    return float(max(t for t, s in zip(points, score, strict=True) if s == best))


def summary(choices: Sequence[Choice], examples: Sequence[Example], confidence: np.ndarray,
            threshold: float = 0.5, select: Callable[[Example], bool] = lambda ex: True) -> dict:
    """Right / declined figures over the selected examples, answering at ``threshold``."""
    from eval.metrics import calibration, exact_match, token_f1

    picked = [(ch, ex, conf) for ch, ex, conf in zip(choices, examples, confidence, strict=True)
              if select(ex)]
    answerable = [(ch, ex, conf) for ch, ex, conf in picked if ex.answers]
    unanswerable = [(ch, ex, conf) for ch, ex, conf in picked if not ex.answers]
    given = lambda ch, conf: ch.text if ch.text is not None and conf >= threshold else None  # noqa: E731
    right = sum(answers_match(given(ch, conf), ex.answers) for ch, ex, conf in answerable)
    top1 = sum(answers_match(ch.text, ex.answers) for ch, ex, _ in answerable)
    declined = sum(given(ch, conf) is None for ch, ex, conf in unanswerable)
    em = [exact_match(given(ch, conf), ex.answers) for ch, ex, conf in answerable]
    f1 = [token_f1(given(ch, conf), ex.answers) for ch, ex, conf in answerable]
    pairs = [(conf, bool(ex.answers) and answers_match(ch.text, ex.answers))
             for ch, ex, conf in picked if given(ch, conf) is not None]
    cal = calibration(pairs)
    return {
        "questions": len(picked), "answerable": len(answerable), "right": right,
        "right_if_always_answering": top1, "unanswerable": len(unanswerable), "declined": declined,
        "em": 100 * float(np.mean(em)) if em else None, "f1": 100 * float(np.mean(f1)) if f1 else None,
        "ece": cal.get("ece") if isinstance(cal, dict) else getattr(cal, "ece", None),
    }


__all__ = ["CALIBRATION_FEATURES", "label", "fit_types", "out_of_fold_types", "candidate_matrix",
           "fit_linear", "fit_listwise", "fit_trees", "flatten_trees", "TreeFit", "out_of_fold_logits", "choose", "out_of_fold_confidence",
           "fit_calibrator", "fit_threshold", "summary"]
