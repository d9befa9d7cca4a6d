"""The fitted candidate ranker and the calibration of its confidence.

Both are logistic regressions whose weights ``python -m eval.train_reader`` fits and ships
(``models.py``): the ranker scores every candidate from its features (``features.py``); the
calibrator turns the best candidate's standing (its score, its lead over the best other answer,
its share of the question's probability mass, the evidence behind it) into the probability that
it is right, fitted on held-out folds so that "0.8" is right about 80% of the time.
"""

from __future__ import annotations

import numpy as np

from service.reader.features import FEATURES
from service.reader.models import ModelFile, load

RANKER = "ranker"
CALIBRATOR = "calibrator"
# What the calibrator reads about the best candidate of a question.
CALIBRATION_FEATURES = ("logit", "margin", "share", "cov", "dense", "type_p", "n_sentences",
                        "q_absent", "span")


class Linear:
    """A standardised linear model: ``(x - mean) / scale @ coef + intercept``."""

    def __init__(self, file: ModelFile, names: tuple[str, ...]) -> None:
        fitted = tuple(file.meta["features"])
        if fitted != names:
            raise ValueError(
                f"the {file.name} model was fitted on other features ({len(fitted)} names) than "
                f"this reader computes ({len(names)}): train it again (python -m eval.train_reader)"
            )
        self.meta = file.meta
        self.mean = file.arrays["mean"]
        self.scale = file.arrays["scale"]
        self.coef = file.arrays["coef"]
        self.intercept = float(file.arrays["intercept"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


class Ranker(Linear):
    def __init__(self, file: ModelFile) -> None:
        super().__init__(file, FEATURES)

    @classmethod
    def load(cls) -> Ranker:
        return cls(load(RANKER))


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


def standing(logits: np.ndarray, texts: list[str], top: int, features: np.ndarray,
             n_sentences: int) -> np.ndarray:
    """The calibrator's inputs for candidate ``top``: see ``CALIBRATION_FEATURES``.

    ``margin`` is the lead over the best candidate that gives a different answer (a span of
    the same words elsewhere is the same answer, not a rival)."""
    from service.reader.features import FEATURES as F

    idx = {n: i for i, n in enumerate(F)}
    key = _norm(texts[top])
    others = [z for z, t in zip(logits, texts, strict=True) if _norm(t) != key]
    margin = float(logits[top] - max(others)) if others else 10.0
    e = np.exp(logits - logits.max())
    share = float(e[[i for i, t in enumerate(texts) if _norm(t) == key]].sum() / e.sum())
    row = features[top]
    return np.array([logits[top], min(margin, 10.0), share, row[idx["cov"]], row[idx["dense"]],
                     row[idx["type_p"]], n_sentences, row[idx["q_absent"]], row[idx["span"]]],
                    dtype=np.float64)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())
