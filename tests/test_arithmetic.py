"""Computed answers: the wording asks for a sum or a difference, two cited figures of one unit
give it, qualifiers carry into the result, and the verifier recomputes it."""

from __future__ import annotations

import pytest

from service.reader.arithmetic import Figure, check, compute, operation
from service.reader.base import Found


def _found(text: str, sentence: int, confidence: float = 0.9) -> Found:
    start = 10 * len(text)  # two figures of one sentence sit at different places
    return Found(sentence, start, start + len(text), text, "CARDINAL", 1.0, confidence)


@pytest.mark.parametrize(("question", "op"), [
    ("How many US troops are in Iraq and Syria combined?", "sum"),
    ("how many troops in total in iraq and syria", "sum"),
    ("How many more troops are in Iraq than in Syria?", "difference"),
    ("What's the difference between the two figures?", "difference"),
    ("How many US troops are in Iraq?", None),
    ("What is the total cost?", None),  # a single stated figure, not arithmetic
])
def test_the_wording_says_what_to_compute(question, op):
    assert operation(question) == op


def test_a_sum_keeps_an_approximate_operand_honest():
    done = compute("How many US troops are in Iraq and Syria combined?",
                   [_found("2,500", 0), _found("some 900", 0)])
    assert done.result == "about 3,400"
    assert done.expression == "2,500 + some 900 = about 3,400"


def test_a_difference_is_larger_minus_smaller_and_keeps_the_unit():
    done = compute("How much more did the second plan cost?", [_found("$1.2 billion", 0), _found("$4.5 billion", 1)])
    assert done.result == "$3.3 billion" and done.operation == "difference"
    assert [f.text for f in done.operands] == ["$4.5 billion", "$1.2 billion"]


def test_lower_bounds_add_up_to_a_lower_bound():
    done = compute("How many attacks in total?", [_found("more than 165", 0), _found("over 40", 1)])
    assert done.result == "more than 205"


@pytest.mark.parametrize("cands", [
    [_found("2,500", 0)],  # one figure is never "computed"
    [_found("2,500", 0), _found("40%", 1)],  # no common unit
    [_found("2,500", 0), _found("2,500", 1)],  # the same figure twice
])
def test_no_computation_without_two_figures_of_one_unit(cands):
    assert compute("How many troops combined?", cands) is None


def test_the_verifier_recomputes_and_refuses_a_wrong_result():
    assert check(["2,500", "some 900"], "sum", "about 3,400")
    assert not check(["2,500", "some 900"], "sum", "3,400")
    assert not check(["2,500", "some 900"], "sum", "about 3,500")


def test_figures_parse_words_scales_and_percents():
    assert Figure.parse("three").value == 3
    assert Figure.parse("$4.65 billion").unit == ("$", "billion", False)
    assert Figure.parse("60%").unit == ("", "", True)
    assert Figure.parse("January 27") is None
