"""The shipped reader models: they load offline, match the features this code computes, and a
file that is not the one described is refused (sha256)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from index.errors import ModelLoadError
from service.reader import models
from service.reader.features import FEATURES
from service.reader.order import ORDER_FEATURES, SentenceOrder
from service.reader.ranker import CALIBRATION_FEATURES, Calibrator, Ranker
from service.reader.span_model import SpanModel
from service.reader.spans import KINDS
from service.reader.types import TypeModel

NAMES = ("answer_types", "sentence_order", "ranker", "calibrator")


def test_every_model_is_shipped_described_and_checked():
    for name in NAMES:
        meta = json.loads((models.MODELS_DIR / f"{name}.json").read_text())
        assert meta["sha256"] == models.sha256(models.MODELS_DIR / f"{name}.npz")
        assert meta["trained_on"] and meta["command"].startswith("python -m eval.train_reader")
        assert not meta["quick"], "the shipped models come from a full training run"
    assert tuple(TypeModel.load().meta["kinds"]) == KINDS
    assert tuple(SentenceOrder.load().meta["features"]) == ORDER_FEATURES
    assert tuple(Ranker.load().meta["features"]) == FEATURES
    assert tuple(Calibrator.load().meta["features"]) == CALIBRATION_FEATURES
    span = SpanModel.load()
    assert span.meta["sha256"] == models.sha256(models.MODELS_DIR / "span_reader.onnx")


def test_a_tampered_model_file_is_refused(tmp_path):
    for suffix in ("npz", "json"):
        shutil.copy(models.MODELS_DIR / f"ranker.{suffix}", tmp_path / f"ranker.{suffix}")
    with np.load(tmp_path / "ranker.npz") as data:
        arrays = {k: data[k] for k in data.files}
    weights = "values" if "values" in arrays else "coef"  # trees' leaves, or a linear model's
    arrays[weights] = arrays[weights] * 2  # weights changed after training
    np.savez(tmp_path / "ranker.npz", **arrays)
    with pytest.raises(ModelLoadError, match="does not match its description"):
        models.load("ranker", tmp_path)


def test_a_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelLoadError, match="python -m eval.train_reader"):
        models.load("ranker", tmp_path)


def test_the_span_model_prefers_the_answer_to_no_answer():
    scores = SpanModel.load().score("How many US troops are in Iraq?", [
        "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria.",
        "The talks resumed on Sunday in Baghdad.",
    ])
    assert scores[0].span(15, 20) > 0 > scores[1].span(0, 9)  # "2,500" vs "The talks"


def test_more_threads_change_the_span_models_speed_not_its_scores():
    from service.config import Settings, available_cores
    from service.reader import make_reader

    question = "How many US troops are in Iraq?"
    sentences = _seed_sentences()
    one, four = (SpanModel.load(threads=n).score(question, sentences) for n in (1, 4))
    for a, b in zip(one, four, strict=True):
        assert np.array_equal(a.start, b.start) and np.array_equal(a.end, b.end)
        assert a.none == b.none
    assert make_reader(Settings(reader_threads=3)).span.threads == 3
    assert make_reader(Settings()).span.threads == available_cores()  # the default


def _seed_sentences() -> list[str]:
    """Sentences of the seed article, of every length it has."""
    from index.loaders import load_paths
    from index.sentences import sentence_spans
    from tests.conftest import CORPUS

    text = load_paths([CORPUS]).documents[0].text
    return [text[a:b] for a, b in sentence_spans(text)][:12]
