"""The training commands stay runnable: each runs for a few steps on a tiny sample and writes
model files the service loads (full training is not part of CI; see eval/README.md)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.reader_data import SQUAD_DIR, Example
from eval.reader_fit import Choice, fit_threshold
from service.reader import models
from service.reader.evidence import Question
from service.reader.order import SentenceOrder
from service.reader.ranker import Calibrator, Ranker
from service.reader.span_model import SpanModel
from service.reader.types import TypeModel

pytestmark = pytest.mark.integration
# The commands train on ../shared/datasets (never copied into the project): without it they
# cannot run.
needs_data = pytest.mark.skipif(not SQUAD_DIR.is_dir(), reason=f"needs the SQuAD subset at {SQUAD_DIR}")
ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@needs_data
def test_train_reader_quick_writes_models_the_service_loads(tmp_path):
    _run("eval.train_reader", "--quick", "--out", str(tmp_path), "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["cross_validated"]["seed"]["questions"] > 0
    assert report["sentence_order"]["questions"] > 0
    models.load.cache_clear()
    try:
        types = TypeModel(models.load("answer_types", tmp_path))
        SentenceOrder(models.load("sentence_order", tmp_path))
        Ranker(models.load("ranker", tmp_path))
        calibrator = Calibrator(models.load("calibrator", tmp_path))
    finally:
        models.load.cache_clear()
    assert 0.0 <= calibrator.abstain_below <= 1.0
    assert calibrator.abstain_below == report["abstain_below"] or \
        abs(calibrator.abstain_below - report["abstain_below"]) < 1e-4
    assert json.loads((tmp_path / "calibrator.json").read_text())["quick"] is True
    probs = types.probs(Question.of("how many buses", np.zeros(384, np.float32), lambda s: 1.0))
    assert probs.shape[0] > 0 and abs(float(probs.sum()) - 1.0) < 1e-4


@needs_data
def test_train_span_reader_smoke_run_writes_a_checked_onnx_file(tmp_path):
    _run("eval.train_span_reader", "--limit", "16", "--epochs", "1", "--batch", "8", "--no-written",
         "--negatives", "2", "--hard-negatives", "--keep-fp32", "--out", str(tmp_path))
    span = SpanModel.load(tmp_path)
    assert span.meta["sha256"] == models.sha256(tmp_path / "span_reader.onnx")
    # the float model stays beside it, to measure what quantising costs
    assert (tmp_path / "span_reader.fp32.onnx").stat().st_size > 2 * (tmp_path / "span_reader.onnx").stat().st_size
    assert len(span.score("How many buses?", ["The council bought 120 buses."])) == 1


def test_the_hard_negative_is_the_sentence_that_shares_most_of_the_questions_words():
    from eval.train_span_reader import _negatives

    text = ("Britain keeps 400 trainers in Jordan. Washington has 2,500 soldiers in Iraq. "
            "The coalition was formed in 2014.")
    spans = [(0, 37), (38, 78), (79, 112)]
    question = "How many British soldiers are deployed in Iraq?"
    for seed in range(5):
        rng = random.Random(seed)
        assert _negatives(question, text, spans, 1, rng, hard=True) == [(38, 78)]
        two = _negatives(question, text, spans, 2, rng, hard=True)
        assert two[0] == (38, 78) and two[1] in spans and two[1] != two[0]
    assert _negatives(question, text, spans, 0, random.Random(0), hard=True) == []
    # without ``hard`` the draw is the old recipe's: the rng's own choice
    assert _negatives(question, text, spans, 1, random.Random(3), hard=False) == \
        [random.Random(3).choice(spans)]


def _example(answers: list[str]) -> Example:
    return Example("q", Question("q?", np.zeros(3), ("q",), ""), [], answers, "g", "seed")


def test_the_threshold_makes_the_most_right_decisions():
    """Answer the answerable questions the reader gets right, decline the rest: of the
    thresholds that do, the highest."""
    examples = [_example(["120"]), _example(["120"]), _example([]), _example(["9"])]
    choices = [Choice(0, 0, "120", None), Choice(1, 0, "120", None), Choice(2, 0, "50", None),
               Choice(3, 0, "7", None)]
    conf = np.array([0.3, 0.9, 0.2, 0.25])
    # at 0.3: both right answers given, the unanswerable and the wrong one declined
    assert fit_threshold(choices, examples, conf) == pytest.approx(0.3)
